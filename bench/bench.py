"""Gust's benchmark harness: each scenario runs Gust and its references side by side in one run,
with wrk as the load generator in a separate process, and the results go to BENCHMARKS.md."""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUST = ROOT / "target/release/gust"
NATIVE = ROOT / "target/release/native-hello"
GUESTS = ROOT / "examples/target/wasm32-wasip2/release"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid):
    """User + system CPU time of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextmanager
def process(args, **kwargs):
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def gust_server(*extra_args):
    data = tempfile.mkdtemp(prefix="gust-bench-")
    port = free_port()
    env = dict(os.environ, GUST_LOG="warn")
    args = [GUST, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, *extra_args]
    with process(args, env=env) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/v1/openapi.json")
        deploy = [GUST, "deploy", "hello", GUESTS / "hello.wasm", "--public"]
        subprocess.run(deploy, check=True, capture_output=True,
                       env=dict(os.environ, GUST_SERVER=base, GUST_DATA_DIR=data))
        yield proc, base + "/fn/hello"
    shutil.rmtree(data, ignore_errors=True)


@contextmanager
def wasmtime_serve():
    port = free_port()
    args = ["wasmtime", "serve", "-Scli", "--addr", f"127.0.0.1:{port}", GUESTS / "hello.wasm"]
    with process(args) as proc:
        url = f"http://127.0.0.1:{port}/"
        wait_until_up(url)
        yield proc, url


@contextmanager
def native_hello():
    port = free_port()
    with process([NATIVE, f"127.0.0.1:{port}"]) as proc:
        url = f"http://127.0.0.1:{port}/"
        wait_until_up(url)
        yield proc, url


SERVERS = {"gust": gust_server, "wasmtime serve": wasmtime_serve, "native hyper": native_hello}


def parse_latency(text, label):
    match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


def wrk(url, connections, seconds, pid):
    threads = 1 if connections == 1 else 2
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_us": parse_latency(out, "50"),
        "p99_us": parse_latency(out, "99"),
        "cpu_us_per_req": cpu * 1e6 / max(requests, 1),
    }


def summary(samples, key):
    values = [s[key] for s in samples]
    return statistics.median(values), min(values), max(values)


def warm_throughput(runs, seconds):
    """Scenario 1: warm hello-world, 1 and 32 connections, Gust beside its references."""
    results = {}
    for name, server in SERVERS.items():
        with server() as (proc, url):
            wrk(url, 32, 1, proc.pid)  # warm-up: code loaded, caches hot
            for connections in (1, 32):
                samples = [wrk(url, connections, seconds, proc.pid) for _ in range(runs)]
                results[(name, connections)] = samples
                rps = summary(samples, "rps")[0]
                print(f"  {name:15} c={connections:<3} {rps:>10.0f} req/s", file=sys.stderr)
    return results


def load_cells(samples):
    """Table cells of a set of wrk runs: req/s with spread, p50, p99, CPU per request."""
    rps, lo, hi = summary(samples, "rps")
    p50 = summary(samples, "p50_us")[0]
    p99 = summary(samples, "p99_us")[0]
    cpu = summary(samples, "cpu_us_per_req")[0]
    return f"{rps:,.0f} ({lo:,.0f}–{hi:,.0f}) | {p50:.0f} | {p99:.0f} | {cpu:.1f}"


def format_warm(results, runs, seconds):
    lines = [
        "| server | connections | req/s (median, min–max) | p50 µs | p99 µs | CPU µs/req |",
        "|---|---|---|---|---|---|",
    ]
    for (name, connections), samples in results.items():
        lines.append(f"| {name} | {connections} | {load_cells(samples)} |")
    gust32 = summary(results[("gust", 32)], "rps")[0]
    wasmtime32 = summary(results[("wasmtime serve", 32)], "rps")[0]
    native32 = summary(results[("native hyper", 32)], "rps")[0]
    lines.append("")
    lines.append(f"At 32 connections Gust serves {gust32 / wasmtime32:.2f}× the requests of "
                 f"`wasmtime serve` and {100 * gust32 / native32:.0f}% of native hyper. "
                 f"{runs} runs of {seconds} s each per row.")
    return "\n".join(lines)


def metering_overhead(runs, seconds):
    """Warm hello-world at 32 connections with metering on and off, the runs interleaved."""
    samples = {"on": [], "off": []}
    with gust_server() as (on, on_url), gust_server("--no-metering") as (off, off_url):
        for proc, url in ((on, on_url), (off, off_url)):
            wrk(url, 32, 1, proc.pid)
        for _ in range(runs):
            samples["on"].append(wrk(on_url, 32, seconds, on.pid))
            samples["off"].append(wrk(off_url, 32, seconds, off.pid))
    for mode in samples:
        print(f"  metering {mode:3} {summary(samples[mode], 'rps')[0]:>10.0f} req/s", file=sys.stderr)
    return samples


def format_metering(samples, runs, seconds):
    lines = [
        "| metering | req/s (median, min–max) | p50 µs | p99 µs | CPU µs/req |",
        "|---|---|---|---|---|",
    ]
    for mode in ("on", "off"):
        lines.append(f"| {mode} | {load_cells(samples[mode])} |")
    # Runs are paired (on, then off, back to back): the median of the pairs' ratios is less
    # sensitive to the machine's drift than the ratio of medians.
    ratios = [a["rps"] / b["rps"] for a, b in zip(samples["on"], samples["off"])]
    ratio = statistics.median(ratios)
    lines.append("")
    lines.append(f"With metering on Gust serves {100 * ratio:.1f}% of its throughput with metering "
                 f"off (median of {runs} paired runs of {seconds} s; pairs range "
                 f"{100 * min(ratios):.1f}–{100 * max(ratios):.1f}%).")
    return "\n".join(lines)


POST_SCRIPT = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def admin_get(base, token, path):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def metric(text, name):
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def enqueue_rates(url, runs, seconds):
    """Accepted invocations per second over `runs` wrk runs of POST /async/...; and in all."""
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(POST_SCRIPT)
    rates, accepted = [], 0
    for _ in range(runs):
        out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script, url],
                             check=True, capture_output=True, text=True).stdout
        if re.search(r"Non-2xx or 3xx responses", out):
            raise RuntimeError("an enqueue was refused")
        accepted += int(re.search(r"(\d+) requests in", out).group(1))
        rates.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
    return rates, accepted


def async_queue(runs, seconds):
    """Durable enqueue rate at 32 connections (on a node that only accepts, and on one that
    also runs the queue), then 202-to-completion latency one invocation at a time."""
    with gust_server("--async-workers", "0") as (_, url):
        accept_only, _ = enqueue_rates(url.replace("/fn/", "/async/"), runs, seconds)
    with gust_server() as (proc, url):
        base = url.rsplit("/fn/", 1)[0]
        data = Path(proc.args[proc.args.index("--data-dir") + 1])
        token = (data / "admin.token").read_text().strip()
        async_url = base + "/async/hello"
        rates, accepted = enqueue_rates(async_url, runs, seconds)
        # Nothing lost: every accepted invocation runs to success.
        deadline = time.time() + 600
        while True:
            text = urllib.request.urlopen(base + "/metrics").read().decode()
            done = metric(text, 'gust_invocations_total{function="hello",status="ok"}')
            if done >= accepted or time.time() > deadline:
                break
            time.sleep(0.5)
        depth = metric(text, "gust_async_queue_depth")
        latencies = []
        for _ in range(200 if runs > 1 else 20):
            request = urllib.request.Request(async_url, data=b"{}", method="POST")
            invocation = json.loads(urllib.request.urlopen(request).read())["id"]
            while True:
                view = json.loads(admin_get(base, token, f"/v1/invocations/{invocation}"))
                if view["state"] == "succeeded":
                    latencies.append(view["finished_at_ms"] - view["enqueued_at_ms"])
                    break
                time.sleep(0.001)
    print(f"  enqueue {statistics.median(accept_only):>10.0f} accepted/s accepting only, "
          f"{statistics.median(rates):.0f} while running the queue; "
          f"{int(done)}/{accepted} completed", file=sys.stderr)
    return {"accept_only": accept_only, "rates": rates, "accepted": accepted,
            "completed": int(done), "depth": depth, "latencies": sorted(latencies)}


def format_async(result, runs, seconds):
    def spread(rates):
        return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"

    lat = result["latencies"]
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return "\n".join([
        "| measure | value |",
        "|---|---|",
        f"| accepted per second, node only accepting (`--async-workers 0`) | "
        f"{spread(result['accept_only'])} |",
        f"| accepted per second, node also running the queue | {spread(result['rates'])} |",
        f"| accepted in all / completed successfully | {result['accepted']:,} / {result['completed']:,} |",
        f"| queue depth after draining | {result['depth']:.0f} |",
        f"| 202 to completion at low load, p50 / p99 ({len(lat)} one at a time) | {p50} ms / {p99} ms |",
    ])


def first_byte_us(url):
    """Microseconds from sending a GET on a new connection to the first byte of the answer."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    with socket.create_connection((host, int(port))) as conn:
        start = time.perf_counter()
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        conn.recv(1)
        elapsed = time.perf_counter() - start
        while conn.recv(65536):
            pass
    return elapsed * 1e6


def cold_starts(runs):
    """First request after a deploy (and the deploy's compile), after a restart (code from the
    AOT cache), against a warm request, each on a fresh data directory."""
    samples = {"deploy": [], "after_deploy": [], "warm": [], "after_restart": []}
    for _ in range(runs):
        data = tempfile.mkdtemp(prefix="gust-cold-")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args = [GUST, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data]
        env = dict(os.environ, GUST_LOG="warn", GUST_SERVER=base, GUST_DATA_DIR=data)
        with process(args, env=env):
            wait_until_up(base + "/healthz")
            start = time.perf_counter()
            subprocess.run([GUST, "deploy", "hello", GUESTS / "hello.wasm", "--public"],
                           check=True, capture_output=True, env=env)
            samples["deploy"].append((time.perf_counter() - start) * 1e6)
            samples["after_deploy"].append(first_byte_us(base + "/fn/hello"))
            warm = [first_byte_us(base + "/fn/hello") for _ in range(50)]
            samples["warm"].append(statistics.median(warm))
        with process(args, env=env):
            wait_until_up(base + "/healthz")
            samples["after_restart"].append(first_byte_us(base + "/fn/hello"))
        shutil.rmtree(data, ignore_errors=True)
    print(f"  after restart {statistics.median(samples['after_restart']):.0f} µs, "
          f"warm {statistics.median(samples['warm']):.0f} µs", file=sys.stderr)
    return samples


def format_cold(samples, runs):
    def row(label, key):
        values = samples[key]
        return (f"| {label} | {statistics.median(values):,.0f} | "
                f"{min(values):,.0f}–{max(values):,.0f} |")
    warm = statistics.median(samples["warm"])
    restart = statistics.median(samples["after_restart"])
    return "\n".join([
        "| request | median µs | min–max µs |",
        "|---|---|---|",
        row("`gust deploy` of hello (upload, validation, compile, durable write; CLI included)",
            "deploy"),
        row("first request after the deploy (compiled at deploy: first instance)", "after_deploy"),
        row("first request after a restart (code loaded from the AOT cache)", "after_restart"),
        row("warm request (median of 50 per run)", "warm"),
        "",
        f"A request after a restart pays {restart - warm:,.0f} µs over a warm one. {runs} runs, "
        "each on a fresh data directory; every request opens its own connection. Scale to zero "
        "does not exist yet (a loaded version stays loaded), so that case is not measured.",
    ])


def machine():
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    wasmtime = subprocess.run(["wasmtime", "--version"], capture_output=True, text=True).stdout.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {platform.machine()} "
            f"Linux {platform.release()}; {rustc}; {wasmtime}; {wrk_v.split(' [')[0]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short run per scenario")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    runs, seconds = (1, 2) if args.quick else (3, 10)

    print("warm throughput and latency", file=sys.stderr)
    warm = warm_throughput(runs, seconds)
    print("metering overhead", file=sys.stderr)
    metering = metering_overhead(runs if args.quick else 7, seconds)
    print("asynchronous queue", file=sys.stderr)
    queue = async_queue(runs, seconds)
    print("cold starts", file=sys.stderr)
    cold = cold_starts(3 if args.quick else 10)
    report = "\n".join([
        "# Benchmarks",
        "",
        "Written by `bench/run` (the numbers below are from its last full run; "
        "`bench/run --quick` is CI's smoke run). Gust and its references run side by side in "
        "one run, on the same machine as the load generator (wrk).",
        "",
        f"Machine: {machine()}.",
        "",
        "## Warm hello-world: throughput and latency",
        "",
        "The `examples/hello` component answering `Hello, world!`, served by Gust "
        "(`/fn/hello`, public), by `wasmtime serve -Scli` (same component, same wasmtime "
        "version) and by a native hyper server (`bench/native-hello`, the ceiling). "
        f"Command per row: `wrk -t{{1|2}} -c{{1|32}} -d{seconds}s --latency URL`; CPU is "
        "the server process's user+system time over the run divided by requests served.",
        "",
        format_warm(warm, runs, seconds),
        "",
        "## Metering overhead",
        "",
        "The same hello-world at 32 connections on two Gust servers running at once, one "
        "metering (invocation records, Prometheus metrics, `x-gust-billed-ms`) and one started "
        "with `--no-metering`; wrk runs alternate between them.",
        "",
        format_metering(metering, 1 if args.quick else 7, seconds),
        "",
        "## Asynchronous invocations",
        "",
        "`POST /async/hello` (the hello component as a no-op) at 32 connections, median and "
        "min–max of the runs: "
        f"`wrk -t2 -c32 -d{seconds}s -s post.lua URL`, where post.lua makes each request a POST "
        "with a small JSON body. Each 202 means the invocation is committed to SQLite. First on a "
        "node that only accepts, then on a node whose workers run the queue on the same two cores "
        "while it fills. Afterwards the harness waits until "
        "every accepted invocation has succeeded (counted from `/metrics`), then measures "
        "202-to-completion one invocation at a time (`finished_at_ms - enqueued_at_ms` of "
        "`GET /v1/invocations/ID`, millisecond resolution).",
        "",
        format_async(queue, runs, seconds),
        "",
        "## Cold starts",
        "",
        "Time to the first byte, measured by the harness with a raw socket (request sent to first "
        "byte received) on the same machine.",
        "",
        format_cold(cold, 3 if args.quick else 10),
        "",
        (ROOT / "bench/notes.md").read_text(),
    ])
    if args.quick:
        print(report)
    else:
        Path(args.output).write_text(report)
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
