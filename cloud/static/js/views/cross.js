// Cross-signal view: cleaning gaps (shaded) against restroom ratings and traffic on one time axis,
// with the question "did the gaps cost us ratings?" answered in one sentence above the chart.

import { api, rows } from "../api.js";
import { COLORS, bandsPlugin, make, timeAxis } from "../charts.js";
import { duration, h, isoSeconds, number, problem, toMillis } from "../format.js";

const GAP_MIN = 90; // a restroom not checked for this long counts as a cleaning gap

// Per restroom, the stretches longer than `gapMin` between consecutive check-ins (and since the
// last one, up to `endMs`). Flagged check-ins are not cleanings.
export function cleaningGaps(cleanings, startMs, endMs, gapMin = GAP_MIN) {
  const byRoom = new Map();
  for (const c of cleanings) {
    if (c.flag) continue;
    const at = toMillis(c.ts ?? c.at);
    if (at === null) continue;
    if (!byRoom.has(c.restroom)) byRoom.set(c.restroom, []);
    byRoom.get(c.restroom).push(at);
  }
  const gaps = [];
  for (const [restroom, times] of byRoom) {
    times.sort((a, b) => a - b);
    const points = [startMs, ...times, endMs];
    for (let i = 1; i < points.length; i += 1) {
      if (points[i] - points[i - 1] > gapMin * 60e3) gaps.push({ restroom, from: points[i - 1], to: points[i] });
    }
  }
  return gaps;
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

function verdict(metrics, gaps) {
  const inGap = (m) => {
    const t = toMillis(m.bucket);
    return gaps.some((g) => t + 3600e3 > g.from && t < g.to);
  };
  const during = weightedHappy(metrics.filter(inGap));
  const outside = weightedHappy(metrics.filter((m) => !inGap(m)));
  if (!gaps.length) return `No cleaning gap longer than ${GAP_MIN} min in this period.`;
  const longest = Math.max(...gaps.map((g) => g.to - g.from)) / 1000;
  if (during.value === null || outside.value === null) {
    return `${gaps.length} cleaning gaps (longest ${duration(longest)}), too few restroom ratings to compare.`;
  }
  const delta = during.value - outside.value;
  return `${gaps.length} cleaning gaps (longest ${duration(longest)}): restroom Happy Index ${number(during.value)} during gaps `
    + `(${during.n} ratings) vs ${number(outside.value)} otherwise (${outside.n} ratings), ${delta < 0 ? "" : "+"}${number(delta)} points.`;
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
  const days = Number(params.get("days")) || 7;
  const endMs = Math.ceil(Date.now() / 3600e3) * 3600e3;
  const startMs = endMs - days * 86400e3;
  const select = h("select", { id: "cross-station", onchange: (e) => go(`#/cross/${encodeURIComponent(e.target.value)}?days=${days}`) },
    stations.map((s) => h("option", { value: s.id, selected: s.id === id }, `${s.name || s.id} (${s.id})`)));
  const daysSelect = h("select", { id: "cross-days", onchange: (e) => go(`#/cross/${encodeURIComponent(id)}?days=${e.target.value}`) },
    [1, 3, 7, 14, 28].map((d) => h("option", { value: d, selected: d === days }, `${d} days`)));
  const header = h("section", { class: "toolbar" }, h("h1", {}, "Cross-signal: cleaning gaps, restroom ratings, traffic"),
    h("div", { class: "filters" }, h("label", {}, "Station ", select), h("label", {}, "Period ", daysSelect)));
  if (!id) {
    root.replaceChildren(header, h("p", { class: "muted" }, "No stations yet."));
    return;
  }
  const range = { start: isoSeconds(startMs), end: isoSeconds(endMs) };
  const [metricsR, cleaningR] = await Promise.allSettled([
    api.metrics({ station: id, bucket: "hour", ...range }),
    api.events(id, { kind: "cleaning", ...range, limit: 10000 }),
  ]);
  if (metricsR.status === "rejected") {
    root.replaceChildren(header, problem(metricsR.reason, `station ${id}'s metrics`));
    return;
  }
  const metrics = rows(metricsR.value, "metrics");
  const cleanings = cleaningR.status === "fulfilled"
    ? rows(cleaningR.value, "events").map((e) => ({ ...e, ...(e.fields || e.payload || {}) })) : [];
  const gaps = cleaningR.status === "fulfilled" ? cleaningGaps(cleanings, startMs, endMs) : [];
  const canvas = h("canvas", { id: "cross-chart" });
  const mid = (m) => toMillis(m.bucket) + 1800e3;
  root.replaceChildren(header,
    h("p", { class: "verdict", id: "verdict" }, verdict(metrics, gaps)),
    cleaningR.status === "rejected" ? problem(cleaningR.reason, "the cleaning check-ins") : null,
    h("section", { class: "card wide" }, h("div", { class: "chart tall" }, canvas),
      h("p", { class: "legend" }, h("span", { class: "swatch gap" }), ` cleaning gap > ${GAP_MIN} min (any restroom)`)));
  make(canvas, {
    data: {
      datasets: [
        { type: "bar", label: "vehicles per hour", yAxisID: "traffic", backgroundColor: COLORS.traffic,
          data: metrics.map((m) => ({ x: mid(m), y: m.visits ?? m.vehicles_per_hour ?? 0 })), barPercentage: 1, categoryPercentage: 1 },
        { type: "line", label: "restroom Happy Index", yAxisID: "happy", borderColor: COLORS.happy, backgroundColor: COLORS.happy,
          data: metrics.filter((m) => m.happy_index_restroom != null).map((m) => ({ x: mid(m), y: m.happy_index_restroom })), pointRadius: 1.5, tension: 0.2 },
        { type: "line", label: "longest cleaning gap (min)", yAxisID: "gap", borderColor: "#c0392b", borderDash: [4, 3],
          data: metrics.filter((m) => m.longest_gap_min != null).map((m) => ({ x: mid(m), y: m.longest_gap_min })), pointRadius: 0 },
      ],
    },
    options: {
      scales: {
        x: timeAxis(startMs, endMs),
        happy: { position: "left", min: 0, max: 100, title: { display: true, text: "Happy Index" } },
        traffic: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "vehicles / h" } },
        gap: { display: false, beginAtZero: true },
      },
    },
    plugins: [bandsPlugin(gaps)],
  });
}
