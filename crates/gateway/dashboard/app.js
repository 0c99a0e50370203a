// The dashboard: signs in with a token and draws what /v1 says. Every value from the server is
// put in the page as text, never as markup.
"use strict";

const session = { token: sessionStorage.getItem("gust-token"), stop: null };
const $ = (selector) => document.querySelector(selector);

// An element with attributes and children (strings become text).
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value);
  }
  element.append(...children.flat().map((c) => (c instanceof Node ? c : String(c ?? ""))));
  return element;
}

function table(id, header, rows) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, header.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows));
}

async function api(path, options = {}) {
  const headers = { authorization: `Bearer ${session.token}` };
  if (options.body) headers["content-type"] = "application/json";
  const response = await fetch(`/v1${path}`, { ...options, headers });
  if (response.status === 401) {
    signOut("The token was refused.");
    throw new Error("signed out");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return response.json();
}

const time = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
const hour = (ms) => new Date(ms).toISOString().slice(11, 16);
const HOUR = 3600 * 1000;
const usd = (v) => (v === 0 ? "$0" : v < 0.01 ? `$${v.toExponential(1)}` : `$${v.toFixed(2)}`);
const millis = (value) => `${value.toFixed(1)} ms`;
const link = (href, text) => h("a", { href }, text);

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

const views = {
  async functions() {
    const functions = await api("/functions");
    const rows = functions.map((f) => {
      const c = f.latest.config;
      return h("tr", { "data-name": f.name },
        h("td", {}, link(`#/fn/${f.name}`, f.name)), h("td", {}, f.latest.number),
        h("td", {}, f.latest.runtime), h("td", {}, `${f.instances.warm} / ${f.instances.busy}`),
        h("td", {}, `${c.min_instances}..${c.max_instances}`), h("td", {}, `${c.memory_mb} MB`),
        h("td", {}, `${c.timeout_ms} ms`), h("td", {}, c.public ? "public" : "private"),
        h("td", {}, link(`#/logs/${f.name}`, "logs"), " ", link(`#/async/${f.name}`, "async")));
    });
    return [h("h1", {}, "Functions"),
      functions.length ? table("functions", ["Name", "Version", "Runtime", "Warm / busy",
        "Instances", "Memory", "Timeout", "Access", ""], rows)
        : h("p", { class: "muted" }, "No functions yet: gust new rust hello && cd hello && gust deploy")];
  },

  async fn(name) {
    const dayAgo = Math.floor(Date.now() / HOUR) * HOUR - 23 * HOUR;
    const [status, aliases, triggers, records, usage] = await Promise.all([
      api(`/functions/${name}`), api(`/functions/${name}/aliases`),
      api(`/triggers?function=${name}`), api(`/functions/${name}/invocations?limit=1000`),
      api(`/usage?function=${name}&group_by=hour&from=${dayAgo}`),
    ]);
    const v = status.latest, c = v.config;
    const details = h("dl", {},
      h("dt", {}, "Version"), h("dd", {}, `${v.number} (${v.runtime}), deployed ${time(v.created_at_ms)}`),
      h("dt", {}, "Aliases"), h("dd", {}, aliases.map((a) =>
        `${a.name} → ${a.version}${a.split ? ` (${a.split.percent}% to ${a.split.version})` : ""}`).join(", ") || "none"),
      h("dt", {}, "Instances"), h("dd", {}, `${status.instances.warm} warm, ${status.instances.busy} busy (min ${c.min_instances}, max ${c.max_instances})`),
      h("dt", {}, "Limits"), h("dd", {}, `${c.memory_mb} MB, ${c.timeout_ms} ms, ${c.max_concurrency} at once`),
      h("dt", {}, "Triggers"), h("dd", {}, triggers.map((t) => `${t.kind} ${t.id}`).join(", ") || "none"));
    // 24 hourly slots ending with this one, empty hours included.
    const thisHour = Math.floor(Date.now() / HOUR) * HOUR;
    const slots = Array.from({ length: 24 }, (_, i) => thisHour - (23 - i) * HOUR);
    const hours = new Map(slots.map((at) => [at, { count: 0, errors: 0, durations: [], cost: 0 }]));
    for (const r of records) {
      const bucket = hours.get(Math.floor(r.started_at_ms / HOUR) * HOUR);
      if (!bucket) continue;
      bucket.count += 1;
      bucket.errors += r.status === "ok" ? 0 : 1;
      bucket.durations.push(r.duration_us / 1000);
    }
    for (const line of usage.lines) {
      const bucket = hours.get(Date.parse(line.key));
      if (bucket) bucket.cost = line.price_usd;
    }
    hours.forEach((b) => b.durations.sort((x, y) => x - y));
    const series = (pick) => slots.map((at) => ({ label: hour(at), value: pick(hours.get(at)) }));
    const charts = h("div", { class: "charts" },
      barChart("Invocations per hour", series((b) => b.count)),
      barChart("Errors per hour", series((b) => b.errors)),
      barChart("p50 latency", series((b) => percentile(b.durations, 0.5)), millis),
      barChart("p99 latency", series((b) => percentile(b.durations, 0.99)), millis),
      barChart("Cost per hour", series((b) => b.cost), usd));
    const rows = records.slice(0, 50).map((r) => h("tr", { "data-id": r.id },
      h("td", {}, r.id), h("td", {}, time(r.started_at_ms)), h("td", {}, r.version),
      h("td", {}, r.trigger), h("td", { class: `status-${r.status}` }, r.status),
      h("td", {}, r.http_status), h("td", { class: "duration" }, millis(r.duration_us / 1000)),
      h("td", {}, r.cold ? "cold" : "warm"), h("td", {}, r.billed_ms)));
    return [h("h1", {}, name),
      h("div", { class: "links" }, link(`#/logs/${name}`, "Live logs"), link(`#/async/${name}`, "Async queue and dead letters")),
      details, h("h2", {}, "Last 24 hours"), charts, h("h2", {}, "Recent invocations"),
      table("invocations", ["Id", "Started", "Version", "Origin", "Status", "HTTP", "Duration",
        "Start", "Billed ms"], rows)];
  },

  async logs(name) {
    const log = h("pre", { id: "log" });
    const controller = new AbortController();
    session.stop = () => controller.abort();
    follow(name, log, controller.signal);
    return [h("h1", {}, `Logs of ${name}`), h("p", { class: "muted" }, "Following: new lines appear as they are written."), log];
  },

  async async(name) {
    const [invocations, dead] = await Promise.all([
      api(`/functions/${name}/async?limit=100`), api(`/functions/${name}/dlq`)]);
    const message = h("p", { id: "message" });
    const replay = async (ids) => {
      try {
        const answer = await api(`/functions/${name}/dlq/replay`, { method: "POST", body: JSON.stringify({ ids }) });
        message.textContent = `Requeued ${answer.replayed}.`;
        message.className = "";
      } catch (error) {
        message.textContent = error.message;
        message.className = "error";
      }
    };
    const errors = (i) => i.errors.map((e) => `#${e.attempt}: ${e.message}`).join("; ");
    const deadRows = dead.map((i) => h("tr", { "data-id": i.id },
      h("td", {}, i.id), h("td", {}, time(i.enqueued_at_ms)), h("td", {}, i.attempts),
      h("td", { class: "wrap" }, errors(i)),
      h("td", {}, h("button", { class: "replay", type: "button", onclick: () => replay([i.id]) }, "Replay"))));
    const rows = invocations.map((i) => h("tr", { "data-id": i.id },
      h("td", {}, i.id), h("td", { class: `status-${i.state}` }, i.state),
      h("td", {}, time(i.enqueued_at_ms)), h("td", {}, i.attempts), h("td", { class: "wrap" }, errors(i))));
    return [h("h1", {}, `Asynchronous invocations of ${name}`), message,
      h("h2", {}, `Dead letters (${dead.length})`),
      dead.length ? table("dead", ["Id", "Enqueued", "Attempts", "Errors", ""], deadRows) : h("p", { class: "muted" }, "None."),
      h("h2", {}, "Recent"), table("queue", ["Id", "State", "Enqueued", "Attempts", "Errors"], rows)];
  },

  async usage() {
    const monthAgo = Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR - 29 * 24 * HOUR;
    const functions = await api("/functions");
    const reports = await Promise.all(functions.map((f) =>
      api(`/usage?function=${f.name}&group_by=day&from=${monthAgo}`).then((r) => [f.name, r])));
    const days = new Map();
    const rows = [];
    for (const [name, report] of reports) {
      for (const line of report.lines) {
        const day = line.key.slice(0, 10);
        days.set(day, (days.get(day) || 0) + line.price_usd);
        rows.push(h("tr", {}, h("td", {}, day), h("td", {}, name), h("td", {}, line.invocations),
          h("td", {}, line.errors), h("td", {}, line.gb_seconds.toFixed(3)), h("td", {}, usd(line.price_usd))));
      }
    }
    const today = Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR;
    const points = Array.from({ length: 30 }, (_, i) => {
      const day = new Date(today - (29 - i) * 24 * HOUR).toISOString().slice(0, 10);
      return { label: day.slice(5), value: days.get(day) || 0 };
    });
    return [h("h1", {}, "Usage and cost, last 30 days"),
      h("div", { class: "charts" }, barChart("Cost per day, all functions", points, usd)),
      h("h2", {}, "By function and day"),
      table("usage", ["Day", "Function", "Invocations", "Errors", "GB-seconds", "Cost"], rows)];
  },

  async sources() {
    const triggers = await api("/triggers");
    const describe = (map) => Object.entries(map).filter(([, v]) => v !== null)
      .map(([k, v]) => `${k}=${k.endsWith("_at_ms") ? time(v) : typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
    const rows = triggers.map((t) => h("tr", { "data-id": t.id },
      h("td", {}, t.id), h("td", {}, link(`#/fn/${t.function}`, t.function)), h("td", {}, t.kind),
      h("td", { class: "wrap" }, describe(t.config)), h("td", { class: "wrap" }, describe(t.state))));
    return [h("h1", {}, "Event sources"),
      table("sources", ["Id", "Function", "Kind", "Settings", "State (progress, lag)"], rows)];
  },
};

// Appends the function's log lines to `log` as they are written, until `signal` aborts.
async function follow(name, log, signal) {
  try {
    const response = await fetch(`/v1/functions/${name}/logs?follow=true&limit=200`,
      { headers: { authorization: `Bearer ${session.token}` }, signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const text of lines.filter(Boolean)) {
        const line = JSON.parse(text);
        log.append(`${time(line.ts_ms)} ${line.stream} ${line.line}\n`);
      }
      log.scrollTop = log.scrollHeight;
    }
    log.append("(the server closed the stream)\n");
  } catch (error) {
    if (!signal.aborted) log.append(`(${error.message})\n`);
  }
}

async function render() {
  if (session.stop) session.stop();
  session.stop = null;
  const signedIn = Boolean(session.token);
  $("#sign-in").hidden = signedIn;
  $("#nav").hidden = !signedIn;
  const view = $("#view");
  if (!signedIn) return view.replaceChildren();
  const [page = "functions", name] = location.hash.replace(/^#\//, "").split("/").map(decodeURIComponent);
  const draw = views[page === "" ? "functions" : page];
  try {
    view.replaceChildren(...(draw ? await draw(name) : [h("p", {}, "No such page.")]));
  } catch (error) {
    view.replaceChildren(h("p", { class: "error" }, error.message));
  }
}

function signOut(reason = "") {
  session.token = null;
  sessionStorage.removeItem("gust-token");
  $("#sign-in-error").textContent = reason;
  render();
}

$("#sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  session.token = $("#token").value.trim();
  sessionStorage.setItem("gust-token", session.token);
  $("#sign-in-error").textContent = "";
  render();
});
$("#sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", render);
render();
