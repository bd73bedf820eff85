// Ferry console: a small single-page app over /api (see the Go package doc).
// Plain JavaScript, no framework, no outside address. Every text from the
// broker goes into the page through textContent, never as HTML.
"use strict";

const view = document.getElementById("view");

// h builds an element: h("td", {class: "num"}, "12", child, ...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// api calls the JSON API; a non-2xx answer throws its error message.
async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("api" + path, opts);
  let data;
  try { data = await resp.json(); } catch (e) { data = { error: "answer is not JSON (" + resp.status + ")" }; }
  if (!resp.ok) throw new Error(data.error || ("HTTP " + resp.status));
  return data;
}

const enc = encodeURIComponent;
const fmtNum = (n) => (n === null || n === undefined || n < 0) ? "–" : Number(n).toLocaleString("en-US");
function fmtBytes(n) {
  if (n === null || n === undefined) return "n/a";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
const fmtRate = (r) => (r === undefined || r < 0) ? "–" : (r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString("en-US")) + "/s";

function errorBox(err) { return h("div", { class: "error", role: "alert" }, String(err.message || err)); }
function table(id, headers, rows) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, headers.map((c) => typeof c === "string" ? h("th", {}, c) : h("th", c[1], c[0])))),
    h("tbody", {}, rows));
}
// put replaces el's children, leaving out the null, undefined and false that
// optional parts of a view give (replaceChildren would show them as text).
function put(el, ...nodes) {
  el.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}
function render(...nodes) { put(view, ...nodes); }

// shown renders a key, value or header as the API rendered it.
function shown(s) {
  if (!s || s.format === "null") return h("span", { class: "muted" }, "null");
  return h("div", {}, h("pre", {}, s.text),
    h("span", { class: "fmt" }, s.format + (s.truncated ? ", cut at 64 KiB of " + fmtNum(s.size) + " B" : "")));
}

// ---- live numbers: /api/live every 2 s, into whatever cells are shown ----
const live = { rates: {}, timer: null };
async function pollLive() {
  if (document.hidden) return;
  try {
    const data = await api("GET", "/live");
    let total = 0, known = false;
    for (const t of data.topics) {
      live.rates[t.topic] = t;
      if (t.records_per_sec >= 0) { total += t.records_per_sec; known = true; }
    }
    document.getElementById("live-status").textContent = "live: " + (known ? fmtRate(total) : "…");
    for (const cell of document.querySelectorAll("[data-live-records]")) {
      const t = live.rates[cell.dataset.liveRecords];
      if (t) cell.textContent = fmtNum(t.records);
    }
    for (const cell of document.querySelectorAll("[data-live-rate]")) {
      const t = live.rates[cell.dataset.liveRate];
      cell.textContent = t ? fmtRate(t.records_per_sec) : "–";
    }
  } catch (e) {
    document.getElementById("live-status").textContent = "live: unavailable";
  }
}
function startLive() {
  if (live.timer) return;
  pollLive();
  live.timer = setInterval(pollLive, 2000);
}

// ---- views ----
async function brokersView() {
  const c = await api("GET", "/cluster");
  render(
    h("h1", {}, "Brokers"),
    h("div", { class: "cards" },
      h("div", { class: "card" }, "Cluster id", h("b", {}, c.cluster_id || "–")),
      h("div", { class: "card" }, "Controller", h("b", { id: "controller" }, c.controller >= 0 ? "broker " + c.controller : "none")),
      h("div", { class: "card" }, "Brokers", h("b", {}, c.brokers.length))),
    table("brokers-table", ["Id", "Host", "Port", "Rack", "Role"],
      c.brokers.map((b) => h("tr", {},
        h("td", {}, b.id), h("td", {}, b.host), h("td", {}, b.port), h("td", {}, b.rack || "–"),
        h("td", {}, b.is_controller ? h("b", {}, "controller") : "broker")))),
    h("p", { class: "muted" }, "The console reads the cluster as a Kafka client through " + c.seeds.join(", ") + "."));
}

async function topicsView() {
  const data = await api("GET", "/topics");
  const rows = data.topics.map((t) => h("tr", { "data-topic": t.name },
    h("td", {}, h("a", { href: "#/topics/" + enc(t.name) }, t.name), t.internal ? h("span", { class: "fmt" }, "internal") : null),
    h("td", { class: "num" }, t.partitions),
    h("td", { class: "num" }, t.replication_factor),
    h("td", { class: "num", "data-live-records": t.name }, fmtNum(t.records)),
    h("td", { class: "num" }, fmtBytes(t.size_bytes)),
    h("td", { class: "num " + (t.under_replicated ? "warn" : "") }, t.under_replicated),
    h("td", { class: "num " + (t.offline ? "bad" : "") }, t.offline),
    h("td", { class: "num", "data-live-rate": t.name }, fmtRate(live.rates[t.name] && live.rates[t.name].records_per_sec)),
    h("td", { class: "bad" }, t.error || "")));
  render(
    h("h1", {}, "Topics"),
    data.size_note ? h("div", { class: "note" }, data.size_note) : null,
    table("topics-table", ["Topic", ["Partitions", { class: "num" }], ["RF", { class: "num" }], ["Records", { class: "num" }],
      ["Size", { class: "num" }], ["Under-replicated", { class: "num" }], ["Offline", { class: "num" }],
      ["In (live)", { class: "num" }], ""], rows));
  pollLive();
}

function topicTabs(topic, active) {
  const tabs = [["partitions", "Partitions"], ["messages", "Messages"], ["produce", "Produce"], ["search", "Search by key"], ["configs", "Configs"]];
  return h("div", { class: "tabs" }, tabs.map(([k, label]) =>
    h("a", { href: "#/topics/" + enc(topic) + "/" + k, class: k === active ? "active" : null, "data-tab": k }, label)));
}

async function topicView(topic, tab, query) {
  const head = [h("h1", {}, "Topic ", topic, " ", h("span", { class: "muted", "data-live-rate": topic }, "")), topicTabs(topic, tab)];
  switch (tab) {
    case "messages": return messagesView(topic, head, query);
    case "produce": return produceView(topic, head);
    case "search": return searchView(topic, head, query);
    case "configs": return configsView(topic, head);
  }
  const t = await api("GET", "/topics/" + enc(topic));
  render(...head,
    t.size_note ? h("div", { class: "note" }, t.size_note) : null,
    table("partitions-table", [["Partition", { class: "num" }], ["Leader", { class: "num" }], ["Epoch", { class: "num" }], "Replicas", "ISR",
      ["Start", { class: "num" }], ["End", { class: "num" }], ["Records", { class: "num" }], ["Size", { class: "num" }], ""],
      t.partitions.map((p) => h("tr", {},
        h("td", { class: "num" }, h("a", { href: "#/topics/" + enc(topic) + "/messages?partition=" + p.partition }, p.partition)),
        h("td", { class: "num " + (p.leader < 0 ? "bad" : "") }, p.leader < 0 ? "none" : p.leader),
        h("td", { class: "num" }, p.leader_epoch),
        h("td", {}, p.replicas.join(", ")),
        h("td", { class: p.isr.length < p.replicas.length ? "warn" : "" }, p.isr.join(", ")),
        h("td", { class: "num" }, fmtNum(p.start_offset)),
        h("td", { class: "num" }, fmtNum(p.end_offset)),
        h("td", { class: "num" }, fmtNum(p.records)),
        h("td", { class: "num" }, fmtBytes(p.size_bytes)),
        h("td", { class: "bad" }, p.error || "")))));
  pollLive();
}

async function messagesView(topic, head, query) {
  const q = new URLSearchParams(query);
  const t = await api("GET", "/topics/" + enc(topic));
  const partition = h("select", { id: "msg-partition", name: "partition" },
    t.partitions.map((p) => h("option", { value: p.partition }, p.partition + " (" + fmtNum(p.records) + ")")));
  partition.value = q.get("partition") || "0";
  const offset = h("input", { id: "msg-offset", name: "offset", placeholder: "newest", value: q.get("offset") || "", size: 10 });
  const time = h("input", { id: "msg-time", name: "time", type: "datetime-local", step: "1" });
  const limit = h("input", { id: "msg-limit", name: "limit", value: q.get("limit") || "50", size: 4 });
  const format = h("select", { id: "msg-format", name: "format" }, ["auto", "text", "json", "hex"].map((f) => h("option", { value: f }, f)));
  format.value = q.get("format") || "auto";
  const out = h("div", { id: "messages" });
  const form = h("form", { class: "bar", id: "messages-form" },
    h("label", {}, "Partition", partition),
    h("label", {}, "From offset", offset),
    h("label", {}, "or from time (local)", time),
    h("label", {}, "Limit (≤ 500)", limit),
    h("label", {}, "Show as", format),
    h("button", { type: "submit", id: "msg-load" }, "Load"));
  const load = async (from) => {
    const p = new URLSearchParams({ partition: partition.value, limit: limit.value, format: format.value });
    if (from !== undefined) p.set("offset", from);
    else if (offset.value.trim() !== "") p.set("offset", offset.value.trim());
    else if (time.value) p.set("time", String(new Date(time.value).getTime()));
    put(out, h("p", { class: "muted" }, "Loading…"));
    try {
      const m = await api("GET", "/topics/" + enc(topic) + "/messages?" + p);
      put(out,
        h("p", { class: "muted" }, "Partition " + m.partition + ": offsets " + fmtNum(m.start_offset) + " to " + fmtNum(m.end_offset) +
          "; showing " + m.messages.length + " from " + m.from + "."),
        m.note ? h("div", { class: "note" }, m.note) : null,
        table("messages-table", [["Offset", { class: "num" }], "Timestamp", "Key", "Value", "Headers"],
          m.messages.map((r) => h("tr", { "data-offset": r.offset },
            h("td", { class: "num" }, r.offset),
            h("td", {}, r.timestamp.replace("T", " ").replace("Z", " UTC")),
            h("td", {}, shown(r.key)),
            h("td", {}, shown(r.value)),
            h("td", {}, r.headers.length ? r.headers.map((hd) => h("div", {}, h("b", {}, hd.key + ": "), shown(hd.value))) : h("span", { class: "muted" }, "–"))))),
        m.next_offset < m.end_offset ? h("button", { type: "button", class: "secondary", id: "msg-next", onclick: () => load(m.next_offset) }, "Next from " + m.next_offset) : null);
    } catch (e) {
      put(out, errorBox(e));
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  render(...head, form, out);
  await load();
}

async function produceView(topic, head) {
  const t = await api("GET", "/topics/" + enc(topic));
  const partition = h("select", { id: "produce-partition" }, h("option", { value: "" }, "by key (default partitioner)"),
    t.partitions.map((p) => h("option", { value: p.partition }, String(p.partition))));
  const key = h("input", { id: "produce-key", placeholder: "empty: null key" });
  const value = h("textarea", { id: "produce-value", placeholder: "{\"hello\": \"world\"}" });
  const headers = h("textarea", { id: "produce-headers", placeholder: "one header per line: name=value", style: "min-height:40px" });
  const result = h("div", { id: "produce-result" });
  const form = h("form", { class: "stack", id: "produce-form" },
    h("label", {}, "Partition", partition), h("label", {}, "Key", key), h("label", {}, "Value", value),
    h("label", {}, "Headers", headers), h("div", {}, h("button", { type: "submit", id: "produce-send" }, "Produce")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { value: value.value, headers: [] };
    if (key.value !== "") body.key = key.value;
    if (partition.value !== "") body.partition = Number(partition.value);
    for (const line of headers.value.split("\n")) {
      if (!line.trim()) continue;
      const i = line.indexOf("=");
      body.headers.push(i < 0 ? { key: line.trim(), value: "" } : { key: line.slice(0, i).trim(), value: line.slice(i + 1) });
    }
    put(result, h("p", { class: "muted" }, "Sending…"));
    try {
      const r = await api("POST", "/topics/" + enc(topic) + "/messages", body);
      put(result, h("p", { class: "ok" }, "Written to partition " + r.partition + " at offset " + r.offset + " (" + r.timestamp + "). ",
        h("a", { href: "#/topics/" + enc(topic) + "/messages?partition=" + r.partition + "&offset=" + r.offset }, "Show it")));
    } catch (e) {
      put(result, errorBox(e));
    }
  });
  render(...head, form, result);
}

async function searchView(topic, head, query) {
  const q = new URLSearchParams(query);
  const key = h("input", { id: "search-key", value: q.get("key") || "", placeholder: "exact key" });
  const maxScan = h("input", { id: "search-max", value: q.get("max_scan") || "10000", size: 8 });
  const out = h("div", { id: "search-result" });
  const form = h("form", { class: "bar", id: "search-form" }, h("label", {}, "Key", key),
    h("label", {}, "Scan at most (≤ 100,000)", maxScan), h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    put(out, h("p", { class: "muted" }, "Scanning…"));
    try {
      const r = await api("GET", "/topics/" + enc(topic) + "/search?" + new URLSearchParams({ key: key.value, max_scan: maxScan.value }));
      put(out, h("div", { class: "note" }, r.note),
        h("p", {}, r.matches.length + " match" + (r.matches.length === 1 ? "" : "es") + "."),
        table("search-table", [["Partition", { class: "num" }], ["Offset", { class: "num" }], "Timestamp", "Value"],
          r.matches.map((m) => h("tr", {}, h("td", { class: "num" }, m.partition),
            h("td", { class: "num" }, h("a", { href: "#/topics/" + enc(topic) + "/messages?partition=" + m.partition + "&offset=" + m.offset }, m.offset)),
            h("td", {}, m.timestamp), h("td", {}, shown(m.value))))),
        h("p", { class: "muted" }, "Scanned: " + r.scanned.map((s) => "p" + s.partition + " [" + s.from + ", " + s.reached + ")").join(", ")));
    } catch (e) {
      put(out, errorBox(e));
    }
  });
  render(...head, form, out);
}

async function configsView(topic, head) {
  const data = await api("GET", "/topics/" + enc(topic) + "/configs");
  const status = h("div", { id: "config-status" });
  const change = async (body) => {
    try {
      await api("POST", "/topics/" + enc(topic) + "/configs", body);
      await configsView(topic, head);
      put(document.getElementById("config-status"), h("p", { class: "ok" }, "Saved."));
    } catch (e) {
      put(status, errorBox(e));
    }
  };
  const rows = data.configs.map((c) => {
    const input = h("input", { value: c.value === null ? "" : c.value, size: 30, "data-config": c.name, disabled: c.sensitive });
    return h("tr", {},
      h("td", {}, c.name), h("td", {}, input), h("td", { class: "muted" }, c.source),
      h("td", {}, h("button", { type: "button", onclick: () => change({ set: { [c.name]: input.value } }) }, "Save"), " ",
        c.source === "DYNAMIC_TOPIC_CONFIG" ? h("button", { type: "button", class: "secondary", onclick: () => change({ delete: [c.name] }) }, "Reset to default") : null));
  });
  render(...head, status, table("configs-table", ["Name", "Value", "Source", ""], rows));
}

async function groupsView() {
  const data = await api("GET", "/groups");
  render(h("h1", {}, "Consumer groups"),
    data.groups.length ? null : h("p", { class: "muted" }, "No groups yet."),
    table("groups-table", ["Group", "State", ["Members", { class: "num" }], ["Coordinator", { class: "num" }], ["Total lag", { class: "num" }], ""],
      data.groups.map((g) => h("tr", { "data-group": g.group },
        h("td", {}, h("a", { href: "#/groups/" + enc(g.group) }, g.group)),
        h("td", {}, g.state), h("td", { class: "num" }, g.members), h("td", { class: "num" }, g.coordinator),
        h("td", { class: "num" }, fmtNum(g.total_lag)), h("td", { class: "bad" }, g.error || "")))));
}

async function groupView(group) {
  const g = await api("GET", "/groups/" + enc(group));
  const topics = [...new Set(g.lag.map((l) => l.topic))];
  render(
    h("h1", {}, "Group ", group),
    h("div", { class: "cards" },
      h("div", { class: "card" }, "State", h("b", { id: "group-state" }, g.state)),
      h("div", { class: "card" }, "Members", h("b", {}, g.members.length)),
      h("div", { class: "card" }, "Total lag", h("b", { id: "group-lag" }, fmtNum(g.total_lag))),
      h("div", { class: "card" }, "Coordinator", h("b", {}, g.coordinator))),
    h("h2", {}, "Members"),
    g.members.length ? table("members-table", ["Member", "Client id", "Host", "Assigned"],
      g.members.map((m) => h("tr", {}, h("td", {}, m.member_id), h("td", {}, m.client_id), h("td", {}, m.client_host),
        h("td", {}, Object.entries(m.assigned).map(([t, ps]) => t + ": " + ps.join(", ")).join("; "))))) : h("p", { class: "muted" }, "No active members."),
    h("h2", {}, "Lag per partition"),
    table("lag-table", ["Topic", ["Partition", { class: "num" }], ["Committed", { class: "num" }], ["End", { class: "num" }], ["Lag", { class: "num" }], "Member", ""],
      g.lag.map((l) => h("tr", { "data-topic": l.topic, "data-partition": l.partition },
        h("td", {}, h("a", { href: "#/topics/" + enc(l.topic) }, l.topic)), h("td", { class: "num" }, l.partition),
        h("td", { class: "num" }, l.committed < 0 ? "none" : fmtNum(l.committed)), h("td", { class: "num" }, fmtNum(l.end_offset)),
        h("td", { class: "num lag" }, fmtNum(l.lag)), h("td", {}, l.client_id || l.member || ""), h("td", { class: "bad" }, l.error || "")))),
    h("h2", {}, "Reset offsets"),
    resetForm(group, topics));
}

function resetForm(group, topics) {
  const topic = h("input", { id: "reset-topic", list: "reset-topics", value: topics[0] || "" });
  const to = h("select", { id: "reset-to" }, ["earliest", "latest", "offset", "time"].map((v) => h("option", { value: v }, v)));
  const offset = h("input", { id: "reset-offset", placeholder: "offset", size: 10 });
  const time = h("input", { id: "reset-time", type: "datetime-local", step: "1" });
  const out = h("div", { id: "reset-plan" });
  const apply = h("button", { type: "button", class: "danger", id: "reset-apply", disabled: true }, "Apply");
  const body = (dry) => {
    const b = { topic: topic.value, to: to.value, dry_run: dry };
    if (to.value === "offset") b.offset = Number(offset.value);
    if (to.value === "time") b.time = time.value ? new Date(time.value).getTime() : "";
    return b;
  };
  const run = async (dry) => {
    try {
      if (to.value === "offset" && !/^\d+$/.test(offset.value.trim())) throw new Error("the offset must be a whole number");
      const r = await api("POST", "/groups/" + enc(group) + "/reset", body(dry));
      put(out,
        h("p", { class: r.applied ? "ok" : "" }, r.applied ? "Applied." : "Plan (dry run, nothing changed yet):"),
        r.reason ? h("div", { class: "note" }, r.reason) : null,
        table("reset-table", [["Partition", { class: "num" }], ["Current", { class: "num" }], ["New", { class: "num" }], ["Start", { class: "num" }], ["End", { class: "num" }], ""],
          r.plan.map((s) => h("tr", {}, h("td", { class: "num" }, s.partition), h("td", { class: "num" }, s.current < 0 ? "none" : s.current),
            h("td", { class: "num" }, h("b", {}, s.target)), h("td", { class: "num" }, s.start_offset), h("td", { class: "num" }, s.end_offset),
            h("td", { class: "muted" }, s.note || "")))));
      apply.disabled = !(dry && r.can_apply);
      if (r.applied) setTimeout(() => groupView(group).catch(showError), 300);
    } catch (e) {
      put(out, errorBox(e));
      apply.disabled = true;
    }
  };
  for (const el of [topic, to, offset, time]) el.addEventListener("change", () => { apply.disabled = true; });
  apply.addEventListener("click", () => { if (confirm("Commit these offsets for group " + group + "?")) run(false); });
  return h("div", {},
    h("datalist", { id: "reset-topics" }, topics.map((t) => h("option", { value: t }))),
    h("form", { class: "bar", id: "reset-form", onsubmit: (ev) => { ev.preventDefault(); run(true); } },
      h("label", {}, "Topic", topic), h("label", {}, "To", to), h("label", {}, "Offset", offset), h("label", {}, "Time (local)", time),
      h("button", { type: "submit", id: "reset-dry" }, "Dry run"), apply),
    h("p", { class: "muted" }, "A reset needs the group to have no active members; the dry run shows the plan either way."),
    out);
}

async function transactionsView(id) {
  const data = await api("GET", "/transactions");
  const detail = h("div", { id: "txn-detail" });
  render(h("h1", {}, "Transactions"),
    data.transactions.length ? null : h("p", { class: "muted" }, "No transactional ids."),
    table("txns-table", ["Transactional id", ["Producer id", { class: "num" }], "State", ["Coordinator", { class: "num" }]],
      data.transactions.map((t) => h("tr", {}, h("td", {}, h("a", { href: "#/transactions/" + enc(t.txn_id) }, t.txn_id)),
        h("td", { class: "num" }, t.producer_id), h("td", {}, t.state), h("td", { class: "num" }, t.coordinator)))),
    detail);
  if (!id) return;
  try {
    const d = await api("GET", "/transactions/" + enc(id));
    put(detail, h("h2", {}, id),
      table("txn-table", ["Field", "Value"], [
        ["State", d.state], ["Producer id / epoch", d.producer_id + " / " + d.producer_epoch], ["Timeout", d.timeout_ms + " ms"],
        ["Started", d.started || "–"],
        ["Partitions", Object.entries(d.partitions).map(([t, ps]) => t + ": " + ps.join(", ")).join("; ") || "none"],
      ].map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))));
  } catch (e) {
    put(detail, errorBox(e));
  }
}

// ---- routing: #/topics/NAME/messages?partition=0 ----
function showError(e) { render(errorBox(e)); }

async function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] || "brokers";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === section);
  try {
    switch (section) {
      case "brokers": await brokersView(); break;
      case "topics": parts[1] ? await topicView(parts[1], parts[2] || "partitions", query || "") : await topicsView(); break;
      case "groups": parts[1] ? await groupView(parts[1]) : await groupsView(); break;
      case "transactions": await transactionsView(parts[1]); break;
      default: render(h("p", {}, "Nothing here. "), h("a", { href: "#/" }, "Back to the brokers"));
    }
  } catch (e) {
    showError(e);
  }
}

window.addEventListener("hashchange", route);
route();
startLive();
