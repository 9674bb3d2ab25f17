// alertflow console: the root-cause graph and the analytics charts, as inline SVG.
// Loaded before console.js (which calls these); labels go in with textContent only.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
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

// Every day (or week) from the first to the last with data, so quiet ones show as gaps.
function allPeriods(trend, key, stepDays) {
  const byKey = new Map(trend.map((d) => [d[key], d]));
  const out = [];
  const last = new Date(`${trend[trend.length - 1][key]}T00:00:00Z`);
  for (let d = new Date(`${trend[0][key]}T00:00:00Z`); d <= last; d.setUTCDate(d.getUTCDate() + stepDays)) {
    const at = d.toISOString().slice(0, 10);
    out.push(byKey.get(at) || { [key]: at, notifications: 0, incidents_opened: 0 });
  }
  return out;
}

// key "day" (one bar pair per day) or "week" (per week, labelled by its Monday).
function trendChart(trend, key = "day") {
  if (!trend.length) return empty("No alerts in this range.");
  const days = allPeriods(trend, key, key === "week" ? 7 : 1);
  const per = key === "week" ? "Per week (from Monday)" : "Per day";
  const width = 1200, height = 200, left = 36, bottom = 30, top = 28;
  const max = Math.max(...days.flatMap((d) => [d.notifications, d.incidents_opened]), 1);
  const slot = (width - left) / days.length, barW = Math.min(18, (slot - 4) / 2);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `${per}: ${days.map((d) => `${d[key]} ${d.notifications} notifications, ${d.incidents_opened} incidents`).join("; ")}` });
  root.append(svg("line", { x1: left, y1: y(0), x2: width, y2: y(0), stroke: "#9ca3af" }));
  root.append(svg("text", { x: left - 4, y: y(max) + 4, "text-anchor": "end", "font-size": "11", fill: "#4b5563" }, String(max)));
  root.append(svg("text", { x: left - 4, y: y(0) + 4, "text-anchor": "end", "font-size": "11", fill: "#4b5563" }, "0"));
  const every = Math.ceil(days.length / 10);
  days.forEach((d, i) => {
    const x = left + i * slot + slot / 2;
    root.append(svg("rect", { x: x - barW - 1, y: y(d.notifications), width: barW, height: y(0) - y(d.notifications), fill: "#2563eb", class: "bar" }));
    root.append(svg("rect", { x: x + 1, y: y(d.incidents_opened), width: barW, height: y(0) - y(d.incidents_opened), fill: "#dc2626", class: "bar" }));
    if (i % every === 0) {
      const label = key === "week" ? `wk ${d[key].slice(5)}` : d[key].slice(5);
      root.append(svg("text", { x, y: height - bottom + 16, "text-anchor": "middle", "font-size": "11", fill: "#374151" }, label));
    }
  });
  root.append(svg("rect", { x: width - 250, y: 2, width: 10, height: 10, fill: "#2563eb" }));
  root.append(svg("text", { x: width - 236, y: 11, "font-size": "11", fill: "#374151" }, "notifications"));
  root.append(svg("rect", { x: width - 140, y: 2, width: 10, height: 10, fill: "#dc2626" }));
  root.append(svg("text", { x: width - 126, y: 11, "font-size": "11", fill: "#374151" }, "incidents opened"));
  return root;
}
