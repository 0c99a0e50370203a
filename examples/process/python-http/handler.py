"""A small JSON API on Python's standard library: Gust starts it with PORT set."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, the body waits for the
    # client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def do_GET(self):
        self.reply(200, {"hello": "from python", "path": self.path})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        try:
            numbers = json.loads(body)
            self.reply(200, {"count": len(numbers), "sum": sum(numbers)})
        except (ValueError, TypeError):
            self.reply(400, {"error": "send a JSON list of numbers"})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        # Goes to stderr, which Gust keeps as the invocation's log.
        sys.stderr.write("%s %s\n" % (self.command, self.path))


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
