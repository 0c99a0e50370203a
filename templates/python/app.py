"""{{name}}: a Gust function in Python, a wasi:http component built with componentize-py."""

import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


def read_body(request: IncomingRequest) -> bytes:
    body = request.consume()
    stream = body.stream()
    chunks = []
    while True:
        try:
            chunks.append(stream.blocking_read(64 * 1024))
        except Err as err:
            if isinstance(err.value, StreamError_Closed):
                break
            raise
    stream.__exit__(None, None, None)
    return b"".join(chunks)


def respond(response_out: ResponseOutparam, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode() + b"\n"
    response = OutgoingResponse(Fields.from_list([("content-type", b"application/json")]))
    response.set_status_code(status)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with body.write() as stream:
        stream.blocking_write_and_flush(data)
    OutgoingBody.finish(body, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        path = request.path_with_query() or "/"
        body = read_body(request)
        name = "world"
        if body:
            try:
                name = json.loads(body).get("name", name)
            except (ValueError, AttributeError):
                respond(response_out, 400, {"error": "the body must be a JSON object"})
                return
        respond(response_out, 200, {"message": f"Hello, {name}!", "path": path})
