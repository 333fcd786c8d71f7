// Leaderboard: stations ranked by service score, band colours, trend, open alerts, coverage;
// filter by region with a drill-down from region to sub-region to station.

import { api, rows } from "../api.js";
import { BANDS, bandOf, coverageText, h, number, plural, problem } from "../format.js";

function regionPaths(data) {
  return rows(data, "regions")
    .map((r) => (typeof r === "string" ? r : r.path ?? r.region ?? r.id ?? r.name))
    .filter(Boolean);
}

// The direct children of `region` among all known paths (and their ancestors).
export function childRegions(paths, region) {
  const depth = region ? region.split("/").length : 0;
  const children = new Set();
  for (const path of paths) {
    const parts = path.split("/");
    if (parts.length <= depth) continue;
    if (region && parts.slice(0, depth).join("/") !== region) continue;
    children.add(parts.slice(0, depth + 1).join("/"));
  }
  return [...children].sort();
}

function trendCell(row) {
  const trend = row.trend ?? (row.score != null && row.previous_score != null ? row.score - row.previous_score : null);
  if (trend === null || trend === undefined) return h("td", { class: "trend" }, "–");
  const arrow = trend > 0.5 ? "▲" : trend < -0.5 ? "▼" : "▶";
  const cls = trend > 0.5 ? "up" : trend < -0.5 ? "down" : "flat";
  const title = row.previous_score != null ? `previous period: ${number(row.previous_score, 1)}` : "";
  return h("td", { class: `trend ${cls}`, title }, `${arrow} ${trend > 0 ? "+" : ""}${number(trend, 1)}`);
}

function scoreCell(row) {
  const band = bandOf(row.score, row.band);
  const range = row.score_low != null && row.score_high != null ? `${number(row.score_low)}–${number(row.score_high)}` : "";
  return h("td", { class: "score" },
    h("span", { class: `badge ${BANDS[band].cls}`, title: BANDS[band].label }, row.score == null ? "n/a" : number(row.score, 1)),
    range ? h("span", { class: "range", title: "uncertainty of the score" }, ` ${range}`) : null,
  );
}

function regionSummary(children, rankings, region, go, period) {
  const cards = children.map((child) => {
    const inside = rankings.filter((r) => (r.region || "") === child || (r.region || "").startsWith(`${child}/`));
    const scored = inside.filter((r) => r.score != null && bandOf(r.score, r.band) !== "insufficient");
    const mean = scored.length ? scored.reduce((sum, r) => sum + r.score, 0) / scored.length : null;
    const alerts = inside.reduce((sum, r) => sum + (r.open_alerts || 0), 0);
    const band = bandOf(mean);
    return h("button", {
      type: "button", class: `region-card ${BANDS[band].cls}`, "data-region": child,
      onclick: () => go(`#/leaderboard?region=${encodeURIComponent(child)}&period=${period}`),
    },
    h("strong", {}, child.split("/").pop()),
    h("span", {}, `${plural(inside.length, "station")} · mean ${mean == null ? "n/a" : number(mean, 1)} · ${plural(alerts, "open alert")}`));
  });
  return cards.length ? h("div", { class: "regions" }, cards) : null;
}

function breadcrumb(region, go, period) {
  const crumbs = [h("a", { href: `#/leaderboard?period=${period}` }, "All regions")];
  const parts = region ? region.split("/") : [];
  parts.forEach((part, i) => {
    const path = parts.slice(0, i + 1).join("/");
    crumbs.push(" / ", h("a", { href: `#/leaderboard?region=${encodeURIComponent(path)}&period=${period}` }, part));
  });
  return h("nav", { class: "crumbs", "data-test": "crumbs" }, crumbs);
}

export async function render(root, { params, go, me }) {
  // A regional manager's board starts at their region: the chain-wide ranking is not theirs to see.
  const ownRegion = me && me.role.startsWith("region:") ? me.role.slice("region:".length) : "";
  const region = params.get("region") || ownRegion;
  let period = params.get("period") === "week" ? "week" : "month";
  let rankings = [];
  let stations = [];
  let paths = [];
  const notes = [];
  const [rankResult, stationResult, regionResult] = await Promise.allSettled([
    api.rankings({ period, region }),
    api.stations(region),
    api.regions(),
  ]);
  if (rankResult.status === "fulfilled") rankings = rows(rankResult.value, "rankings");
  else notes.push(problem(rankResult.reason, "the rankings"));
  // Early in a month (or a new install) nobody has enough data yet: show the week rather than a blank board.
  if (!params.get("period") && rankings.length && rankings.every((r) => r.band === "insufficient")) {
    const week = rows(await api.rankings({ period: "week", region }).catch(() => []), "rankings");
    if (week.some((r) => r.band !== "insufficient")) {
      rankings = week;
      period = "week";
      notes.push(h("p", { class: "notice scope", id: "period-note" }, "Not enough data this month yet for a score: showing this week."));
    }
  }
  if (stationResult.status === "fulfilled") stations = rows(stationResult.value, "stations");
  else if (rankResult.status === "fulfilled") notes.push(problem(stationResult.reason, "the station list"));
  if (regionResult.status === "fulfilled") paths = regionPaths(regionResult.value);
  if (!paths.length) paths = [...new Set([...rankings, ...stations].map((s) => s.region).filter(Boolean))];

  // A station with no ranking row yet (just registered, no data) is still listed, as insufficient.
  const byId = new Map(stations.map((s) => [s.id, s]));
  const ranked = new Set(rankings.map((r) => r.station));
  const unranked = stations
    .filter((s) => !ranked.has(s.id))
    .map((s) => ({ station: s.id, name: s.name, region: s.region, band: "insufficient", score: null, open_alerts: s.open_alerts }));
  const table = [...rankings, ...unranked];

  const periodSelect = h("select", { id: "period", onchange: (e) => go(`#/leaderboard?region=${encodeURIComponent(region)}&period=${e.target.value}`) },
    h("option", { value: "month", selected: period === "month" }, "This month"),
    h("option", { value: "week", selected: period === "week" }, "This week"));
  const regionSelect = h("select", { id: "region", onchange: (e) => go(`#/leaderboard?region=${encodeURIComponent(e.target.value)}&period=${period}`) },
    h("option", { value: "" }, "All regions"),
    [...new Set(paths.flatMap((p) => p.split("/").map((_, i, a) => a.slice(0, i + 1).join("/"))))].sort()
      .map((p) => h("option", { value: p, selected: p === region }, p)));

  const body = table.map((row) => {
    const info = byId.get(row.station) || {};
    const status = info.status || row.status;
    return h("tr", { "data-station": row.station },
      h("td", { class: "rank" }, row.rank ?? "–"),
      h("td", {},
        h("span", { class: `dot ${status === "online" ? "online" : status === "offline" ? "offline" : ""}`, title: status || "unknown" }),
        h("a", { href: `#/station/${encodeURIComponent(row.station)}`, class: "station-link" }, row.name || info.name || row.station),
        h("span", { class: "muted" }, ` ${row.station}`)),
      h("td", {}, h("a", { href: `#/leaderboard?region=${encodeURIComponent(row.region || "")}&period=${period}` }, row.region || "–")),
      scoreCell(row),
      trendCell(row),
      h("td", { class: row.open_alerts ? "alerts-open" : "" },
        row.open_alerts ? h("a", { href: `#/alerts?station=${encodeURIComponent(row.station)}` }, String(row.open_alerts)) : "0"),
      h("td", { class: "muted" }, coverageText(row.coverage)),
    );
  });

  root.replaceChildren(...[
    h("section", { class: "toolbar" },
      h("h1", {}, "Leaderboard"),
      breadcrumb(region, go, period),
      h("div", { class: "filters" }, h("label", {}, "Region ", regionSelect), h("label", {}, "Period ", periodSelect))),
    ...notes,
    regionSummary(childRegions(paths, region), table, region, go, period),
    h("table", { class: "grid", id: "leaderboard" },
      h("thead", {}, h("tr", {}, ["#", "Station", "Region", "Score", "Trend", "Open alerts", "Coverage"].map((t) => h("th", {}, t)))),
      h("tbody", {}, body.length ? body : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No stations in this region yet.")))),
    h("p", { class: "legend" },
      h("span", { class: "badge band-good" }, "≥ 90 good"), " ",
      h("span", { class: "badge band-review" }, "< 90 manager's review"), " ",
      h("span", { class: "badge band-exposure" }, "< 60 exposure"), " ",
      h("span", { class: "badge band-insufficient" }, "insufficient data")),
  ].filter(Boolean));
}
