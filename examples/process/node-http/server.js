// A Node.js HTTP function: Gust starts it with PORT set and proxies requests to it.
const http = require("node:http");

const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    console.log(`${req.method} ${req.url}`);
    const reply = JSON.stringify({ hello: "from node", path: req.url, received: body.length });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(reply);
  });
});

server.listen(Number(process.env.PORT), "127.0.0.1");
