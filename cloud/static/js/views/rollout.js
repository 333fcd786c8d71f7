// Fleet configuration rollout: per station whether it runs HQ's current settings (applied), will when it
// can (pending while online or offline), or refused them (rejected, with its reasons by key); then the
// layers HQ holds and the audit trail of who changed what. Changes are made with `forecourt config` or
// the API; this page shows where they stand. ?region=<path> narrows the stations.

import { api, rows } from "../api.js";
import { ago, h, plural, problem } from "../format.js";

const STATES = [
  ["applied", "applied", "state-resolved"],
  ["pending_online", "pending (online)", "state-acknowledged"],
  ["pending_offline", "pending (offline)", "state-acknowledged"],
  ["rejected", "rejected", "state-open"],
  ["no_settings", "no settings from HQ", "muted"],
];
const LABEL = Object.fromEntries(STATES.map(([key, label, cls]) => [key, { label, cls }]));
const shown = (value) => JSON.stringify(value);

function counts(status) {
  return h("p", { id: "rollout-counts", class: "filters" }, STATES.map(([key, label, cls]) =>
    h("span", { "data-count": key }, h("strong", { class: cls }, String(status.counts[key] ?? 0)), ` ${label}`)));
}

function errorsCell(row) {
  if (!row.errors.length) return h("td", { class: "muted" }, row.restart_needed.length ? `restart needed: ${row.restart_needed.join(", ")}` : "");
  return h("td", { class: "errors" }, row.errors.map((e) => h("div", { "data-error": e.path },
    h("code", {}, e.path), " ", h("span", { class: "late" }, e.message))));
}

function stationTable(stations) {
  if (!stations.length) return h("p", { class: "muted" }, "No stations here.");
  const heads = ["Station", "Link", "Wanted rev", "Applied rev", "State", "Reasons", "Reported"];
  return h("table", { class: "grid", id: "rollout" },
    h("thead", {}, h("tr", {}, heads.map((text) => h("th", {}, text)))),
    h("tbody", {}, stations.map((row) => h("tr", { "data-station": row.station, "data-rollout": row.rollout },
      h("td", {}, h("a", { href: `#/station/${encodeURIComponent(row.station)}` }, row.name || row.station),
        h("div", { class: "muted" }, row.region || "not placed")),
      h("td", {}, h("span", { class: `dot ${row.status}` }), row.status),
      h("td", {}, row.desired_rev ?? "–"),
      h("td", {}, row.applied_rev ?? "–"),
      h("td", {}, h("span", { class: `state ${LABEL[row.rollout].cls}` }, LABEL[row.rollout].label)),
      errorsCell(row),
      h("td", { class: "muted" }, row.received_at ? ago(row.received_at) : "never")))));
}

function layerTable(settings) {
  if (!settings.length) return h("p", { class: "muted" }, "HQ sets nothing: every station runs by its own file.");
  return h("table", { class: "grid", id: "layers" },
    h("thead", {}, h("tr", {}, ["Layer", "Key", "Value", "Set by"].map((text) => h("th", {}, text)))),
    h("tbody", {}, settings.map((s) => h("tr", { "data-layer": s.layer, "data-key": s.key },
      h("td", {}, s.layer), h("td", {}, h("code", {}, s.key)), h("td", {}, shown(s.value)),
      h("td", { class: "muted" }, `${s.set_by}, ${ago(s.set_at)}`)))));
}

function auditTable(entries) {
  if (!entries.length) return h("p", { class: "muted" }, "No changes yet.");
  return h("table", { class: "grid", id: "audit" },
    h("thead", {}, h("tr", {}, ["#", "When", "Who", "Layer", "Key", "Change", ""].map((text) => h("th", {}, text)))),
    h("tbody", {}, entries.map((e) => h("tr", { "data-entry": e.id },
      h("td", {}, e.id), h("td", { title: e.at }, ago(e.at)), h("td", {}, e.user), h("td", {}, e.layer),
      h("td", {}, h("code", {}, e.key)),
      h("td", {}, `${e.was_set ? shown(e.old) : "(unset)"} → ${e.unset ? "(unset)" : shown(e.new)}`),
      h("td", { class: "muted" }, e.note)))));
}

async function section(id, title, load, what) {
  let content;
  try {
    content = await load();
  } catch (error) {
    content = problem(error, what);
  }
  return h("section", { class: "card", id }, h("h2", {}, title), content);
}

export async function render(root, { params, go }) {
  const region = params.get("region") || "";
  const [stations, layers, audit] = await Promise.all([
    section("rollout-stations", "Stations", async () => {
      const status = await api.fleetRollout({ region: region || undefined });
      return [counts(status), stationTable(rows(status, "stations"))];
    }, "the rollout"),
    section("rollout-layers", "Settings HQ holds", async () => layerTable(rows(await api.fleetLayers(), "settings")), "the layers"),
    section("rollout-audit", "Changes", async () => auditTable(rows(await api.fleetHistory({ limit: 200 }), "entries")), "the audit trail"),
  ]);
  root.replaceChildren(
    h("section", { class: "toolbar" }, h("h1", {}, "Settings rollout"),
      h("p", { class: "muted" }, `HQ's settings for the chain, regions and stations, and whether each station runs them.${
        region ? ` Region ${region}.` : ""}`),
      h("button", { type: "button", class: "small", id: "rollout-refresh", onclick: () => go(location.hash) }, "Refresh"),
      region ? h("a", { href: "#/rollout" }, "all stations") : null),
    stations, h("div", { class: "cols" }, layers, audit));
  const pending = root.querySelectorAll("tr[data-rollout^=pending]").length;
  if (pending) root.querySelector("#rollout-stations h2").append(h("span", { class: "muted" }, ` · ${plural(pending, "station")} pending`));
}
