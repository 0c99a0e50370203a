"""What every benchmark scenario shares: starting servers, wrk, and timing a first byte."""

import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import namedtuple
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = os.environ.get("GUST_BENCH_PROFILE", "release")
# Where cargo builds (a relative CARGO_TARGET_DIR is relative to the folder cargo runs in).
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", "target")
GUST = ROOT / TARGET_DIR / PROFILE / "gust"
NATIVE = ROOT / TARGET_DIR / PROFILE / "native-hello"
GUESTS = ROOT / "examples" / TARGET_DIR / "wasm32-wasip2/release"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Backlog caps lifted: an accepting node fills faster than a function's defaults allow.
UNCAPPED_BACKLOG = ("--max-queued-per-function", "1000000000", "--max-queued-mb-per-function",
                    "1000000", "--max-queued-mb", "1000000")
# wrk's script for POST /async/...: an empty JSON event.
POST_SCRIPT = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


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
def gust_server(*extra_args, binary=GUST):
    data = tempfile.mkdtemp(prefix="gust-bench-")
    port = free_port()
    env = dict(os.environ, GUST_LOG="warn")
    args = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, *extra_args]
    if binary == GUST and "--s3-listen" not in extra_args:
        # Servers run side by side: none takes the S3 endpoint's default port.
        args += ["--s3-listen", "off"]
    with process(args, env=env) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/v1/openapi.json")
        deploy = [binary, "deploy", "hello", GUESTS / "hello.wasm", "--public"]
        subprocess.run(deploy, check=True, capture_output=True,
                       env=dict(os.environ, GUST_SERVER=base, GUST_DATA_DIR=data))
        yield proc, base + "/fn/hello"
    shutil.rmtree(data, ignore_errors=True)


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
        "requests": requests,
    }


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


Admin = namedtuple("Admin", "base token")


def admin_of(proc, url):
    """A server's base URL and admin token (read once), from its process and a function URL."""
    data = Path(proc.args[proc.args.index("--data-dir") + 1])
    return Admin(url.rsplit("/fn/", 1)[0], (data / "admin.token").read_text().strip())


def admin_get(base, token, path):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(samples, key):
    values = [s[key] for s in samples]
    return statistics.median(values), min(values), max(values)


def load_cells(samples):
    """Table cells of a set of wrk runs: req/s with spread, p50, p99, CPU per request."""
    rps, lo, hi = summary(samples, "rps")
    p50 = summary(samples, "p50_us")[0]
    p99 = summary(samples, "p99_us")[0]
    cpu = summary(samples, "cpu_us_per_req")[0]
    return f"{rps:,.0f} ({lo:,.0f}–{hi:,.0f}) | {p50:.0f} | {p99:.0f} | {cpu:.1f}"
