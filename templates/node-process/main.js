// {{name}}: a Gust process function, a plain HTTP server on 127.0.0.1:$PORT.
const http = require("node:http");

function reply(res, status, payload) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(payload) + "\n");
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString();
    let name = "world";
    if (body) {
      try {
        name = JSON.parse(body).name ?? name;
      } catch {
        return reply(res, 400, { error: "the body must be JSON" });
      }
    }
    reply(res, 200, { message: `Hello, ${name}!`, path: req.url });
  });
});

server.listen(Number(process.env.PORT), "127.0.0.1");
