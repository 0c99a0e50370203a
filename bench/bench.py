"""Gust's benchmark harness: each scenario runs Gust and its references side by side in one run,
with wrk as the load generator in a separate process, and the results go to BENCHMARKS.md."""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import bucket_bench
import cluster_bench
import density_bench
import process_bench
import route_bench
import web_bench
import stream_bench
import trace_bench
from common import (GUESTS, GUST, NATIVE, POST_SCRIPT, ROOT, UNCAPPED_BACKLOG, admin_get,
                    admin_of, first_byte_us, free_port, gust_server, load_cells, process, summary,
                    wait_until_up, wrk)
from paired import PAIRS_PER_START, format_paired, paired_runs


@contextmanager
def wasmtime_serve(*extra_args):
    port = free_port()
    args = ["wasmtime", "serve", "-Scli", *extra_args, "--addr", f"127.0.0.1:{port}",
            GUESTS / "hello.wasm"]
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


REUSE = "wasmtime serve, reuse"
SERVERS = {
    "gust": gust_server,
    "wasmtime serve": wasmtime_serve,
    # The same with instances reused as Gust reuses them (wasmtime's default is a fresh one).
    REUSE: lambda: wasmtime_serve("--max-instance-reuse-count", "1000"),
    "native hyper": native_hello,
}


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


def format_warm(results, runs, seconds):
    lines = [
        "| server | connections | req/s (median, min–max) | p50 µs | p99 µs | CPU µs/req |",
        "|---|---|---|---|---|---|",
    ]
    for (name, connections), samples in results.items():
        lines.append(f"| {name} | {connections} | {load_cells(samples)} |")
    gust32 = summary(results[("gust", 32)], "rps")[0]
    wasmtime32 = summary(results[("wasmtime serve", 32)], "rps")[0]
    reuse32 = summary(results[(REUSE, 32)], "rps")[0]
    native32 = summary(results[("native hyper", 32)], "rps")[0]
    lines.append("")
    lines.append(f"At 32 connections Gust serves {gust32 / wasmtime32:.2f}× the requests of "
                 f"`wasmtime serve` (a fresh instance per request, its default), "
                 f"{gust32 / reuse32:.2f}× those of `wasmtime serve --max-instance-reuse-count "
                 f"1000` and {100 * gust32 / native32:.0f}% of native hyper. "
                 f"{runs} runs of {seconds} s each per row.")
    return "\n".join(lines)


def metering_overhead(pairs, seconds):
    """Warm hello-world on a metering server beside one started with `--no-metering`."""
    servers = {"metering on": gust_server, "metering off": lambda: gust_server("--no-metering")}
    return paired_runs(servers, pairs, seconds)


def against_baseline(baseline, pairs, seconds):
    """Warm hello-world on this build beside the build of an earlier revision."""
    servers = {"this build": gust_server, f"`{baseline.name}`": lambda: gust_server(binary=baseline)}
    return paired_runs(servers, pairs, seconds)


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
    with gust_server("--async-workers", "0", *UNCAPPED_BACKLOG) as (_, url):
        accept_only, _ = enqueue_rates(url.replace("/fn/", "/async/"), runs, seconds)
    with gust_server(*UNCAPPED_BACKLOG) as (proc, url):
        base, token = admin_of(proc, url)
        async_url = base + "/async/hello"
        rates, accepted = enqueue_rates(async_url, runs, seconds)
        # Nothing lost: every accepted invocation runs to success.
        deadline = time.time() + 600
        while True:
            text = urllib.request.urlopen(base + "/metrics").read().decode()
            done = metric(text, 'gust_invocations_total{function="hello",status="ok",version="1"}')
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
        f"| accepted in all / completed successfully (wrk counts only the answers it read before "
        f"stopping, so a few more were accepted) | {result['accepted']:,} / {result['completed']:,} |",
        f"| queue depth after draining | {result['depth']:.0f} |",
        f"| 202 to completion at low load, p50 / p99 ({len(lat)} one at a time) | {p50} ms / {p99} ms |",
    ])


def cold_starts(runs):
    """First request after a deploy (and the deploy's compile), after a restart (the function
    reloaded at start, and with reloading off: code from the AOT cache on the request), against
    a warm request, each on a fresh data directory."""
    samples = {"deploy": [], "deploy_cached": [], "after_deploy": [], "warm": [],
               "after_restart": [], "after_restart_unloaded": []}
    for _ in range(runs):
        data = tempfile.mkdtemp(prefix="gust-cold-")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args = [GUST, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                "--s3-listen", "off"]
        env = dict(os.environ, GUST_LOG="warn", GUST_SERVER=base, GUST_DATA_DIR=data)
        with process(args, env=env):
            wait_until_up(base + "/healthz")
            start = time.perf_counter()
            subprocess.run([GUST, "deploy", "hello", GUESTS / "hello.wasm", "--public"],
                           check=True, capture_output=True, env=env)
            samples["deploy"].append((time.perf_counter() - start) * 1e6)
            # The same artifact under another name: everything but the compile.
            start = time.perf_counter()
            subprocess.run([GUST, "deploy", "again", GUESTS / "hello.wasm", "--public"],
                           check=True, capture_output=True, env=env)
            samples["deploy_cached"].append((time.perf_counter() - start) * 1e6)
            samples["after_deploy"].append(first_byte_us(base + "/fn/hello"))
            warm = [first_byte_us(base + "/fn/hello") for _ in range(50)]
            samples["warm"].append(statistics.median(warm))
        with process(args, env=env):
            wait_until_up(base + "/healthz")
            samples["after_restart"].append(first_byte_us(base + "/fn/hello"))
        with process(args + ["--reload-recent", "0"], env=env):
            wait_until_up(base + "/healthz")
            samples["after_restart_unloaded"].append(first_byte_us(base + "/fn/hello"))
        shutil.rmtree(data, ignore_errors=True)
    print(f"  after restart {statistics.median(samples['after_restart']):.0f} µs "
          f"({statistics.median(samples['after_restart_unloaded']):.0f} µs not reloaded), "
          f"warm {statistics.median(samples['warm']):.0f} µs", file=sys.stderr)
    return samples


def format_cold(samples, runs):
    def row(label, key):
        values = samples[key]
        return (f"| {label} | {statistics.median(values):,.0f} | "
                f"{min(values):,.0f}–{max(values):,.0f} |")
    warm = statistics.median(samples["warm"])
    restart = statistics.median(samples["after_restart"])
    unloaded = statistics.median(samples["after_restart_unloaded"])
    after_deploy = statistics.median(samples["after_deploy"])
    compile_us = statistics.median(samples["deploy"]) - statistics.median(samples["deploy_cached"])
    return "\n".join([
        "| request | median µs | min–max µs |",
        "|---|---|---|",
        row("`gust deploy` of hello (upload, validation, compile, durable write; CLI included)",
            "deploy"),
        row("`gust deploy` of the same artifact under a new name (everything but the compile)",
            "deploy_cached"),
        row("first request after the deploy (code loaded from the AOT cache: a deployed "
            "version starts at zero)", "after_deploy"),
        row("first request after a restart (invoked within its idle timeout before it: "
            "reloaded at start)", "after_restart"),
        row("first request after a restart with `--reload-recent 0` (code loaded from the AOT "
            "cache on the request)", "after_restart_unloaded"),
        row("warm request (median of 50 per run)", "warm"),
        "",
        f"Compiling hello takes about {compile_us / 1000:,.0f} ms, paid by the deploy, never by a "
        f"request. The first request after a deploy pays {after_deploy - warm:,.0f} µs over a "
        f"warm one, after a restart {restart - warm:,.0f} µs ({unloaded - warm:,.0f} µs when not "
        f"reloaded). {runs} runs, each on a fresh data "
        "directory; every request opens its own connection. The first request after scale to "
        "zero is measured in the next section.",
    ])


def baseline_section(samples, binary, runs, seconds):
    """The report's lines on this build against an earlier one (`bench/run --baseline REV`)."""
    if samples is None:
        return []
    return [
        "## This build against an earlier one",
        "",
        f"`bench/run --baseline REV` builds revision REV too (here `{binary.name}`) and runs "
        "the metering scenario's comparison between the two builds: the same hello-world, "
        "both servers up at once, measured in turn, the order swapped every pair "
        f"(`wrk -t2 -c32 -d{seconds}s --latency URL`). It prices what changed in between, such "
        "as the hardening of the gateway (token scrubbing, scoped tokens, Gust's own "
        "connection limits).",
        "",
        format_paired(samples, "server", runs, seconds),
        "",
    ]


BUCKETS_TITLE = "## Buckets"


def bucket_section(args, seconds):
    """The buckets scenario and its section of the report."""
    quick = args.quick
    print("buckets", file=sys.stderr)
    latency = bucket_bench.start_latency(20 if quick else 200)
    small = bucket_bench.small_puts(seconds)
    large = bucket_bench.large_objects(*((32, 1) if quick else (256, 3)))
    return "\n".join([
        BUCKETS_TITLE,
        "",
        "One Gust server with its S3 endpoint; the S3 client (boto3, or wrk and curl on "
        "presigned URLs) on the same two cores. Upload-to-function-start: a 1 KiB PutObject "
        "at a time to a bucket whose uploads trigger `examples/stamp`, which logs the time it "
        "started; the wait is from the client's 200 to that time (same clock). Small objects: "
        f"`wrk -t2 -c32 -d{seconds}s -s put.lua PRESIGNED-URL`, a 1 KiB PUT each, every 200 "
        "with its event committed. Large objects: the median of the runs, beside the disk "
        "writing the same bytes as 8 MiB files, each fsynced (what the parts cost the disk "
        "at the least), and reading them back; before each read, the page cache of the "
        "files read is dropped (posix_fadvise DONTNEED), so both come off the disk. The "
        "small-file figure is what 32 Python threads get doing the steps of one durable "
        "upload; it is a measure of the disk, not a ceiling: the file system commits its "
        "journal for many fsyncs at once, and Gust keeps more of them in flight.",
        "",
        bucket_bench.format_buckets(latency, small, large),
        "",
    ])


STREAMS_TITLE = "## Stream triggers"


def stream_section(args, _seconds):
    """The stream triggers scenario and its section of the report."""
    quick = args.quick
    print("stream triggers", file=sys.stderr)
    result = stream_bench.stream_figures(quick)
    plot = "bench/stream-lag.svg"
    if not quick:
        (ROOT / plot).write_text(stream_bench.lag_plot(result["lag"]))
    return "\n".join([
        STREAMS_TITLE,
        "",
        "One Gust server and one broker (tansu 0.6 with in-memory storage, nats-server 2.14 "
        "with JetStream, mosquitto 2.0, redis-server 7.0), their clients (confluent-kafka, "
        "nats-py, mosquitto_pub, a socket speaking RESP) on the same two cores. Throughput: a "
        "4-partition topic filled beforehand, then a trigger from its start into the `echo` "
        "component; records delivered per second from the first delivery to the last "
        "(`gust_trigger_events_total`), broker included. Produce-to-function-start: one "
        "message every 20 ms into a trigger of `examples/stamp`, which logs when it started; "
        "the wait is from just before the send to that time (same clock). Lag: 1,000 records "
        "a second into a 2-partition topic read in batches of 100 by the Python process "
        "example (one instance); its processes are stopped (SIGSTOP) for 10 s, then let go. "
        "Lag is produced minus committed offsets, read from the broker every 250 ms.",
        "",
        stream_bench.format_streams(result, plot),
        "",
    ])


ROUTING_TITLE = "## Routing"


def routing_section(args, seconds):
    """The routing scenario and its section of the report."""
    quick = args.quick
    print("routing", file=sys.stderr)
    pairs = 2 if quick else 10
    samples = route_bench.routing_cost(pairs, seconds)
    return "\n".join([
        ROUTING_TITLE,
        "",
        "The hello component, called at `/fn/hello` and through a route (`GET /api/hello`) of "
        "the API gateway, defined after 1,000 others (`GET /svcN/items/{id}`), on one server; "
        "each pair measures both in turn at one connection, the order swapped every pair.",
        "",
        route_bench.format_routing(samples, pairs, seconds),
        "",
    ])


WEB_API_TITLE = "## Web API backends"


def web_api_section(args, seconds):
    """The web API scenario and its section of the report."""
    quick = args.quick
    print("web API", file=sys.stderr)
    runs = 1 if quick else 3
    loads, per_call, increments, counted = web_bench.web_api(runs, seconds)
    return "\n".join([
        WEB_API_TITLE,
        "",
        "examples/todo-api deployed by its own script (alias `live`, five routes, the `todos` "
        "store) with 20 todos; `wrk -t2 -c32` on each target in turn, the hello component at "
        "`/fn/hello` on the same server as the floor. Key-value calls are timed inside a guest "
        "(examples/kv-probe: one 100-byte value, store on the node's SQLite); increments per "
        "second are examples/counter under 32 connections.",
        "",
        web_bench.format_web_api(loads, per_call, increments, counted),
        "",
    ])


TRACES_TITLE = "## Traces"


def traces_section(args, _seconds):
    """The tracing scenario and its section of the report."""
    print("traces", file=sys.stderr)
    # Twice the pairs of the other paired scenarios: the differences sought are a few percent.
    pairs, seconds = (2, 2) if args.quick else (40, 2)
    samples, (exports, received) = trace_bench.tracing_cost(pairs, seconds, args.baseline_bin)
    lines = [
        TRACES_TITLE,
        "",
        "The hello-world at 32 connections on a server started with `--otlp-endpoint` and the "
        "default sampling (of the traces Gust starts, the first each second for each function "
        "and one in twenty of the rest; a recorded trace is a span per invocation and one per "
        "phase, batched and posted over OTLP/HTTP to a sink in the harness that takes them and "
        "keeps nothing) beside one with tracing off; both up at once, measured in turn, the "
        "order swapped every pair, both started afresh every "
        f"{PAIRS_PER_START} pairs: `wrk -t2 -c32 -d{seconds}s --latency URL`.",
        "",
        format_paired(samples[0], "server", pairs, seconds),
        "",
        "With `--trace-sample-ratio 1` (every trace recorded), the same way:",
        "",
        format_paired(samples[1], "server", pairs, seconds),
        "",
        f"The sink took {exports:,} exports ({received / 1e6:,.0f} MB of protobuf) over the "
        "runs that recorded every trace.",
        "",
    ]
    if args.baseline_bin:
        lines += [
            "Tracing off against the build before tracing was written "
            f"(`{args.baseline_bin.name}`, built by `bench/run --baseline`), the same way:",
            "",
            format_paired(samples[2], "server", pairs, seconds),
            "",
        ]
    return "\n".join(lines)


CLUSTER_TITLE = "## Cluster"


def cluster_section(args, seconds):
    """The cluster scenario and its section of the report."""
    print("cluster", file=sys.stderr)
    runs, deploys = (1, 3) if args.quick else (3, 30)
    figures = cluster_bench.cluster_figures(runs, seconds, deploys)
    section = cluster_bench.format_cluster(*figures, seconds, deploys)
    return "\n".join([CLUSTER_TITLE, "", section, ""])


SECTIONS = {"buckets": (BUCKETS_TITLE, bucket_section), "streams": (STREAMS_TITLE, stream_section),
            "routing": (ROUTING_TITLE, routing_section), "webapi": (WEB_API_TITLE, web_api_section),
            "traces": (TRACES_TITLE, traces_section), "cluster": (CLUSTER_TITLE, cluster_section)}


def only_section(name, args, seconds):
    """Runs one scenario alone and puts its section in the report, in place of the one there
    (the rest keeps the numbers of its own run)."""
    title, make = SECTIONS[name]
    section = make(args, seconds).replace(
        "\n\n|", f"\n\nThis section comes from `bench/run --only {name}`, run after the full "
        "run: the sections above keep the numbers of that one.\n\n|", 1)
    if args.quick:
        print(section)
        return
    report = Path(args.output).read_text()
    start = report.find(title)
    if start < 0:
        notes = report.index((ROOT / "bench/notes.md").read_text().splitlines()[0])
        report = report[:notes] + section + "\n" + report[notes:]
    else:
        end = report.index("\n## ", start + 1) + 1
        report = report[:start] + section + "\n" + report[end:]
    Path(args.output).write_text(report)
    print(f"wrote the {name} section of {args.output}", file=sys.stderr)


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
    parser.add_argument("--baseline-bin", type=Path,
                        help="the gust binary of an earlier revision, to compare warm throughput")
    parser.add_argument("--only", choices=sorted(SECTIONS),
                        help="run one scenario and replace its section of the report")
    args = parser.parse_args()
    runs, seconds = (1, 2) if args.quick else (3, 10)
    if args.only:
        return only_section(args.only, args, seconds)

    print("warm throughput and latency", file=sys.stderr)
    warm = warm_throughput(runs, seconds)
    print("metering overhead", file=sys.stderr)
    metering_pairs, metering_seconds = (2, 2) if args.quick else (30, 2)
    metering = metering_overhead(metering_pairs, metering_seconds)
    baseline = None
    if args.baseline_bin:
        print("against an earlier build", file=sys.stderr)
        baseline = against_baseline(args.baseline_bin, metering_pairs, metering_seconds)
    print("asynchronous queue", file=sys.stderr)
    queue = async_queue(runs, seconds)
    print("cold starts", file=sys.stderr)
    cold = cold_starts(3 if args.quick else 10)
    print("density and concurrency", file=sys.stderr)
    dense = density_bench.density(*((200, 20, 20) if args.quick else (10_000, 1_000, 100)))
    crowd = density_bench.concurrency(*((200, 3) if args.quick else (1000, 10)))
    print("process runtime and autoscaling", file=sys.stderr)
    process_cold = process_bench.cold_starts(5 if args.quick else 30)
    process_warm = process_bench.warm_latency(seconds)
    step = process_bench.step_load(args.quick)
    buckets = bucket_section(args, seconds)
    streams = stream_section(args, seconds)
    routing = routing_section(args, seconds)
    web_api = web_api_section(args, seconds)
    traces = traces_section(args, seconds)
    cluster = cluster_section(args, seconds)
    plot = ROOT / "bench/step-load.svg"
    if not args.quick:
        plot.write_text(process_bench.step_plot(step))
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
        "The same hello-world at 32 connections on a Gust server metering (invocation records, "
        "Prometheus metrics, `x-gust-billed-ms`) and on one started with `--no-metering`. Both "
        "servers are up at once (each warmed for 1 s) and measured in turn, the order swapped "
        f"every pair: `wrk -t2 -c32 -d{metering_seconds}s --latency URL`. The machine's speed "
        "drifts between runs by more than the difference measured; short alternating runs see "
        "the same drift on both sides.",
        "",
        format_paired(metering, "server", metering_pairs, metering_seconds),
        "",
        *baseline_section(baseline, args.baseline_bin, metering_pairs, metering_seconds),
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
        "## Density",
        "",
        "Functions deployed over the API (a multipart PUT each, 4 at a time) to one server, "
        "their artifacts made distinct by rewriting the hello component's greeting; then the "
        "first request to random ones. Memory is the server's resident set (VmRSS).",
        "",
        density_bench.format_density(dense),
        "",
        "## A thousand slow requests at once",
        "",
        "`examples/busy` with `?sleep_ms=1000` (each request waits 1 s on a timer), "
        "`--max-concurrency` and queue raised to the connection count, under `wrk -t2 "
        f"-c{crowd['connections']} -d{crowd['seconds']}s --timeout 10s`.",
        "",
        density_bench.format_concurrency(crowd),
        "",
        "## Process runtime: cold and warm",
        "",
        "The Python example (`examples/process/python-http`, standard library only), deployed "
        "with `--runtime process --command 'python3 handler.py'`: sandboxed (namespaces, "
        "cgroup, unprivileged user), started with `PORT`, probed until it accepts, then proxied.",
        "",
        process_bench.format_cold(process_cold, 5 if args.quick else 30),
        "",
        process_bench.format_warm(process_warm, seconds),
        "",
        "## Scaling under a step load",
        "",
        "The Python example with `--max-instances 16 --max-concurrency 16 --queue-size 8 "
        "--queue-timeout 100ms --idle-timeout 5s`; nothing runs, then wrk opens 32 connections "
        "(`wrk -t2 -c32 -d10s`), then nothing again. Sampled every 200 ms from "
        "`GET /v1/functions/step` (instances), `/metrics` (answers, 429s) and /proc (proportional "
        "set size of every process under the server).",
        "",
        process_bench.format_step(step, "bench/step-load.svg"),
        "",
        buckets,
        streams,
        routing,
        web_api,
        traces,
        cluster,
        (ROOT / "bench/notes.md").read_text(),
    ])
    if args.quick:
        print(report)
    else:
        Path(args.output).write_text(report)
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
