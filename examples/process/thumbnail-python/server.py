"""Serves lambda_function.lambda_handler over HTTP on $PORT, the way Gust runs process
functions: the event is the request's JSON body, the result the response's."""

import json
import os
import sys

# The dependencies (boto3, Pillow) are packaged with the function by build.sh.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "package"))

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import lambda_function  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            event = json.loads(self.rfile.read(length))
            self.reply(200, lambda_function.lambda_handler(event, None))
        except Exception as error:  # the invocation fails; Gust retries the event
            sys.stderr.write("%s: %s\n" % (type(error).__name__, error))
            self.reply(500, {"error": str(error)})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
