"""A cluster on one machine: one nats-server with JetStream and Gust nodes joined to it. How
long a deploy on one node takes to be served by another, how long a killed node's work waits
before another node runs it again, and how many asynchronous invocations one and three nodes
accept per second."""

import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

from common import (GUESTS, GUST, POST_SCRIPT, UNCAPPED_BACKLOG, admin_get, admin_of,
                    gust_server, percentile)
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


@contextmanager
def alone(*extra):
    """One node on its own database, as a cluster of one is laid out."""
    with gust_server(*extra) as node:
        yield [node]


def deploy_busy(admin):
    env = dict(os.environ, GUST_SERVER=admin.base, GUST_TOKEN=admin.token)
    subprocess.run([GUST, "deploy", "busy", GUESTS / "busy.wasm", "--public"], check=True,
                   capture_output=True, env=env)


def failover_s(kills):
    """Seconds from a node's SIGKILL to another node starting again the attempt it was running:
    the lease (4 s) running out and the next node's check (every second)."""
    waits = []
    for _ in range(kills):
        with broker("nats") as (nats, _), gust_server("--cluster", nats) as (doomed, url):
            admin = admin_of(doomed, url)
            deploy_busy(admin)
            request = urllib.request.Request(url.replace("/fn/hello", "/async/busy?sleep_ms=60000"),
                                             data=b"", method="POST")
            invocation = json.loads(urllib.request.urlopen(request).read())["id"]
            view = lambda admin: json.loads(admin_get(admin.base, admin.token,
                                                      f"/v1/invocations/{invocation}"))
            while view(admin)["attempts"] < 1:
                time.sleep(0.01)
            # The survivor joins once the doomed node holds the attempt.
            with gust_server("--cluster", nats, "--node-name", "survivor") as survivor:
                other = admin_of(*survivor)
                doomed.kill()
                killed = time.perf_counter()
                while view(other)["attempts"] < 2:
                    time.sleep(0.01)
                waits.append(time.perf_counter() - killed)
    return waits


def accepted_per_second(size, seconds):
    """POST /async/hello at 32 connections spread over `size` nodes that only accept (size 0:
    one node without a cluster)."""
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(POST_SCRIPT)
    accepting = ("--async-workers", "0", *UNCAPPED_BACKLOG)
    started = cluster(size, *accepting) if size else alone(*accepting)
    with started as nodes:
        connections = 32 // len(nodes)
        runs = [subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script,
                                  url.replace("/fn/", "/async/")], stdout=subprocess.PIPE, text=True)
                for _, url in nodes]
        outputs = [run.communicate()[0] for run in runs]
    if any("Non-2xx" in out for out in outputs):
        raise RuntimeError("an enqueue was refused")
    return sum(int(out.split(" requests in")[0].split()[-1]) for out in outputs) / seconds


def cluster_figures(runs, seconds, deploys):
    delays = propagation_ms(deploys)
    waits = failover_s(runs)
    rates = {size: [accepted_per_second(size, seconds) for _ in range(runs)] for size in (0, 1, 3)}
    return delays, waits, rates


def format_cluster(delays, waits, rates, seconds, deploys):
    rows = [f"| {size or '1, without a cluster'} | {statistics.median(r):,.0f} | "
            f"{min(r):,.0f} to {max(r):,.0f} |" for size, r in rates.items()]
    return "\n".join([
        f"Deploy propagation, over {deploys} deploys on one node of two (`gust deploy` with a new "
        "setting each time), from the deploy's answer to the other node answering with the new "
        "version (which it loads on that request): "
        f"median {statistics.median(delays):.1f} ms, p95 {percentile(delays, 0.95):.1f} ms, "
        f"max {max(delays):.1f} ms.",
        "",
        f"Failover, over {len(waits)} kills: a node of two runs a 60 s invocation and is killed "
        "with SIGKILL; the other node starts the invocation's next attempt "
        f"{statistics.median(waits):.1f} s later (median; {min(waits):.1f} to {max(waits):.1f} s): "
        "the 4 s lease running out, then the survivor's check, every second.",
        "",
        f"Asynchronous invocations accepted per second (`POST /async/hello`, 32 connections "
        f"spread over the nodes, `wrk -t1 -s post.lua -d{seconds}s` per node, nodes started with "
        "`--async-workers 0`):",
        "",
        "| nodes | accepted/s (median) | range |",
        "|---|---|---|",
        *rows,
        "",
        "The nodes, the NATS server and wrk share this machine's two cores, so three nodes add "
        "work, not cores: each node decodes every change of the queue's bucket to keep its view "
        "of the queue, so the cluster's total stays near one node's. One node in a cluster "
        "writes an enqueue as one key-value create that the NATS server stores in its own "
        "process; without a cluster it is a SQLite insert on the node's store thread, which "
        "shares the cores with the request path.",
    ])
