"""{{name}}: a Gust process function, a plain HTTP server on 127.0.0.1:$PORT."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        name = "world"
        if body:
            try:
                name = json.loads(body).get("name", name)
            except (ValueError, AttributeError):
                return self.reply(400, {"error": "the body must be a JSON object"})
        self.reply(200, {"message": f"Hello, {name}!", "path": self.path})

    def reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = answer


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
