"""The web API use case: the todo API's GET through its routes and alias at 32 connections
(with /fn/hello on the same server as the floor), key-value calls timed inside a guest, and
atomic increments per second under 32 connections."""

import json
import os
import subprocess
import urllib.request

from common import GUESTS, GUST, ROOT, admin_of, gust_server, load_cells, wrk

TODOS = 20
CALLS = 2000


def cli(admin, *args):
    env = dict(os.environ, GUST_SERVER=admin.base, GUST_TOKEN=admin.token)
    return subprocess.run([GUST, *map(str, args)], check=True, capture_output=True, text=True,
                          env=env).stdout


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=30).read())


def web_api(runs, seconds):
    """Everything on one server: the todo API deployed by its own script, the counter and the
    probe granted their stores."""
    with gust_server() as (proc, hello_url):
        admin = admin_of(proc, hello_url)
        env = dict(os.environ, GUST_SERVER=admin.base, GUST_TOKEN=admin.token)
        subprocess.run([ROOT / "examples/todo-api/deploy.sh", GUST, GUESTS / "todo_api.wasm"],
                       check=True, capture_output=True, env=env)
        ids = [post_json(admin.base + "/api/todos", {"title": f"todo {n}"})["id"]
               for n in range(TODOS)]
        cli(admin, "deploy", "counter", GUESTS / "counter.wasm", "--public", "--kv", "counters")
        cli(admin, "deploy", "kv-probe", GUESTS / "kv_probe.wasm", "--public", "--kv", "bench")
        targets = {
            "/fn/hello (floor)": hello_url,
            "GET /api/todos/{id} (route → todo-api@live, one KV get)":
                f"{admin.base}/api/todos/{ids[0]}",
            f"GET /api/todos ({TODOS} todos: a key page and a batch get)":
                admin.base + "/api/todos",
        }
        loads = {label: [] for label in targets}
        for label, url in targets.items():
            wrk(url, 32, 1, proc.pid)
        for _ in range(runs):
            for label, url in targets.items():
                loads[label].append(wrk(url, 32, seconds, proc.pid))
        per_call = {}
        for op in ("get", "set", "increment"):
            url = f"{admin.base}/fn/kv-probe?op={op}&n={CALLS}"
            urllib.request.urlopen(url, timeout=60).read()
            samples = [json.loads(urllib.request.urlopen(url, timeout=60).read())["per_call_us"]
                       for _ in range(max(runs, 3))]
            per_call[op] = sorted(samples)[len(samples) // 2]
        counter = admin.base + "/fn/counter?key=bench"
        increments = [wrk(counter, 32, seconds, proc.pid) for _ in range(runs)]
        counted = int(cli(admin, "kv", "get", "counters", "bench"))
    return loads, per_call, increments, counted


def format_web_api(loads, per_call, increments, counted):
    answered = sum(run["requests"] for run in increments)
    in_flight = 32 * len(increments)
    verdict = ("every increment counted" if answered <= counted <= answered + in_flight
               else "INCREMENTS LOST OR DOUBLED")
    rows = ["| target, 32 connections | req/s (median, min–max) | p50 µs | p99 µs | CPU µs/req |",
            "|---|---|---|---|---|"]
    rows += [f"| {label} | {load_cells(samples)} |" for label, samples in loads.items()]
    rows += ["", "| key-value call from a guest | µs per call (median of runs) |", "|---|---|"]
    rows += [f"| {op} ({CALLS:,} calls in one invocation) | {us:.1f} |"
             for op, us in per_call.items()]
    rows += ["", "| atomic increments, 32 connections | increments/s (median, min–max) | p50 µs "
             "| p99 µs | CPU µs/req |", "|---|---|---|---|---|",
             f"| `/fn/counter` (one `increment` per request) | {load_cells(increments)} |", "",
             f"The key holds {counted:,} after the runs, for {answered:,} answers wrk counted "
             "(it leaves out the answers still on the way when a run ends, at most 32 a run): "
             f"{verdict}."]
    return "\n".join(rows)
