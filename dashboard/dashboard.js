// The Intermediate's admin dashboard (docs/dashboard.md). Read only: it
// fetches /api/status and /api/traffic every 2 s and redraws. Every value
// from the daemon goes into the page as text (textContent), never as
// markup: peer names come from certificates.
"use strict";

const KEY = "ztna-dashboard-token";
const $ = (id) => document.getElementById(id);

// The token: taken once from the URL fragment (#token=...), which browsers
// never send to the server, or from the login form; kept in sessionStorage
// (this tab only, no cookie) and removed from the address bar.
function takeToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem(KEY) || "";
}

async function api(path) {
  const token = takeToken();
  const headers = token ? { Authorization: "Bearer " + token } : {};
  /* same-origin, not omit: "credentials" include a TLS client certificate,
   * which is how an admin certificate in the browser reaches the data.
   * The dashboard sets no cookie, so nothing else rides along. */
  const r = await fetch(path, { headers, cache: "no-store", credentials: "same-origin" });
  /* 403: a client certificate that is not an admin one; the token helps. */
  if (r.status === 401 || r.status === 403) throw { unauthorized: true };
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function duration(us) {
  if (!us) return "-";
  let s = Math.floor(us / 1e6);
  const d = Math.floor(s / 86400); s %= 86400;
  const h = Math.floor(s / 3600); s %= 3600;
  const m = Math.floor(s / 60); s %= 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}
const ms = (us) => (us ? (us / 1000).toFixed(1) + " ms" : "-");
function bytes(n) {
  const u = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
  $(tableId + "-n").textContent = "(" + rows.length + ")";
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

function stateCell(text, good) {
  const td = el("td");
  td.appendChild(el("span", text, "pill " + (good === true ? "ok" : good === false ? "bad" : "warn")));
  return td;
}

function render(st) {
  $("identity").textContent = st.identity;
  const peers = (st.peers || []).map((p) => row([
    p.role || "-", p.name || "(handshaking)",
    stateCell(p.state, p.state === "up" ? true : p.state === "replaced" ? false : undefined),
    p.observed || "-", p.tunnel_address || "-",
    el("td", duration(p.uptime_us), "num"), el("td", ms(p.handshake_us), "num"),
    el("td", ms(p.rtt_us), "num"),
    (p.cert_not_after || "-") + (p.cert_expiring_soon ? " (soon!)" : ""),
  ]));
  fill("peers", peers);
  const services = (st.services || []).map((s) => {
    const conns = el("td");
    for (const c of s.connectors || [{ name: s.connector, state: s.online ? "online" : "offline" }]) {
      conns.appendChild(el("span", c.name + " " + c.state, "pill " +
        (c.state === "online" ? "ok" : c.state === "silent" ? "warn" : "bad")));
    }
    return row([s.name, s.address || "-", stateCell(s.online ? "online" : "offline", !!s.online), conns]);
  });
  fill("services", services);
  const sessions = (st.sessions || []).map((s) => row([
    el("td", s.channel, "num"), s.agent, s.connector,
    stateCell(s.path, s.path === "direct" ? true : undefined),
  ]));
  fill("sessions", sessions);
}

// Bars of bytes per interval, drawn as inline SVG (no canvas, no library).
function chart(tr) {
  const svg = $("chart");
  const NS = "http://www.w3.org/2000/svg";
  const W = 600, H = 120, top = 14, n = 60;
  const samples = tr.samples || [];
  const max = Math.max(1, ...samples.map((s) => s[1]));
  const parts = [];
  const w = W / n;
  samples.forEach((s, i) => {
    const h = Math.max(s[1] ? 1 : 0, ((H - top) * s[1]) / max);
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("x", ((n - samples.length + i) * w + 1).toFixed(1));
    r.setAttribute("y", (H - h).toFixed(1));
    r.setAttribute("width", (w - 2).toFixed(1));
    r.setAttribute("height", h.toFixed(1));
    const t = document.createElementNS(NS, "title");
    t.textContent = new Date(s[0]).toLocaleTimeString() + ": " + bytes(s[1]);
    r.appendChild(t);
    parts.push(r);
  });
  const label = document.createElementNS(NS, "text");
  label.setAttribute("class", "axis");
  label.setAttribute("x", "4");
  label.setAttribute("y", "11");
  label.textContent = "max " + bytes(max) + " per " + tr.interval_s + " s, last " +
    Math.round((n * tr.interval_s) / 60) + " min";
  parts.push(label);
  svg.replaceChildren(...parts);
  const sum = samples.reduce((a, s) => a + s[1], 0);
  $("traffic-sum").textContent = "(" + bytes(sum) + " in the last " +
    Math.round((samples.length * tr.interval_s) / 60 * 10) / 10 + " min)";
}

function showLogin(why) {
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-why").textContent = why;
  $("state").textContent = "locked";
}

let timer = null;
async function refresh() {
  try {
    const [st, tr] = await Promise.all([api("/api/status"), api("/api/traffic")]);
    render(st);
    chart(tr);
    $("login").hidden = true;
    $("main").hidden = false;
    $("state").textContent = "updated " + new Date().toLocaleTimeString();
    $("state").className = "muted";
  } catch (e) {
    if (e && e.unauthorized) {
      sessionStorage.removeItem(KEY);
      showLogin(takeToken() ? "" : "This dashboard needs its access token.");
      return; // no polling until a token is given
    }
    $("state").textContent = "cannot reach the daemon: " + (e.message || e);
    $("state").className = "bad";
  }
  timer = setTimeout(refresh, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    clearTimeout(timer);
    refresh();
  });
  refresh();
});
