// Cross-signal view: cleaning gaps (restrooms overdue, shaded) against restroom ratings and traffic on
// one time axis, with "did the gaps cost us ratings?" answered in one sentence above the chart.

import { api, rows } from "../api.js";
import { COLORS, bandsPlugin, make, timeAxis } from "../charts.js";
import { duration, h, isoSeconds, number, plural, problem, toMillis } from "../format.js";

// Overdue stretches per restroom from the station's own restroom_overdue alerts (open ... cleared):
// the station applies each restroom's interval and active hours, so closing time is never a "gap".
// An alert cleared inside the window but opened before it starts at startMs; one still open ends at endMs.
export function overdueBands(alerts, startMs, endMs) {
  const bands = [];
  const openSince = new Map();
  const sorted = alerts
    .filter((a) => a.alert === "restroom_overdue")
    .map((a) => ({ ...a, at: toMillis(a.ts) }))
    .filter((a) => a.at !== null)
    .sort((a, b) => a.at - b.at);
  for (const alert of sorted) {
    const room = alert.subject || "";
    if (alert.state === "open") {
      if (!openSince.has(room)) openSince.set(room, alert.at);
    } else if (alert.state === "cleared") {
      const from = openSince.has(room) ? openSince.get(room) : startMs;
      openSince.delete(room);
      bands.push({ restroom: room, from: Math.max(from, startMs), to: Math.min(alert.at, endMs) });
    }
  }
  for (const [room, from] of openSince) bands.push({ restroom: room, from: Math.max(from, startMs), to: endMs });
  return bands.filter((b) => b.to > b.from).sort((a, b) => a.from - b.from);
}

function weightedHappy(metrics) {
  let sum = 0;
  let n = 0;
  for (const m of metrics) {
    if (m.happy_index_restroom == null) continue;
    const count = typeof m.ratings_restroom === "number"
      ? m.ratings_restroom : Object.values(m.ratings_restroom || {}).reduce((a, b) => a + b, 0);
    if (!count) continue;
    sum += m.happy_index_restroom * count;
    n += count;
  }
  return n ? { value: sum / n, n } : { value: null, n: 0 };
}

function verdict(metrics, bands) {
  const overdue = (m) => {
    const t = toMillis(m.bucket);
    return bands.some((b) => t + 3600e3 > b.from && t < b.to);
  };
  const during = weightedHappy(metrics.filter(overdue));
  const outside = weightedHappy(metrics.filter((m) => !overdue(m)));
  if (!bands.length) return "No restroom went overdue in this period.";
  const longest = Math.max(...bands.map((b) => b.to - b.from)) / 1000;
  const gaps = `${plural(bands.length, "overdue stretch", "overdue stretches")} (longest ${duration(longest)} past the cleaning interval)`;
  if (during.value === null || outside.value === null) return `${gaps}; too few restroom ratings to compare.`;
  const delta = during.value - outside.value;
  return `${gaps}: restroom Happy Index ${number(during.value)} in those hours (${plural(during.n, "rating")}) `
    + `vs ${number(outside.value)} otherwise (${plural(outside.n, "rating")}), ${delta < 0 ? "" : "+"}${number(delta)} points.`;
}

export async function render(root, { args, params, go }) {
  let stations = [];
  try {
    stations = rows(await api.stations(), "stations");
  } catch (error) {
    root.replaceChildren(h("h1", {}, "Cross-signal"), problem(error, "the station list"));
    return;
  }
  const id = args[0] || stations[0]?.id;
  const known = stations.some((s) => s.id === id);
  const days = Number(params.get("days")) || 7;
  const endMs = Math.ceil(Date.now() / 3600e3) * 3600e3;
  const startMs = endMs - days * 86400e3;
  const select = h("select", { id: "cross-station", onchange: (e) => go(`#/cross/${encodeURIComponent(e.target.value)}?days=${days}`) },
    // A station that is not in the list (a typo in the address, or not this token's) is named as such,
    // instead of the selector showing the first station above another station's error.
    known || !id ? null : h("option", { value: id, selected: true, disabled: true }, `${id} (unknown)`),
    stations.map((s) => h("option", { value: s.id, selected: s.id === id }, `${s.name || s.id} (${s.id})`)));
  const daysSelect = h("select", { id: "cross-days", onchange: (e) => go(`#/cross/${encodeURIComponent(id)}?days=${e.target.value}`) },
    [1, 3, 7, 14, 28].map((d) => h("option", { value: d, selected: d === days }, plural(d, "day"))));
  const header = h("section", { class: "toolbar" }, h("h1", {}, "Cross-signal: cleaning gaps, restroom ratings, traffic"),
    h("div", { class: "filters" }, h("label", {}, "Station ", select), h("label", {}, "Period ", daysSelect)));
  if (!id) {
    root.replaceChildren(header, h("p", { class: "muted" }, "No stations yet."));
    return;
  }
  if (!known) {
    root.replaceChildren(header, h("p", { class: "notice error", "data-test": "unknown-station" },
      `There is no station “${id}” among the ${plural(stations.length, "station")} you can see: choose one above.`));
    return;
  }
  const range = { start: isoSeconds(startMs), end: isoSeconds(endMs) };
  const [metricsR, alertsR] = await Promise.allSettled([
    api.metrics({ station: id, bucket: "hour", ...range }),
    api.events(id, { kind: "alert", ...range, limit: 20000 }),
  ]);
  if (metricsR.status === "rejected") {
    root.replaceChildren(header, problem(metricsR.reason, `station ${id}'s metrics`));
    return;
  }
  const metrics = rows(metricsR.value, "metrics");
  const alerts = alertsR.status === "fulfilled" ? rows(alertsR.value, "events") : [];
  const bands = overdueBands(alerts, startMs, endMs);
  const canvas = h("canvas", { id: "cross-chart" });
  const mid = (m) => toMillis(m.bucket) + 1800e3;
  root.replaceChildren(...[header,
    h("p", { class: "verdict", id: "verdict" }, verdict(metrics, bands)),
    alertsR.status === "rejected" ? problem(alertsR.reason, "the restroom alerts") : null,
    h("section", { class: "card wide" }, h("div", { class: "chart tall" }, canvas),
      h("p", { class: "legend" }, h("span", { class: "swatch gap" }), " a restroom overdue: no cleaning check-in within its interval, during its active hours")),
  ].filter(Boolean));
  make(canvas, {
    data: {
      datasets: [
        { type: "bar", label: "vehicles per hour", yAxisID: "traffic", backgroundColor: COLORS.traffic,
          data: metrics.map((m) => ({ x: mid(m), y: m.visits ?? m.vehicles_per_hour ?? 0 })), barPercentage: 1, categoryPercentage: 1 },
        // Hours without restroom ratings stay gaps in the line rather than being bridged overnight.
        { type: "line", label: "restroom Happy Index (3 h rolling)", yAxisID: "happy", borderColor: COLORS.happy, backgroundColor: COLORS.happy,
          data: metrics.map((m, i) => ({ x: mid(m), y: weightedHappy(metrics.slice(Math.max(0, i - 1), i + 2)).value })),
          spanGaps: false, pointRadius: 1.5, tension: 0.2 },
      ],
    },
    options: {
      scales: {
        x: timeAxis(startMs, endMs),
        happy: { position: "left", min: 0, max: 100, title: { display: true, text: "Happy Index" } },
        traffic: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "vehicles / h" } },
      },
    },
    plugins: [bandsPlugin(bands)],
  });
}
