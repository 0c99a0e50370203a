"""A process function that keeps state in a Gust key-value store. Deploy it with
`--kv counters`: Gust mounts the store's socket into the sandbox and names it in
$GUST_KV_SOCKET.

    POST /            adds 1 to `hits` (atomically) and answers the sum
    PUT  /KEY         sets KEY to the body
    GET  /KEY         answers KEY's value (404 when absent)
"""

import http.client
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORE = "counters"


class StoreConnection(http.client.HTTPConnection):
    """HTTP to Gust's key-value API over its Unix socket."""

    def __init__(self):
        super().__init__("localhost")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ["GUST_KV_SOCKET"])


def store(method, key, body=None, query=""):
    connection = StoreConnection()
    try:
        connection.request(method, "/kv/%s/%s%s" % (STORE, key, query), body=body)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.reply(*store("POST", "hits", query="?increment=1"))

    def do_PUT(self):
        length = int(self.headers.get("content-length") or 0)
        self.reply(*store("PUT", self.path.lstrip("/"), body=self.rfile.read(length)))

    def do_GET(self):
        self.reply(*store("GET", self.path.lstrip("/")))

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
