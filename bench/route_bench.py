"""Routing: what the API gateway's route table adds to a call, with 1,001 routes defined,
against the same function at /fn/NAME."""

import json
import statistics
import urllib.request

from common import admin_of, gust_server, load_cells, wrk

ROUTES = 1000


def add_route(admin, path):
    body = json.dumps({"method": "GET", "path": path, "function": "hello"}).encode()
    request = urllib.request.Request(
        f"{admin.base}/v1/routes", data=body, method="POST",
        headers={"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()


def routing_cost(pairs, seconds):
    """The hello component at one connection, at /fn/hello and at a route among 1,000 others
    (`GET /svcN/items/{id}`), measured in turn on one server, the order swapped every pair."""
    with gust_server() as (proc, url):
        admin = admin_of(proc, url)
        for n in range(ROUTES):
            add_route(admin, f"/svc{n}/items/{{id}}")
        add_route(admin, "/api/hello")
        urls = {"/fn/hello": url, f"/api/hello ({ROUTES + 1:,} routes)": admin.base + "/api/hello"}
        for target in urls.values():
            wrk(target, 1, 1, proc.pid)
        samples = {label: [] for label in urls}
        for pair in range(pairs):
            labels = list(urls) if pair % 2 == 0 else list(reversed(urls))
            for label in labels:
                samples[label].append(wrk(urls[label], 1, seconds, proc.pid))
    return samples


def format_routing(samples, pairs, seconds):
    (direct, a), (routed, b) = samples.items()
    added = statistics.median(y["p50_us"] - x["p50_us"] for x, y in zip(a, b))
    return "\n".join([
        "| path | req/s (median, min–max) | p50 µs | p99 µs | CPU µs/req |",
        "|---|---|---|---|---|",
        f"| {direct} | {load_cells(a)} |",
        f"| {routed} | {load_cells(b)} |",
        "",
        f"The route adds {added:+.1f} µs at p50 (median of {pairs} paired differences, "
        f"`wrk -t1 -c1 -d{seconds}s --latency`; target: under 2 µs).",
    ])
