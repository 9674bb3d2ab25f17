// alertflow console: plain DOM and inline SVG over the REST API; no build step, no network
// beyond this server. Data is inserted with textContent only (incident text is untrusted).
"use strict";

const TOKEN_KEY = "alertflow.token";
const POLL_MS = 5000;
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

const knownTeams = new Set();

// Keep every team seen unfiltered in the picker, so choosing one does not hide the others.
function teamOptions(teams) {
  const picker = $("analytics-team");
  const chosen = picker.value;
  teams.forEach((t) => knownTeams.add(t.team));
  const options = [el("option", { value: "", text: "All teams" }),
    ...[...knownTeams].sort().map((t) => el("option", { value: t, text: t }))];
  picker.replaceChildren(...options);
  picker.value = chosen;
}

function teamTable(teams) {
  const cells = (t) => [t.team, t.notifications, t.alerts, t.flapping_alerts,
    `${Math.round(t.absorbed_share * 100)} %`, t.incidents, duration(t.mtta_s), duration(t.mttr_s),
    t.noisiest_rule || "—"];
  $("team-rows").replaceChildren(...teams.map((t) => el("tr", {}, ...cells(t).map((c) => el("td", { text: String(c) })))));
  $("no-teams").hidden = teams.length > 0;
}

async function loadAnalytics() {
  const team = $("analytics-team").value;
  const query = `days=${$("analytics-days").value}${team ? `&team=${encodeURIComponent(team)}` : ""}`;
  let data;
  try {
    data = await api(`/api/v1/analytics/alerts?${query}`);
  } catch (error) {
    fail(`Analytics: ${error.message}`);
    return;
  }
  if (!team) teamOptions(data.teams);
  const i = data.incidents;
  const stats = [["Incidents opened", i.opened], ["Acknowledged", i.acknowledged],
    ["Resolved", i.resolved], ["MTTA", duration(i.mtta_s)], ["MTTR", duration(i.mttr_s)]];
  $("stats").replaceChildren(...stats.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: String(v) }))));
  const byRule = new Map(data.rules.map((r) => [r.rule, r]));
  const noisy = data.noisiest_rules.slice(0, 8).map((r) => [r, byRule.get(r)?.notifications || 0]);
  const flapping = data.flapping_rules.slice(0, 8).map((r) => [r, byRule.get(r)?.flapping_alerts || 0]);
  const teams = data.teams.slice(0, 8).map((t) => [t.team, t.notifications]);
  const absorbed = data.teams.slice(0, 8).map((t) => [t.team, Math.round(t.absorbed_share * 100)]);
  $("chart-noisy").replaceChildren(barsH(noisy, "Noisiest rules", "#2563eb"));
  $("chart-flapping").replaceChildren(barsH(flapping, "Flapping rules", "#d97706"));
  $("chart-teams").replaceChildren(barsH(teams, "Notifications per team", "#7c3aed"));
  $("chart-absorbed").replaceChildren(barsH(absorbed, "Percent absorbed into incidents per team", "#059669"));
  teamTable(data.teams);
  const weekly = $("trend-period").value === "week";
  $("chart-trend").replaceChildren(weekly ? trendChart(data.weekly, "week") : trendChart(data.trend));
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
  $("analytics-team").addEventListener("change", loadAnalytics);
  $("trend-period").addEventListener("change", loadAnalytics);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
