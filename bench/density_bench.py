"""Density and concurrency: how many functions one server holds, and how it takes a thousand
slow requests at once."""

import json
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import GUESTS, admin_of, first_byte_us, gust_server

GREETING = b"Hello, world!"


def distinct_artifacts(count):
    """`count` components that differ only in their greeting (so each compiles on its own)."""
    hello = (GUESTS / "hello.wasm").read_bytes()
    assert hello.count(GREETING) == 1, "the hello component's greeting moved"
    return [hello.replace(GREETING, b"Hello, w%05d" % i) for i in range(count)]


def multipart(fields):
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                 f"filename=\"{name}\"\r\n\r\n").encode() + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def deploy(admin, name, artifact, config):
    body, content_type = multipart({"artifact": artifact, "config": json.dumps(config).encode()})
    request = urllib.request.Request(f"{admin.base}/v1/functions/{name}", data=body, method="PUT",
                                     headers={"Authorization": f"Bearer {admin.token}",
                                              "Content-Type": content_type})
    urllib.request.urlopen(request, timeout=120).read()


def rss_mib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def density(functions, distinct, probes):
    """Deploys `functions` functions over `distinct` artifacts, then asks `probes` random ones
    for their first request."""
    artifacts = distinct_artifacts(distinct)
    with gust_server() as (proc, url):
        admin = admin_of(proc, url)
        base = admin.base
        time.sleep(1)
        before = rss_mib(proc.pid)
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: deploy(admin, f"f{i}", artifacts[i % distinct],
                                           {"public": True}), range(functions)))
        deploy_seconds = time.perf_counter() - start
        time.sleep(2)
        idle = rss_mib(proc.pid)
        chosen = random.Random(7).sample(range(functions), probes)
        first = [first_byte_us(f"{base}/fn/f{i}") for i in chosen]
        after = rss_mib(proc.pid)
    result = {"functions": functions, "distinct": distinct, "before": before, "idle": idle,
              "after": after, "deploy_seconds": deploy_seconds, "first": sorted(first)}
    print(f"  density: {functions} functions, idle {idle:.0f} MiB, first request p50 "
          f"{statistics.median(first) / 1000:.2f} ms", file=sys.stderr)
    return result


def format_density(r):
    first = r["first"]
    p99 = first[min(len(first) - 1, int(len(first) * 0.99))]
    per_function = (r["idle"] - r["before"]) * 1024 / r["functions"]
    return "\n".join([
        "| measure | value |",
        "|---|---|",
        f"| functions deployed ({r['distinct']:,} distinct artifacts) | {r['functions']:,} in "
        f"{r['deploy_seconds']:.0f} s ({r['functions'] / r['deploy_seconds']:.0f} deploys/s, 4 "
        "at a time) |",
        f"| server resident memory before, idle with all deployed | {r['before']:.0f} MiB, "
        f"{r['idle']:.0f} MiB |",
        f"| memory per deployed function | {per_function:.1f} KiB |",
        f"| first request to {len(first)} random ones: p50, p99, max | "
        f"{statistics.median(first) / 1000:.2f} ms, {p99 / 1000:.2f} ms, {first[-1] / 1000:.2f} ms |",
        f"| server resident memory after those requests | {r['after']:.0f} MiB |",
    ])


def concurrency(connections, seconds):
    """`connections` connections, each asking a function that sleeps 1 s, for `seconds`."""
    with gust_server() as (proc, url):
        admin = admin_of(proc, url)
        base = admin.base
        config = {"public": True, "max_concurrency": connections, "queue_size": connections}
        deploy(admin, "sleeper", (GUESTS / "busy.wasm").read_bytes(), config)
        peak = [0.0]
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                   "--latency", f"{base}/fn/sleeper?sleep_ms=1000"]
        load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        while load.poll() is None:
            peak[0] = max(peak[0], rss_mib(proc.pid))
            time.sleep(0.1)
        out = load.stdout.read()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)
    result = {"connections": connections, "seconds": seconds, "requests": requests,
              "errors": int(errors.group(1)) if errors else 0,
              "socket_errors": socket_errors.group(1) if socket_errors else "none",
              "p99": p99, "peak_mib": peak[0]}
    print(f"  concurrency: {requests} requests, {result['errors']} errors, peak "
          f"{peak[0]:.0f} MiB", file=sys.stderr)
    return result


def format_concurrency(r):
    return "\n".join([
        "| measure | value |",
        "|---|---|",
        f"| requests answered ({r['connections']:,} connections for {r['seconds']} s) | "
        f"{r['requests']:,} |",
        f"| error responses / socket errors | {r['errors']} / {r['socket_errors']} |",
        f"| p99 latency (each request sleeps 1 s) | {r['p99']} |",
        f"| peak server resident memory | {r['peak_mib']:.0f} MiB |",
    ])
