// alertflow console: plain DOM and inline SVG over the REST API; no build step, no network
// beyond this server. Data is inserted with textContent only (incident text is untrusted).
"use strict";

const TOKEN_KEY = "alertflow.token";
const POLL_MS = 5000;
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = { selected: null, cursor: null, timer: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(iso) {
  if (!iso) return "–";
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function say(text) { $("message").textContent = text; }

function fail(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
  if (text) say("");  // an old success line next to a new error misleads
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const detail = body && body.detail;
    const reason = typeof detail === "string" ? detail : JSON.stringify(detail || response.statusText);
    const error = new Error(`${response.status}: ${reason}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// --- sign in -------------------------------------------------------------------------

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api("/api/v1/incidents?limit=1");
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    fail(error.status === 401 ? "That token was not accepted." : `Sign-in failed: ${error.message}`);
    return;
  }
  fail("");
  $("login").hidden = true;
  $("welcome").hidden = true;
  $("session").hidden = false;
  $("app").hidden = false;
  say("Signed in.");
  refreshAll();
  state.timer = setInterval(() => { if (!document.hidden) loadIncidents(); }, POLL_MS);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  $("app").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  $("welcome").hidden = false;
  $("token").value = "";
  say("Signed out.");
}

function refreshAll() {
  loadIncidents();
  loadSilences();
  loadAnalytics();
}

// --- incidents -----------------------------------------------------------------------

function filterQuery() {
  const form = new FormData($("filters"));
  const query = new URLSearchParams({ limit: "50" });
  for (const key of ["status", "severity", "service"]) {
    const value = String(form.get(key) || "").trim();
    if (value) query.set(key, value);
  }
  return query;
}

async function loadIncidents(append = false) {
  const query = filterQuery();
  if (append && state.cursor) query.set("cursor", state.cursor);
  let page;
  try {
    page = await api(`/api/v1/incidents?${query}`);
  } catch (error) {
    fail(`Incidents: ${error.message}`);
    return;
  }
  const rows = $("incident-rows");
  if (!append) rows.replaceChildren();
  for (const inc of page.items) rows.append(incidentRow(inc));
  state.cursor = page.next_cursor;
  $("more").hidden = !page.next_cursor;
  $("no-incidents").hidden = rows.children.length > 0;
  $("refreshed").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

function incidentRow(inc) {
  const top = inc.root_causes[0];
  const open = el("button", { type: "button", class: "link", text: inc.incident_id,
    "aria-label": `Open incident ${inc.incident_id}`, onclick: () => openIncident(inc.incident_id) });
  const status = el("span", { class: `badge status-${inc.status}`, text: inc.status });
  const row = el("tr", { class: inc.incident_id === state.selected ? "selected" : "" },
    el("td", {}, open),
    el("td", {}, status, inc.acknowledged_at ? el("span", { class: "badge ack", text: "ack" }) : ""),
    el("td", {}, el("span", { class: `badge sev-${inc.severity}`, text: inc.severity })),
    el("td", { text: inc.services.join(", ") }),
    el("td", { text: top ? `${top.service} (${top.score.toFixed(2)})` : "–" }),
    el("td", { class: "when", text: when(inc.opened_at) }));
  return row;
}

async function openIncident(id) {
  state.selected = id;
  let inc;
  try {
    inc = await api(`/api/v1/incidents/${encodeURIComponent(id)}`);
  } catch (error) {
    fail(`Incident ${id}: ${error.message}`);
    return;
  }
  for (const row of $("incident-rows").children) {
    row.classList.toggle("selected", row.querySelector("button")?.textContent === id);
  }
  $("detail-empty").hidden = true;
  $("detail-body").hidden = false;
  $("detail-h").textContent = `Incident ${inc.incident_id}`;
  $("detail-summary").textContent = inc.summary;
  showFacts(inc);
  $("ack").disabled = Boolean(inc.acknowledged_at);
  $("resolve").disabled = Boolean(inc.resolved_at || inc.operator_resolved_at);
  $("graph").replaceChildren(causeGraph(inc));
  showCauses(inc);
  showTimeline(inc);
}

function showFacts(inc) {
  const facts = [
    ["Status", inc.status], ["Severity", inc.severity], ["Domain", inc.domain],
    ["Opened", when(inc.opened_at)], ["Updated", when(inc.updated_at)],
    ["Acknowledged", inc.acknowledged_at ? `${when(inc.acknowledged_at)} by ${inc.acknowledged_by}` : "no"],
    ["Resolved", inc.resolved_at ? when(inc.resolved_at)
      : inc.operator_resolved_at ? `${when(inc.operator_resolved_at)} by ${inc.operator_resolved_by}` : "no"],
    ["Members", String(inc.members.length)],
  ];
  $("detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
}

function showCauses(inc) {
  const list = $("causes");
  list.replaceChildren(...inc.root_causes.map((c) => el("li", {},
    el("strong", { text: c.service }), ` score ${c.score.toFixed(2)}`,
    el("ul", {}, ...c.evidence.map((e) => el("li", { text: e }))))));
  if (!inc.root_causes.length) list.append(el("li", { class: "muted", text: "no ranked cause yet" }));
}

function showTimeline(inc) {
  const items = [];
  for (const v of inc.timeline || []) {
    const top = v.root_causes[0];
    items.push({ at: v.updated_at, text: `version ${v.version}: ${v.status}, ${v.severity}, ` +
      `services ${v.services.join(", ")}${top ? `; top cause ${top.service}` : ""}` });
  }
  for (const a of inc.actions || []) {
    items.push({ at: a.at, text: `${a.action} by ${a.by}${a.note ? `: ${a.note}` : ""}`, action: true });
  }
  items.sort((a, b) => a.at.localeCompare(b.at));
  $("timeline").replaceChildren(...items.map((i) => el("li", { class: i.action ? "action" : "" },
    el("time", { datetime: i.at, text: when(i.at) }), " ", i.text)));
}

// Services as nodes, dependencies read from the ranking's evidence ("depends on X, Y, also
// failing" / "its dependencies are healthy (X)"); ranked causes are filled by rank.
function graphModel(inc) {
  const rank = new Map(inc.root_causes.map((c, i) => [c.service, i]));
  const nodes = [...new Set([...inc.services, ...rank.keys()])];
  const edges = [];
  for (const c of inc.root_causes) {
    for (const e of c.evidence) {
      const found = e.match(/^depends on (.+), also failing/) || e.match(/dependencies are healthy \((.+)\)/);
      if (!found) continue;
      for (const dep of found[1].split(", ")) {
        if (!nodes.includes(dep)) nodes.push(dep);
        edges.push({ from: c.service, to: dep, inferred: false });
      }
    }
  }
  const top = inc.root_causes[0]?.service;
  if (!edges.length && top) {  // no topology known: show the impact of the top cause
    for (const n of nodes) if (n !== top) edges.push({ from: n, to: top, inferred: true });
  }
  return { nodes, edges, rank };
}

function layers(nodes, edges) {
  const depth = new Map(nodes.map((n) => [n, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {  // longest path; cycles stop at n passes
    for (const e of edges) depth.set(e.to, Math.max(depth.get(e.to), depth.get(e.from) + 1));
  }
  const rows = [];
  for (const n of nodes) (rows[depth.get(n)] ||= []).push(n);
  return rows.filter(Boolean);
}

function causeGraph(inc) {
  const { nodes, edges, rank } = graphModel(inc);
  const rows = layers(nodes, edges);
  const width = 560, rowH = 86, nodeW = 128, nodeH = 40;
  const height = rows.length * rowH + 28;
  const at = new Map();
  rows.forEach((row, r) => row.forEach((n, i) => {
    at.set(n, { x: ((i + 0.5) * width) / row.length, y: 30 + r * rowH + nodeH / 2 });
  }));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Root-cause graph: ${nodes.length} services, top cause ${inc.root_causes[0]?.service || "none"}` });
  root.append(svg("title", {}, "Services of the incident; ranked causes highlighted"));
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#6b7280" }));
  defs.append(marker);
  root.append(defs);
  for (const e of edges) {
    const a = at.get(e.from), b = at.get(e.to);
    const down = b.y > a.y ? 1 : b.y < a.y ? -1 : 0;
    root.append(svg("line", { x1: a.x, y1: a.y + down * nodeH / 2, x2: b.x, y2: b.y - down * nodeH / 2,
      stroke: "#6b7280", "stroke-width": "1.5", "marker-end": "url(#arrow)",
      "stroke-dasharray": e.inferred ? "5 4" : "none", class: "edge" }));
  }
  for (const n of nodes) {
    const p = at.get(n), r = rank.get(n);
    const fill = r === 0 ? "#dc2626" : r !== undefined ? "#f59e0b" : "#e5e7eb";
    const ink = r === 0 ? "#ffffff" : "#111827";
    const g = svg("g", { class: r === undefined ? "node" : "node cause", "data-service": n });
    g.append(svg("title", {}, r === undefined ? n : `${n}: cause #${r + 1}`));
    g.append(svg("rect", { x: p.x - nodeW / 2, y: p.y - nodeH / 2, width: nodeW, height: nodeH, rx: "8",
      fill, stroke: r === undefined ? "#9ca3af" : "#7f1d1d", "stroke-width": r === 0 ? "2.5" : "1" }));
    const label = n.length > 16 ? `${n.slice(0, 15)}…` : n;
    g.append(svg("text", { x: p.x, y: p.y + (r === undefined ? 5 : -2), "text-anchor": "middle",
      "font-size": "13", fill: ink, "font-weight": r === undefined ? "400" : "600" }, label));
    if (r !== undefined) {
      const score = inc.root_causes[r].score.toFixed(2);
      g.append(svg("text", { x: p.x, y: p.y + 14, "text-anchor": "middle", "font-size": "11", fill: ink },
        `cause #${r + 1} · ${score}`));
    }
    root.append(g);
  }
  const legend = svg("text", { x: 6, y: height - 8, "font-size": "11", fill: "#4b5563" },
    edges.some((e) => e.inferred) ? "dashed: affected service → top cause (no topology known)"
      : "arrows: service → its dependency");
  root.append(legend);
  return root;
}

async function act(path, body, done) {
  if (!state.selected) return;
  try {
    await api(`/api/v1/incidents/${encodeURIComponent(state.selected)}/${path}`, { method: "POST", body });
  } catch (error) {
    fail(`${done}: ${error.message}`);
    return;
  }
  fail("");
  say(`${done}: ${state.selected}.`);
  await openIncident(state.selected);
  loadIncidents();
  loadAnalytics();
}

// --- silences ------------------------------------------------------------------------

async function loadSilences() {
  let page;
  try {
    page = await api("/api/v1/silences");
  } catch (error) {
    $("silence-rows").replaceChildren();
    $("no-silences").hidden = false;
    $("no-silences").textContent = `Silences unavailable: ${error.message}`;
    return;
  }
  $("silence-rows").replaceChildren(...page.silences.map((s) => el("tr", {},
    el("td", {}, el("code", { text: s.matchers.join(" ") })),
    el("td", {}, el("span", { class: `badge silence-${s.state}`, text: s.state })),
    el("td", { text: when(s.ends_at) }),
    el("td", { text: s.created_by }),
    el("td", { text: s.comment }),
    el("td", {}, el("button", { type: "button", class: "quiet", text: "Expire",
      "aria-label": `Expire silence ${s.matchers.join(" ")}`, onclick: () => expireSilence(s) })))));
  $("no-silences").textContent = "No silences in force or to come.";
  $("no-silences").hidden = page.silences.length > 0;
}

async function createSilence(event) {
  event.preventDefault();
  const matchers = $("silence-matchers").value.split(/[\s,]+/).filter(Boolean);
  const body = { matchers, duration_s: Number($("silence-duration").value),
    comment: $("silence-comment").value };
  try {
    await api("/api/v1/silences", { method: "POST", body });
  } catch (error) {
    fail(`Silence not created: ${error.message}`);
    return;
  }
  fail("");
  say(`Silence created: ${matchers.join(" ")}.`);
  $("silence-form").reset();
  loadSilences();
}

async function expireSilence(s) {
  try {
    await api(`/api/v1/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" });
  } catch (error) {
    fail(`Silence not expired: ${error.message}`);
    return;
  }
  say(`Silence expired: ${s.matchers.join(" ")}.`);
  loadSilences();
}

// --- analytics -----------------------------------------------------------------------

async function loadAnalytics() {
  let data;
  try {
    data = await api(`/api/v1/analytics/alerts?days=${$("analytics-days").value}`);
  } catch (error) {
    fail(`Analytics: ${error.message}`);
    return;
  }
  const i = data.incidents;
  const stats = [["Incidents opened", i.opened], ["Acknowledged", i.acknowledged],
    ["Resolved", i.resolved], ["MTTA", duration(i.mtta_s)], ["MTTR", duration(i.mttr_s)]];
  $("stats").replaceChildren(...stats.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: String(v) }))));
  const byRule = new Map(data.rules.map((r) => [r.rule, r]));
  const noisy = data.noisiest_rules.slice(0, 8).map((r) => [r, byRule.get(r)?.notifications || 0]);
  const flapping = data.flapping_rules.slice(0, 8).map((r) => [r, byRule.get(r)?.flapping_alerts || 0]);
  $("chart-noisy").replaceChildren(barsH(noisy, "Noisiest rules", "#2563eb"));
  $("chart-flapping").replaceChildren(barsH(flapping, "Flapping rules", "#d97706"));
  $("chart-trend").replaceChildren(trendChart(data.trend));
}

function empty(text) { return el("p", { class: "muted", text }); }

function barsH(pairs, name, color) {
  if (!pairs.length) return empty("None in this range.");
  const width = 520, rowH = 26, labelW = 150, max = Math.max(...pairs.map((p) => p[1]), 1);
  const height = pairs.length * rowH + 6;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `${name}: ${pairs.map(([k, v]) => `${k} ${v}`).join(", ")}` });
  pairs.forEach(([label, value], i) => {
    const y = 4 + i * rowH, w = ((width - labelW - 40) * value) / max;
    root.append(svg("text", { x: labelW - 6, y: y + 15, "text-anchor": "end", "font-size": "12", fill: "#111827" },
      label.length > 22 ? `${label.slice(0, 21)}…` : label));
    root.append(svg("rect", { x: labelW, y, width: Math.max(w, 1), height: rowH - 8, fill: color, rx: "2", class: "bar" }));
    root.append(svg("text", { x: labelW + w + 4, y: y + 14, "font-size": "11", fill: "#374151" }, String(value)));
  });
  return root;
}

// Every day from the first to the last with data, so quiet days show as gaps.
function allDays(trend) {
  const byDay = new Map(trend.map((d) => [d.day, d]));
  const out = [];
  const last = new Date(`${trend[trend.length - 1].day}T00:00:00Z`);
  for (let d = new Date(`${trend[0].day}T00:00:00Z`); d <= last; d.setUTCDate(d.getUTCDate() + 1)) {
    const day = d.toISOString().slice(0, 10);
    out.push(byDay.get(day) || { day, notifications: 0, incidents_opened: 0 });
  }
  return out;
}

function trendChart(trend) {
  if (!trend.length) return empty("No alerts in this range.");
  const days = allDays(trend);
  const width = 1200, height = 200, left = 36, bottom = 30, top = 28;
  const max = Math.max(...days.flatMap((d) => [d.notifications, d.incidents_opened]), 1);
  const slot = (width - left) / days.length, barW = Math.min(18, (slot - 4) / 2);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `Per day: ${days.map((d) => `${d.day} ${d.notifications} notifications, ${d.incidents_opened} incidents`).join("; ")}` });
  root.append(svg("line", { x1: left, y1: y(0), x2: width, y2: y(0), stroke: "#9ca3af" }));
  root.append(svg("text", { x: left - 4, y: y(max) + 4, "text-anchor": "end", "font-size": "11", fill: "#4b5563" }, String(max)));
  root.append(svg("text", { x: left - 4, y: y(0) + 4, "text-anchor": "end", "font-size": "11", fill: "#4b5563" }, "0"));
  const every = Math.ceil(days.length / 10);
  days.forEach((d, i) => {
    const x = left + i * slot + slot / 2;
    root.append(svg("rect", { x: x - barW - 1, y: y(d.notifications), width: barW, height: y(0) - y(d.notifications), fill: "#2563eb", class: "bar" }));
    root.append(svg("rect", { x: x + 1, y: y(d.incidents_opened), width: barW, height: y(0) - y(d.incidents_opened), fill: "#dc2626", class: "bar" }));
    if (i % every === 0) {
      root.append(svg("text", { x, y: height - bottom + 16, "text-anchor": "middle", "font-size": "11", fill: "#374151" }, d.day.slice(5)));
    }
  });
  root.append(svg("rect", { x: width - 250, y: 2, width: 10, height: 10, fill: "#2563eb" }));
  root.append(svg("text", { x: width - 236, y: 11, "font-size": "11", fill: "#374151" }, "notifications"));
  root.append(svg("rect", { x: width - 140, y: 2, width: 10, height: 10, fill: "#dc2626" }));
  root.append(svg("text", { x: width - 126, y: 11, "font-size": "11", fill: "#374151" }, "incidents opened"));
  return root;
}

// --- wiring --------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
  $("logout").addEventListener("click", signOut);
  $("filters").addEventListener("input", () => loadIncidents());
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadIncidents(); });
  $("more").addEventListener("click", () => loadIncidents(true));
  $("ack").addEventListener("click", () => act("acknowledge", { note: "" }, "Acknowledged"));
  $("resolve").addEventListener("click", () => act("resolve", { note: "" }, "Resolved"));
  $("give-verdict").addEventListener("click", () => act("verdict", { verdict: $("verdict").value }, "Verdict given"));
  $("silence-form").addEventListener("submit", createSilence);
  $("analytics-days").addEventListener("change", loadAnalytics);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
