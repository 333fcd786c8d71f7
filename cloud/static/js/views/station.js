// Station page: restrooms now, ratings by hour with the Happy Index, greeting and throughput
// distributions against their goals, a visits timeline, camera and link health, open alerts.

import { api, rows } from "../api.js";
import { COLORS, goalLinePlugin, histogram, make, timeAxis } from "../charts.js";
import { ago, duration, h, isoSeconds, number, percent, problem, toMillis, when } from "../format.js";
import { alertTable } from "./alerts.js";

// The collector's default greeting goal (cloud/config.py GoalSettings) unless the API sends goals;
// throughput has no configured goal yet, five minutes is the chains' usual promise.
const DEFAULT_GOALS = { greet_s: 60, dwell_s: 300 };

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
    ["Outbox backlog", health.outbox_depth != null ? `${health.outbox_depth} events` : "–", health.outbox_depth > 100 ? "bad" : ""],
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
  datasets.push({
    type: "line", label: "Happy Index", yAxisID: "happy", borderColor: COLORS.happy, backgroundColor: COLORS.happy,
    data: metrics.filter((m) => m.happy_index != null).map((m) => ({ x: toMillis(m.bucket) + 1800e3, y: m.happy_index })),
    tension: 0.25, pointRadius: 2,
  });
  make(canvas, {
    data: { datasets },
    options: {
      parsing: true,
      scales: {
        x: { ...timeAxis(startMs, endMs), stacked: true },
        y: { stacked: true, title: { display: true, text: "ratings per hour" } },
        happy: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "Happy Index" } },
      },
    },
  });
}

function distributionChart(canvas, values, goal, binWidth, label) {
  const { labels, counts, binOf } = histogram(values, binWidth, Math.max(goal * 2, ...values.slice(0, 5000)));
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
  const [metricsR, visitsR, alertsR] = await Promise.allSettled([
    api.metrics({ station: id, bucket: "hour", ...range }),
    api.events(id, { kind: "visit", start: isoSeconds(now - 7 * 86400e3), end: isoSeconds(now), limit: 5000 }),
    api.alerts({ station: id, state: "open" }),
  ]);
  const metrics = metricsR.status === "fulfilled" ? rows(metricsR.value, "metrics") : [];
  const visits = visitsR.status === "fulfilled" ? rows(visitsR.value, "events").map((e) => ({ ...e, ...(e.fields || e.payload || {}) })) : [];
  const goals = { ...DEFAULT_GOALS, ...(detail.goals || {}) };
  const latest = metrics.filter((m) => m.visits).at(-1) || {};

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
      metricsR.status === "rejected" ? problem(metricsR.reason, "the metrics") : ratingsCanvas),
    h("div", { class: "cols" },
      h("section", { class: "card" }, h("h2", {}, "Greeting time (last 7 days)"),
        h("p", { class: "muted" }, `goal ${goals.greet_s} s · p50 ${number(latest.greet_p50)} s · p90 ${number(latest.greet_p90)} s · within goal ${percent(latest.greet_within_goal)}`),
        greetCanvas),
      h("section", { class: "card" }, h("h2", {}, "Throughput time (last 7 days)"),
        h("p", { class: "muted" }, `goal ${goals.dwell_s} s · p50 ${number(latest.dwell_p50)} s · p90 ${number(latest.dwell_p90)} s`),
        dwellCanvas)),
    h("section", { class: "card wide" }, h("h2", {}, "Visits timeline"),
      visits.length ? timelineCanvas : h("p", { class: "muted" }, "No visits recorded (no camera, or none in range).")),
    h("section", { class: "card wide" }, h("h2", {}, "Open alerts"), alertBox),
  );

  if (metricsR.status === "fulfilled") ratingsChart(ratingsCanvas.firstChild, metrics, startMs, endMs);
  const greets = visits.map((v) => v.greet_s).filter((v) => v != null);
  distributionChart(greetCanvas.firstChild, greets, goals.greet_s, 10, "visits by greeting time");
  distributionChart(dwellCanvas.firstChild, visits.map((v) => v.dwell_s).filter((v) => v != null), goals.dwell_s, 60, "visits by throughput time");
  if (visits.length) {
    const recent = visits.filter((v) => toMillis(v.departed_at) >= startMs);
    visitsTimeline(timelineCanvas.firstChild, recent, startMs, endMs);
  }
  if (alertsR.status === "fulfilled") alertBox.replaceChildren(alertTable(rows(alertsR.value, "alerts"), () => go(location.hash)));
  else alertBox.replaceChildren(problem(alertsR.reason, "this station's alerts"));
}
