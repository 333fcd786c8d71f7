// Station page: restrooms now, ratings by hour with the Happy Index, greeting and throughput
// distributions against their goals, a visits timeline, camera and link health, open alerts.
// The distributions and the figures above them are one API summary of the same 7 days (whole hours),
// and every figure that rests on few ratings or visits says how few.

import { api, rows } from "../api.js";
import { COLORS, goalLinePlugin, histogram, make, sampleSizePlugin, timeAxis } from "../charts.js";
import { ago, duration, h, isoSeconds, number, percent, plural, problem, toMillis, when } from "../format.js";
import { alertTable, conditionOf } from "./alerts.js";

// The collector's default greeting goal (cloud/config.py GoalSettings) unless the API sends goals;
// throughput has no configured goal yet, five minutes is the chains' usual promise.
const DEFAULT_GOALS = { greet_s: 60, dwell_s: 300 };
const SUMMARY_DAYS = 7;
// An hour's Happy Index from fewer ratings than this is drawn hollow with its count beside it; the
// window's greeting figures from fewer greeted visits than this are marked (the score's min_visits).
export const SMALL_RATINGS = 5;
const SMALL_VISITS = 20;

function restroomTable(restrooms, now) {
  if (!restrooms.length) return h("p", { class: "muted" }, "No restroom check-in buttons at this station.");
  return h("table", { class: "grid", id: "restrooms" },
    h("thead", {}, h("tr", {}, ["Restroom", "Last check-in", "Since", "Status"].map((t) => h("th", {}, t)))),
    h("tbody", {}, restrooms.map((room) => {
      const since = room.since_s ?? (toMillis(room.last_checkin) ? (now - toMillis(room.last_checkin)) / 1000 : null);
      return h("tr", { class: room.overdue ? "overdue" : "", "data-restroom": room.restroom },
        h("td", {}, room.name || room.restroom),
        h("td", {}, when(room.last_checkin)),
        h("td", { class: room.overdue ? "late" : "" }, since == null ? "never" : duration(since)),
        h("td", {}, room.overdue ? h("span", { class: "badge band-exposure" }, "Overdue") : h("span", { class: "badge band-good" }, "OK")));
    })));
}

function healthList(detail) {
  const health = detail.health || {};
  const gaps = Array.isArray(detail.seq_gaps) ? detail.seq_gaps.length : detail.seq_gaps ?? 0;
  const items = [
    ["Link", detail.status || "unknown", detail.status === "online" ? "ok" : "bad"],
    ["Last seen", ago(detail.last_seen)],
    ["Software", detail.version || health.version || "–"],
    ["Camera", health.camera_ok === false ? "not delivering frames" : health.camera_fps != null ? `${number(health.camera_fps, 1)} fps` : "no camera",
      health.camera_ok === false ? "bad" : ""],
    ["Outbox backlog", health.outbox_depth != null ? plural(health.outbox_depth, "event") : "–", health.outbox_depth > 100 ? "bad" : ""],
    ["Oldest undelivered", health.oldest_undelivered_s != null ? duration(health.oldest_undelivered_s) : "–"],
    ["Reconnects", health.reconnects ?? "–"],
    ["Sequence gaps", gaps, gaps ? "bad" : ""],
    ["CPU temperature", health.cpu_temp_c != null ? `${number(health.cpu_temp_c, 1)} °C` : "–"],
  ];
  return h("dl", { class: "health", id: "health" }, items.flatMap(([k, v, cls]) => [h("dt", {}, k), h("dd", { class: cls || "" }, String(v))]));
}

function ratingsChart(canvas, metrics, startMs, endMs) {
  const levels = [...new Set(metrics.flatMap((m) => Object.keys(m.ratings || {})))].sort();
  const datasets = levels.map((level, i) => ({
    type: "bar", label: `★${level}`, stack: "ratings", yAxisID: "y",
    backgroundColor: COLORS.ratings[Math.round((i / Math.max(1, levels.length - 1)) * 4)],
    data: metrics.map((m) => ({ x: toMillis(m.bucket) + 1800e3, y: (m.ratings || {})[level] || 0 })),
    barPercentage: 1, categoryPercentage: 1,
  }));
  const rated = metrics.filter((m) => m.happy_index != null)
    .map((m) => ({ x: toMillis(m.bucket) + 1800e3, y: m.happy_index, n: Object.values(m.ratings || {}).reduce((a, b) => a + b, 0) }));
  const small = (i) => rated[i].n < SMALL_RATINGS;
  datasets.push({
    type: "line", label: "Happy Index", yAxisID: "happy", borderColor: COLORS.happy, backgroundColor: COLORS.happy,
    data: rated, tension: 0.25,
    pointRadius: rated.map((_, i) => (small(i) ? 3.5 : 2)),
    pointBackgroundColor: rated.map((_, i) => (small(i) ? "#fff" : COLORS.happy)),
    segment: { borderDash: (ctx) => (small(ctx.p0DataIndex) || small(ctx.p1DataIndex) ? [4, 4] : undefined) },
  });
  make(canvas, {
    data: { datasets },
    plugins: [sampleSizePlugin(datasets.length - 1, (point) => (point.n < SMALL_RATINGS ? `n=${point.n}` : null))],
    options: {
      parsing: true,
      plugins: {
        tooltip: {
          callbacks: {
            label: (item) => (item.dataset.yAxisID === "happy"
              ? `Happy Index ${number(item.raw.y)} (${plural(item.raw.n, "rating")})`
              : `${item.dataset.label}: ${item.raw.y}`),
          },
        },
      },
      scales: {
        x: { ...timeAxis(startMs, endMs), stacked: true },
        y: { stacked: true, title: { display: true, text: "ratings per hour" } },
        happy: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "Happy Index" } },
      },
    },
  });
}

// {"12": 3} (three visits of 12 s) as [12, 12, 12].
const valuesOf = (hist) => Object.entries(hist || {}).flatMap(([seconds, count]) => Array(count).fill(Number(seconds)));

function distributionChart(canvas, hist, goal, binWidth, label) {
  const values = valuesOf(hist);
  const { labels, counts, binOf } = histogram(values, binWidth, Math.max(goal * 2, ...Object.keys(hist || {}).map(Number)));
  make(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label, data: counts, backgroundColor: labels.map((_, i) => ((i + 1) * binWidth <= goal ? COLORS.greeted : COLORS.ungreeted)) }] },
    options: { plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: "seconds" } }, y: { title: { display: true, text: "visits" } } } },
    plugins: [goalLinePlugin(binOf(goal) + 0.5, `goal ${goal} s`)],
  });
}

function visitsTimeline(canvas, visits, startMs, endMs) {
  const bays = [...new Set(visits.map((v) => v.bay || v.fields?.bay))].sort();
  const bar = (greeted) => ({
    label: greeted ? "greeted" : "not greeted",
    backgroundColor: greeted ? COLORS.greeted : COLORS.ungreeted,
    data: visits.filter((v) => (v.greeted_at != null) === greeted).map((v) => ({
      x: [toMillis(v.arrived_at), toMillis(v.departed_at)], y: v.bay,
    })),
    barPercentage: 0.7,
  });
  make(canvas, {
    type: "bar",
    data: { labels: bays, datasets: [bar(true), bar(false)] },
    options: { indexAxis: "y", scales: { x: timeAxis(startMs, endMs), y: { stacked: true } } },
  });
}

const span = (params) => (params.get("range") === "7d" ? 7 * 86400e3 : 86400e3);

// "p50 90 s · p90 240 s · within goal 60 % · 14 greeted of 16 visits", from one summary of the window.
function greetFigures(summary, goal) {
  const few = summary.greeted < SMALL_VISITS ? " (few visits: read with care)" : "";
  return `goal ${goal} s · p50 ${number(summary.greet_p50)} s · p90 ${number(summary.greet_p90)} s · `
    + `within goal ${percent(summary.greet_within_goal)} · ${summary.greeted} greeted of ${plural(summary.greet_judged, "visit")}${few}`;
}

function dwellFigures(summary, goal) {
  return `goal ${goal} s · p50 ${number(summary.dwell_p50)} s · p90 ${number(summary.dwell_p90)} s · ${plural(summary.visits, "visit")}`;
}

function figuresCard(id, title, summaryR, text, chart) {
  const body = summaryR.status === "fulfilled"
    ? [h("p", { class: "muted", "data-test": "figures" }, text(summaryR.value)), chart]
    : [problem(summaryR.reason, "the figures")];
  const bounds = summaryR.status === "fulfilled" ? { "data-start": summaryR.value.start, "data-end": summaryR.value.end } : {};
  return h("section", { class: "card", id, ...bounds }, h("h2", {}, title), ...body);
}

function alertsTitle(alerts) {
  const cleared = alerts.filter((a) => conditionOf(a) === "cleared").length;
  return `Open alerts (${alerts.length}${cleared ? `, ${cleared} with the condition cleared` : ""})`;
}

export async function render(root, { args, params, go }) {
  const id = args[0];
  const now = Date.now();
  const endMs = Math.ceil(now / 3600e3) * 3600e3;
  const startMs = endMs - span(params);
  const range = { start: isoSeconds(startMs), end: isoSeconds(endMs) };
  let detail;
  try {
    detail = await api.station(id);
  } catch (error) {
    root.replaceChildren(h("h1", {}, id), problem(error, `station ${id}`));
    return;
  }
  const week = { start: isoSeconds(endMs - SUMMARY_DAYS * 86400e3), end: isoSeconds(endMs) };
  const [metricsR, visitsR, alertsR, summaryR] = await Promise.allSettled([
    api.metrics({ station: id, bucket: "hour", ...range }),
    api.events(id, { kind: "visit", ...range, limit: 5000 }),
    api.alerts({ station: id, state: "open" }),
    api.summary(id, week),
  ]);
  const metrics = metricsR.status === "fulfilled" ? rows(metricsR.value, "metrics") : [];
  const visits = visitsR.status === "fulfilled" ? rows(visitsR.value, "events").map((e) => ({ ...e, ...(e.fields || e.payload || {}) })) : [];
  const goals = { ...DEFAULT_GOALS, ...(detail.goals || {}) };
  const openAlerts = alertsR.status === "fulfilled" ? rows(alertsR.value, "alerts") : [];

  const rangeLinks = h("div", { class: "filters" },
    h("a", { href: `#/station/${encodeURIComponent(id)}`, class: span(params) === 86400e3 ? "active" : "" }, "24 hours"), " · ",
    h("a", { href: `#/station/${encodeURIComponent(id)}?range=7d`, class: span(params) > 86400e3 ? "active" : "" }, "7 days"), " · ",
    h("a", { href: `#/cross/${encodeURIComponent(id)}` }, "Cross-signal view"));
  const canvas = (cid) => h("div", { class: "chart" }, h("canvas", { id: cid }));
  const ratingsCanvas = canvas("ratings-chart");
  const greetCanvas = canvas("greet-chart");
  const dwellCanvas = canvas("dwell-chart");
  const timelineCanvas = canvas("visits-chart");
  const alertBox = h("div", { id: "station-alerts" });

  root.replaceChildren(
    h("section", { class: "toolbar" },
      h("h1", { id: "station-title" }, detail.name || id, h("span", { class: "muted" }, ` ${id}`)),
      h("nav", { class: "crumbs" }, h("a", { href: "#/leaderboard" }, "Leaderboard"), " / ",
        h("a", { href: `#/leaderboard?region=${encodeURIComponent(detail.region || "")}` }, detail.region || "no region")),
      rangeLinks),
    h("div", { class: "cols" },
      h("section", { class: "card" }, h("h2", {}, "Restrooms now"), restroomTable(detail.restrooms || [], now)),
      h("section", { class: "card" }, h("h2", {}, "Camera and link"), healthList(detail))),
    h("section", { class: "card wide" }, h("h2", {}, "Ratings by hour and Happy Index"),
      metricsR.status === "rejected" ? problem(metricsR.reason, "the metrics") : ratingsCanvas,
      h("p", { class: "legend" }, "Hollow points on a dashed line: the Happy Index of an hour with fewer than ",
        plural(SMALL_RATINGS, "rating"), "; the count is beside them.")),
    h("div", { class: "cols" },
      figuresCard("greet-figures", `Greeting time (last ${plural(SUMMARY_DAYS, "day")})`, summaryR,
        (summary) => greetFigures(summary, goals.greet_s), greetCanvas),
      figuresCard("dwell-figures", `Throughput time (last ${plural(SUMMARY_DAYS, "day")})`, summaryR,
        (summary) => dwellFigures(summary, goals.dwell_s), dwellCanvas)),
    h("section", { class: "card wide" }, h("h2", {}, "Visits timeline"),
      visits.length ? timelineCanvas : h("p", { class: "muted" }, "No visits recorded (no camera, or none in range).")),
    h("section", { class: "card wide" }, h("h2", { id: "station-alerts-title" }, alertsTitle(openAlerts)), alertBox),
  );

  if (metricsR.status === "fulfilled") ratingsChart(ratingsCanvas.firstChild, metrics, startMs, endMs);
  if (summaryR.status === "fulfilled") {
    distributionChart(greetCanvas.firstChild, summaryR.value.greet_hist, goals.greet_s, 10, "visits by greeting time");
    distributionChart(dwellCanvas.firstChild, summaryR.value.dwell_hist, goals.dwell_s, 60, "visits by throughput time");
  }
  if (visits.length) visitsTimeline(timelineCanvas.firstChild, visits, startMs, endMs);
  if (alertsR.status === "fulfilled") alertBox.replaceChildren(alertTable(openAlerts, () => go(location.hash)));
  else alertBox.replaceChildren(problem(alertsR.reason, "this station's alerts"));
}
