"""Scenarios of the process runtime and of autoscaling: cold starts of a Python function
(against starting the same program by hand), warm latency through the proxy (against calling
the program directly), scale to zero of a Wasm function, and a step load with its plot."""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from common import (GUESTS, GUST, NATIVE, ROOT, admin_of, first_byte_us, free_port, gust_server,
                    percentile, process, wrk)
from svg_plot import line_chart

PYTHON_DIR = ROOT / "examples/process/python-http"


def gust_cli(admin, *args):
    env = dict(os.environ, GUST_SERVER=admin.base, GUST_TOKEN=admin.token)
    subprocess.run([GUST, *args], check=True, capture_output=True, env=env)


def deploy_python(admin, name, *flags):
    gust_cli(admin, "deploy", name, PYTHON_DIR, "--runtime", "process",
             "--command", "python3 handler.py", "--public", *flags)


@contextmanager
def server():
    """A Gust server (its hello component deployed), and how to reach its API."""
    with gust_server() as (proc, url):
        yield proc, admin_of(proc, url)


@contextmanager
def python_direct():
    """The example program started by hand, as a reference, and the time it took to answer."""
    port = free_port()
    env = dict(os.environ, PORT=str(port))
    start = time.perf_counter()
    with process(["python3", "handler.py"], cwd=PYTHON_DIR, env=env) as proc:
        url = f"http://127.0.0.1:{port}/"
        while True:
            try:
                first_byte_us(url)
                break
            except OSError:
                time.sleep(0.0005)
        yield proc, url, (time.perf_counter() - start) * 1e6


def deploy_native(admin, name, folder):
    gust_cli(admin, "deploy", name, folder, "--runtime", "process", "--command",
             "./native-hello 127.0.0.1:$PORT", "--public")


def cold_starts(runs):
    """First request to a Python function with no warm instance (each deploy is a new
    function of the same artifact), against starting the program by hand; the same for a
    native program (bench/native-hello), whose own start is nearly nothing, so that what
    remains is the platform's (namespaces, network, cgroup, ready probe, proxy); and the first
    request to a Wasm function that was scaled to zero, against a warm one."""
    gust, direct, native = [], [], []
    wasm_cold, wasm_warm = [], []
    native_dir = Path(tempfile.mkdtemp(prefix="gust-native-"))
    shutil.copy(NATIVE, native_dir / "native-hello")
    with server() as (_, admin):
        base = admin.base
        for i in range(runs):
            deploy_python(admin, f"py-{i}")
            gust.append(first_byte_us(f"{base}/fn/py-{i}/"))
            with python_direct() as (_, _url, ready_us):
                direct.append(ready_us)
            deploy_native(admin, f"native-{i}", native_dir)
            native.append(first_byte_us(f"{base}/fn/native-{i}/"))
        gust_cli(admin, "deploy", "idle", GUESTS / "hello.wasm", "--public",
                 "--idle-timeout", "1s")
        for _ in range(max(3, runs // 3)):
            first_byte_us(f"{base}/fn/idle")
            wasm_warm.append(statistics.median(first_byte_us(f"{base}/fn/idle") for _ in range(20)))
            wait_for_instances(admin, "idle", lambda warm: warm == 0)
            wasm_cold.append(first_byte_us(f"{base}/fn/idle"))
    shutil.rmtree(native_dir, ignore_errors=True)
    print(f"  python cold start p50 {statistics.median(gust) / 1000:.1f} ms via Gust, "
          f"{statistics.median(direct) / 1000:.1f} ms by hand; native "
          f"{statistics.median(native) / 1000:.1f} ms via Gust; wasm after scale to zero "
          f"{statistics.median(wasm_cold):.0f} µs", file=sys.stderr)
    return {"gust": gust, "direct": direct, "native": native, "wasm_cold": wasm_cold,
            "wasm_warm": wasm_warm}


def format_cold(result, runs):
    def row(label, values, scale, unit):
        return (f"| {label} | {statistics.median(values) / scale:,.1f} {unit} | "
                f"{percentile(values, 0.99) / scale:,.1f} {unit} |")
    extra = statistics.median(result["wasm_cold"]) - statistics.median(result["wasm_warm"])
    return "\n".join([
        "| first byte of | p50 | p99 |",
        "|---|---|---|",
        row("Python HTTP function, no warm instance, through Gust (sandbox, start, ready "
            "probe, proxy)", result["gust"], 1000, "ms"),
        row("the same program started by hand, until it answers (the floor)", result["direct"],
            1000, "ms"),
        row("native HTTP program (`bench/native-hello`), no warm instance, through Gust: the "
            "platform's own cost", result["native"], 1000, "ms"),
        row("Wasm hello after scale to zero (code reloaded from the AOT cache)",
            result["wasm_cold"], 1, "µs"),
        row("Wasm hello, warm, same server", result["wasm_warm"], 1, "µs"),
        "",
        f"{runs} cold starts of each program, each the first request of a new function (same "
        "artifact); the sandbox gives each instance its own network namespace, reached through "
        "sockets Gust makes inside it, and an egress proxy. "
        f"A Wasm request after scale to zero pays {extra:,.0f} µs over a warm one "
        f"({len(result['wasm_cold'])} runs; the function has `--idle-timeout 1s`). Every "
        "request opens its own connection; the Python reference starts `python3 handler.py` "
        "with `subprocess` and polls until the first byte arrives.",
    ])


def warm_latency(seconds):
    """wrk at one connection through Gust's proxy and straight to the program."""
    result = {}
    with server() as (proc, admin):
        deploy_python(admin, "py")
        url = f"{admin.base}/fn/py/"
        wrk(url, 1, 1, proc.pid)
        result["gust"] = wrk(url, 1, seconds, proc.pid)
    with python_direct() as (proc, url, _):
        wrk(url, 1, 1, proc.pid)
        result["direct"] = wrk(url, 1, seconds, proc.pid)
    print(f"  warm python p50 {result['gust']['p50_us']:.0f} µs via Gust, "
          f"{result['direct']['p50_us']:.0f} µs direct", file=sys.stderr)
    return result


def format_warm(result, seconds):
    lines = ["| path | req/s | p50 µs | p99 µs |", "|---|---|---|---|"]
    for name, label in (("gust", "through Gust (`/fn/py/`)"), ("direct", "straight to the program")):
        r = result[name]
        lines.append(f"| {label} | {r['rps']:,.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} |")
    added = result["gust"]["p50_us"] - result["direct"]["p50_us"]
    lines += ["", f"The proxy adds {added:.0f} µs at p50. `wrk -t1 -c1 -d{seconds}s --latency`, "
              "one run each, the program being the Python example (`ThreadingHTTPServer`)."]
    return "\n".join(lines)


def wait_for_instances(admin, name, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check(instances(admin, name)[0]):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name}: instances never matched")


def instances(admin, name):
    request = urllib.request.Request(f"{admin.base}/v1/functions/{name}",
                                     headers={"Authorization": f"Bearer {admin.token}"})
    status = json.loads(urllib.request.urlopen(request, timeout=10).read())
    return status["instances"]["warm"], status["instances"]["busy"]


def descendants_pss_mib(pid):
    """Memory of every process below `pid` (the functions' sandboxes), in MiB: proportional
    set size, so that pages they share (the interpreter, the sandbox helper) count once."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        todo.extend(children.get(child, []))
        try:
            rollup = Path(f"/proc/{child}/smaps_rollup").read_text()
            total += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))
        except (OSError, AttributeError):
            pass
    return total / 1024


def counters(base, name):
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    ok = re.search(rf'^gust_invocations_total{{function="{name}",status="ok",version="1"}} (\S+)$', text, re.M)
    throttled = re.search(rf'^gust_throttled_total{{function="{name}",version="1"}} (\S+)$', text, re.M)
    return (float(ok.group(1)) if ok else 0.0), (float(throttled.group(1)) if throttled else 0.0)


def step_load(quick):
    """0 → 32 connections → 0 against a Python function limited to 16 instances (and 16
    running requests, 8 waiting): instances, answers, 429s and memory over time."""
    idle_before, load, idle_timeout, after = (1, 3, 2, 5) if quick else (3, 10, 5, 12)
    samples = []
    with server() as (proc, admin):
        base = admin.base
        deploy_python(admin, "step", "--max-instances", "16", "--max-concurrency", "16",
                      "--queue-size", "8", "--queue-timeout", "100ms",
                      "--idle-timeout", f"{idle_timeout}s")
        stop = threading.Event()
        start = time.perf_counter()

        def sample():
            while not stop.is_set():
                warm, busy = instances(admin, "step")
                ok, throttled = counters(base, "step")
                samples.append((time.perf_counter() - start, warm, busy, ok, throttled,
                                descendants_pss_mib(proc.pid)))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        time.sleep(idle_before)
        load_start = time.perf_counter() - start
        out = subprocess.run(["wrk", "-t2", "-c32", f"-d{load}s", f"{base}/fn/step/"],
                             capture_output=True, text=True, check=True).stdout
        load_end = time.perf_counter() - start
        time.sleep(after)
        stop.set()
        sampler.join()
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    result = {"samples": samples, "load": (load_start, load_end), "requests": total,
              "throttled": int(non_2xx.group(1)) if non_2xx else 0, "idle_timeout": idle_timeout}
    peak = max(s[1] for s in samples)
    print(f"  step load: peak {peak} instances, {total} requests, "
          f"{result['throttled']} answered 429", file=sys.stderr)
    return result


def step_plot(result):
    samples = result["samples"]
    times = [s[0] for s in samples]
    rate = lambda column: [0.0] + [max(0.0, (b[column] - a[column]) / (b[0] - a[0]))
                                   for a, b in zip(samples, samples[1:])]
    load_start, load_end = result["load"]
    return line_chart(
        "Step load on a Python function: 0 → 32 connections → 0",
        times,
        [("instances", {"warm": [s[1] for s in samples], "busy": [s[2] for s in samples]}),
         ("answered per second", {"200": rate(3)}),
         ("refused per second", {"429": rate(4)}),
         ("MiB (PSS)", {"function processes": [s[5] for s in samples]})],
        marks=[(load_start, "32 connections"), (load_end, "load stops"),
               (load_end + result["idle_timeout"], "idle timeout")])


def format_step(result, plot_name):
    samples = result["samples"]
    load_start, load_end = result["load"]
    peak = max(s[1] for s in samples)
    peak_mem = max(s[5] for s in samples)
    end = samples[-1]
    zero_at = next((s[0] for s in samples if s[0] > load_end and s[1] == 0), None)
    zero_text = (f"{zero_at - load_end:.1f} s after the load stopped" if zero_at
                 else "not within the run")
    return "\n".join([
        f"![instances, answers and memory over time]({plot_name})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests in the step ({load_end - load_start:.0f} s, wrk -c32) | {result['requests']:,} |",
        f"| of which refused with 429 (queue full or waited > 100 ms) | {result['throttled']:,} |",
        f"| peak instances (limit 16) | {peak} |",
        f"| peak memory of the function's processes (PSS) | {peak_mem:.0f} MiB |",
        f"| back to zero instances | {zero_text} (idle timeout {result['idle_timeout']} s) |",
        f"| memory of function processes at the end | {end[5]:.0f} MiB |",
    ])
