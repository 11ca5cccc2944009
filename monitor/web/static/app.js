// monitor's status page. Every piece of data becomes text through textContent or an
// attribute of an element made here; no HTML string is ever built from data.
"use strict";

const POLL_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";
let csrf = "";
let seenAlerts = null;   // article ids shown so far: new ones flash once
let shownAlerts = "";    // the alerts as last drawn: redrawn only when they change, so a click never lands on a stale button
const colours = new Map();   // rule -> colour class, stable while the page is open

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

function colourOf(rule) {
  if (!colours.has(rule)) colours.set(rule, "c" + (colours.size % 8));
  return colours.get(rule);
}

function ago(iso, now) {
  if (!iso) return "never";
  const seconds = Math.round((Date.parse(now) - Date.parse(iso)) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 60 ? s + "s" : s < 3600 ? Math.round(s / 60) + "m" : s < 86400 ? Math.round(s / 3600) + "h"
    : Math.round(s / 86400) + "d";
  return future ? "in " + text : text + " ago";
}

function safeLink(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
  return data;
}

// the parts of the page ---------------------------------------------------------------

function renderHealth(state) {
  const pill = document.getElementById("health");
  pill.className = "pill " + (state.health.status === "ok" ? "ok" : "bad");
  pill.textContent = state.health.status === "ok" ? "healthy" : "unhealthy";
  pill.title = state.health.reason;
  document.getElementById("updated").textContent = "updated " + new Date(state.now).toLocaleTimeString();
}

function renderTotals(totals) {
  for (const node of document.querySelectorAll("[data-total]")) {
    const key = node.dataset.total;
    node.textContent = Number(totals[key]).toLocaleString();
    const box = node.parentElement;
    box.classList.toggle("bad", key === "dead" && totals.dead > 0);
    box.classList.toggle("warn", key === "pending" && totals.pending > 0);
  }
}

function deliveryPill(status) {
  return el("span", { class: "pill " + ({ sent: "ok", pending: "warn", dead: "bad" }[status] || "neutral"),
    text: status });
}

function feedbackButtons(alert) {
  const box = el("div", { class: "actions" });
  for (const [relevant, label, cls] of [[true, "relevant", "relevant"], [false, "not relevant", "not-relevant"]]) {
    const chosen = alert.feedback === relevant;
    const button = el("button", { type: "button", class: cls + (chosen ? " chosen" : ""), "aria-pressed": String(chosen),
      "data-article": String(alert.id), text: label });
    button.addEventListener("click", async () => {
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      try {
        await post("/api/feedback", { article: alert.id, relevant });
        for (const b of box.querySelectorAll("button")) {
          const mine = b === button;
          b.classList.toggle("chosen", mine);
          b.setAttribute("aria-pressed", String(mine));
        }
        toast("Recorded: " + label + ". `monitor train` learns from it.");
      } catch (error) {
        toast("Not recorded: " + error.message);
      } finally {
        for (const b of box.querySelectorAll("button")) b.disabled = false;
      }
    });
    box.append(button);
  }
  return box;
}

function retryButton(delivery) {
  const button = el("button", { type: "button", class: "small retry", text: "retry" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await post("/api/retry", { delivery: delivery.id });
      toast("Delivery " + delivery.id + " queued again");
      refresh();
    } catch (error) {
      toast("Not queued: " + error.message);
      button.disabled = false;
    }
  });
  return button;
}

function renderAlert(alert, now, fresh) {
  const link = safeLink(alert.url);
  const title = link ? el("a", { href: link, target: "_blank", rel: "noopener noreferrer", text: alert.title })
    : el("span", { text: alert.title });
  const meta = el("div", { class: "meta" },
    el("span", { class: "feed", text: alert.feed }),
    alert.language ? el("span", { class: "language", text: alert.language.toUpperCase() }) : null,
    el("time", { datetime: alert.seen, title: alert.seen, text: ago(alert.seen, now) }));
  const chips = el("div", { class: "chips" });
  for (const rule of alert.rules) {
    chips.append(el("span", { class: "chip rule" }, el("span", { class: "swatch " + colourOf(rule) }), rule));
  }
  const evidence = el("ul", { class: "evidence" });
  const cited = new Set();   // two rules citing the same words in the same sentence: shown once
  for (const match of alert.evidence) {
    for (const hit of match.hits) {
      const key = hit.term + "\u0000" + hit.snippet.map((piece) => piece[0]).join("");
      if (cited.has(key)) continue;
      cited.add(key);
      const line = el("li", {}, el("span", { class: "term", text: hit.term }));
      for (const [text, marked] of hit.snippet) line.append(marked ? el("mark", { text }) : document.createTextNode(text));
      evidence.append(line);
    }
  }
  const deliveries = el("div", { class: "deliveries" });
  for (const d of alert.deliveries) {
    const item = el("span", { class: "delivery", "data-status": d.status, title: d.last_error || "" },
      el("strong", { text: d.channel }), el("span", { class: "target", text: d.target }), deliveryPill(d.status));
    if (d.status === "dead") item.append(retryButton(d));
    deliveries.append(item);
  }
  return el("li", { class: "alert" + (fresh ? " fresh" : ""), "data-article": String(alert.id) },
    el("h3", {}, title), meta, chips, evidence, el("div", { class: "foot" }, deliveries, feedbackButtons(alert)));
}

function renderAlerts(state) {
  const drawn = JSON.stringify(state.alerts);
  if (drawn === shownAlerts) {   // unchanged: only the "2m ago" times move on
    for (const time of document.querySelectorAll("#alerts time")) time.textContent = ago(time.dateTime, state.now);
    return;
  }
  shownAlerts = drawn;
  const list = document.getElementById("alerts");
  const ids = new Set(state.alerts.map((a) => a.id));
  list.replaceChildren(...state.alerts.map((a) => renderAlert(a, state.now, seenAlerts !== null && !seenAlerts.has(a.id))));
  seenAlerts = ids;
  document.getElementById("alerts-empty").hidden = state.alerts.length > 0;
}

function renderFeeds(state) {
  const rows = state.feeds.map((f) => {
    const name = el("td", {}, el("div", { class: "name" }, el("span", { class: "dot" }), f.name));
    if (f.health === "failing") {
      name.append(el("div", { class: "error", text: f.failures + " failure" + (f.failures === 1 ? "" : "s") +
        " in a row: " + (f.last_error || "") }));
    }
    const status = f.health === "new" ? "not polled yet" : f.status === "304" ? "not modified" : f.status;
    return el("tr", { class: "feed " + f.health, "data-feed": f.name, "data-health": f.health },
      name,
      el("td", { title: f.last_poll || "" }, el("div", { text: ago(f.last_poll, state.now) }),
        el("div", { class: "muted", text: status || "" })),
      el("td", { class: "num", text: String(f.entries) }),
      el("td", { title: f.next_poll || "", text: f.due ? "due" : ago(f.next_poll, state.now) }));
  });
  document.getElementById("feeds").replaceChildren(...rows);
}

function renderChart(chart) {
  const width = 600, height = 180, left = 28, bottom = 20, top = 8;
  const rules = Object.keys(chart.rules);
  const days = chart.days.length;
  const totals = chart.days.map((_, i) => rules.reduce((sum, r) => sum + chart.rules[r][i], 0));
  const peak = Math.max(1, ...totals);
  const step = (width - left) / days;
  const scale = (height - top - bottom) / peak;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "matches per day per rule over the last " + days + " days" });
  root.append(svg("line", { class: "axis", x1: left, x2: width, y1: height - bottom, y2: height - bottom }));
  for (const value of [peak, Math.round(peak / 2)]) {
    const y = height - bottom - value * scale;
    root.append(svg("line", { class: "axis", x1: left, x2: width, y1: y, y2: y, "stroke-dasharray": "2 3" }));
    const label = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" });
    label.textContent = String(value);
    root.append(label);
  }
  chart.days.forEach((day, i) => {
    let y = height - bottom;
    for (const rule of rules) {
      const count = chart.rules[rule][i];
      if (!count) continue;
      const h = count * scale;
      y -= h;
      const bar = svg("rect", { x: left + i * step + 1, y, width: Math.max(step - 2, 1), height: h, class: colourOf(rule) });
      const tip = svg("title");
      tip.textContent = `${day}: ${rule} ${count}`;
      bar.append(tip);
      root.append(bar);
    }
    if ((days - 1 - i) % 7 === 0) {   // a label a week, the last on today
      const last = i === days - 1;
      const label = svg("text", { x: last ? width : left + i * step + step / 2, y: height - 5,
        "text-anchor": last ? "end" : "middle" });
      label.textContent = day.slice(5);
      root.append(label);
    }
  });
  document.getElementById("chart").replaceChildren(root);
  const legend = rules.map((rule) => el("li", {}, el("span", { class: "swatch " + colourOf(rule) }),
    rule + " " + chart.rules[rule].reduce((a, b) => a + b, 0)));
  document.getElementById("legend").replaceChildren(...(legend.length ? legend : [el("li", { class: "muted",
    text: "no matches in these 30 days" })]));
}

const ACTIVITY = {
  feed_polled: (e) => [`${e.feed}: ${e.status === 304 ? "not modified" : e.new + " new, " + e.alerts + " alerted"}`, ""],
  feed_failed: (e) => [`${e.feed} failed (${e.failures} in a row): ${e.error}`, "bad"],
  feed_recovered: (e) => [`${e.feed} is back`, "good"],
  article_matched: (e) => [`${e.feed}: matched ${e.rules.join(", ")}`, "good"],
  delivery_sent: (e) => [`sent to ${e.channel} (${e.target})`, ""],
  delivery_failed: (e) => [`delivery to ${e.channel} failed: ${e.error}`, "bad"],
  delivery_dead: (e) => [`delivery to ${e.channel} is a dead letter: ${e.reason}`, "bad"],
  worker_replaced: (e) => [`worker replaced (${e.reason})`, "bad"],
};

function renderActivity(items) {
  const rows = items.map((e) => {
    const [text, tone] = (ACTIVITY[e.kind] || ((x) => [x.kind, ""]))(e);
    return el("li", {}, el("time", { datetime: e.at, text: new Date(e.at).toLocaleTimeString() }),
      el("span", { class: "text " + tone, text }));
  });
  document.getElementById("activity").replaceChildren(...(rows.length ? rows
    : [el("li", { class: "muted", text: "nothing yet since monitor started" })]));
}

// the loop ----------------------------------------------------------------------------

async function refresh() {
  try {
    const response = await fetch("/api/state", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { window.location.reload(); return; }
    const state = await response.json();
    if (!response.ok) throw new Error(state.error || "HTTP " + response.status);
    csrf = state.csrf;
    renderHealth(state);
    renderTotals(state.totals);
    renderAlerts(state);
    renderFeeds(state);
    renderChart(state.chart);
    renderActivity(state.activity);
    document.body.dataset.loaded = "true";
  } catch (error) {
    const pill = document.getElementById("health");
    pill.className = "pill bad";
    pill.textContent = "unreachable";
    pill.title = String(error.message || error);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  refresh();
  setInterval(refresh, POLL_MS);
});
