"""A cluster on one machine: one nats-server with JetStream and Gust nodes joined to it. How
long a deploy on one node takes to be served by another, and how many asynchronous
invocations one and three nodes accept per second."""

import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

from common import (GUESTS, GUST, POST_SCRIPT, UNCAPPED_BACKLOG, admin_of, gust_server,
                    percentile)
from stream_bench import broker


@contextmanager
def cluster(size, *extra):
    """`size` nodes on one nats-server; yields each node's (process, hello URL)."""
    with broker("nats") as (nats, _), ExitStack() as nodes:
        yield [nodes.enter_context(gust_server("--cluster", nats, "--node-name", f"n{i}", *extra))
               for i in range(size)]


def served_version(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        return int(response.headers["x-gust-version"])


def propagation_ms(deploys):
    """Milliseconds from a deploy's answer on one node to another node serving its version."""
    with cluster(2) as [(first, url), (_, other_url)]:
        admin = admin_of(first, url)
        env = dict(os.environ, GUST_SERVER=admin.base, GUST_TOKEN=admin.token)
        served_version(other_url)
        delays = []
        for i in range(deploys):
            # A new setting makes a new version of the same artifact.
            command = [GUST, "deploy", "hello", GUESTS / "hello.wasm", "--public",
                       "--memory", str(130 + i)]
            deployed = subprocess.run(command, check=True, capture_output=True, text=True,
                                      env=env)
            version = int(deployed.stdout.split("version")[-1].split()[0])
            start = time.perf_counter()
            while served_version(other_url) != version:
                pass
            delays.append((time.perf_counter() - start) * 1000)
    return delays


def accepted_per_second(size, seconds):
    """POST /async/hello at 32 connections spread over `size` nodes that only accept."""
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(POST_SCRIPT)
    with cluster(size, "--async-workers", "0", *UNCAPPED_BACKLOG) as nodes:
        runs = [subprocess.Popen(["wrk", "-t1", f"-c{32 // size}", f"-d{seconds}s", "-s", script,
                                  url.replace("/fn/", "/async/")],
                                 stdout=subprocess.PIPE, text=True)
                for _, url in nodes]
        outputs = [run.communicate()[0] for run in runs]
    if any("Non-2xx" in out for out in outputs):
        raise RuntimeError("an enqueue was refused")
    return sum(int(out.split(" requests in")[0].split()[-1]) for out in outputs) / seconds


def cluster_figures(runs, seconds, deploys):
    delays = propagation_ms(deploys)
    rates = {size: [accepted_per_second(size, seconds) for _ in range(runs)] for size in (1, 3)}
    return delays, rates


def format_cluster(delays, rates, seconds, deploys):
    rows = [f"| {size} | {statistics.median(r):,.0f} | {min(r):,.0f} to {max(r):,.0f} |"
            for size, r in rates.items()]
    return "\n".join([
        f"Deploy propagation, over {deploys} deploys on one node of two (`gust deploy` with a new "
        "setting each time), from the deploy's answer to the other node answering with the new "
        "version (which it loads on that request): "
        f"median {statistics.median(delays):.1f} ms, p95 {percentile(delays, 0.95):.1f} ms, "
        f"max {max(delays):.1f} ms.",
        "",
        f"Asynchronous invocations accepted per second (`POST /async/hello`, 32 connections "
        f"spread over the nodes, `wrk -t1 -s post.lua -d{seconds}s` per node, nodes started with "
        "`--async-workers 0`):",
        "",
        "| nodes | accepted/s (median) | range |",
        "|---|---|---|",
        *rows,
    ])
