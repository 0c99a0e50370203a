// {{name}}: a Gust function in JavaScript. It answers {"message": "Hello, NAME!"} for ?name=NAME
// or a JSON body {"name": "NAME"}, and a 400 for a body that is not JSON.
function reply(status, payload) {
  return new Response(JSON.stringify(payload) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function handle(request) {
  const url = new URL(request.url);
  const body = await request.text();
  let name = url.searchParams.get("name") ?? "world";
  if (body) {
    try {
      name = JSON.parse(body).name ?? name;
    } catch {
      return reply(400, { error: "the body must be JSON" });
    }
  }
  return reply(200, { message: `Hello, ${name}!`, path: url.pathname + url.search });
}

addEventListener("fetch", (event) => event.respondWith(handle(event.request)));
