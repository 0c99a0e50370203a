"""Tracing's cost: the warm hello-world on a server exporting a span per invocation (and its
phases) over OTLP/HTTP, beside one with tracing off; and tracing off beside an earlier build
that had no tracing at all."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import gust_server
from paired import paired_runs


class Sink(BaseHTTPRequestHandler):
    """A collector that takes every export and keeps nothing: the spans' cost is Gust's."""
    exports = 0
    received = 0

    def do_POST(self):
        Sink.received += len(self.rfile.read(int(self.headers.get("content-length", 0))))
        Sink.exports += 1
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def tracing_cost(pairs, seconds, baseline):
    """Pairs of tracing on (the default sampling) against off, then of every trace recorded
    against off; then of off against `baseline` (a binary) if given. Also what the sink took
    over the runs that recorded every trace."""
    with collector() as endpoint:
        on = {"tracing on": lambda: gust_server("--otlp-endpoint", endpoint),
              "tracing off": gust_server}
        samples = [paired_runs(on, pairs, seconds)]
        before = (Sink.exports, Sink.received)
        every = {"every trace recorded": lambda: gust_server(
                     "--otlp-endpoint", endpoint, "--trace-sample-ratio", "1"),
                 "tracing off": gust_server}
        samples.append(paired_runs(every, pairs, seconds))
        exports = (Sink.exports - before[0], Sink.received - before[1])
    if baseline:
        off = {"tracing off": gust_server,
               f"`{baseline.name}`": lambda: gust_server(binary=baseline)}
        samples.append(paired_runs(off, pairs, seconds))
    return samples, exports
