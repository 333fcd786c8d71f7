// Alerts inbox: open / overdue / acknowledged / resolved; acknowledge and resolve with a comment.
// Apart from its state, an alert that follows the station's own (restroom overdue, stuck button) has a
// condition: "active" until the station reports it gone, "cleared" after (the restroom was cleaned).
// Cleared ones still wait for a person, and look it; HQ's own findings have no condition ("finding").

import { api, rows } from "../api.js";
import { ago, h, problem, toMillis, when } from "../format.js";

const CONDITIONS = [
  ["", "Any condition"],
  ["active", "Condition still active"],
  ["cleared", "Condition cleared"],
  ["finding", "HQ findings"],
];

export const conditionOf = (alert) => alert.condition || (alert.cleared_at ? "cleared" : "active");

const TABS = [
  ["open", "Open", { state: "open" }],
  ["overdue", "Overdue", { overdue: "true" }],
  ["acknowledged", "Acknowledged", { state: "acknowledged" }],
  ["resolved", "Resolved", { state: "resolved" }],
];

function actionForm(alert, action, onDone) {
  const comment = h("input", { type: "text", name: "comment", placeholder: "comment (what was done, who will fix it)", required: action === "resolve" });
  const status = h("span", { class: "form-status" });
  const form = h("form", { class: "inline-form", "data-action": action },
    comment,
    h("button", { type: "submit" }, action === "acknowledge" ? "Acknowledge" : "Resolve"),
    h("button", { type: "button", class: "link", onclick: () => form.remove() }, "Cancel"),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "saving…";
    try {
      await (action === "acknowledge" ? api.acknowledge(alert.id, comment.value) : api.resolve(alert.id, comment.value));
      status.textContent = "saved";
      onDone();
    } catch (error) {
      status.textContent = error.outOfScope ? "your token may not change this alert" : `failed: ${error.message}`;
      status.classList.add("late");
    }
  });
  return form;
}

function actions(alert, onDone) {
  const cell = h("td", { class: "actions" });
  const open = (action) => () => {
    cell.querySelector("form")?.remove();
    const form = actionForm(alert, action, onDone);
    cell.append(form);
    form.querySelector("input").focus();
  };
  if (alert.state === "open") cell.append(h("button", { type: "button", class: "small", "data-act": "acknowledge", onclick: open("acknowledge") }, "Acknowledge"));
  if (alert.state !== "resolved") cell.append(h("button", { type: "button", class: "small", "data-act": "resolve", onclick: open("resolve") }, "Resolve"));
  return cell;
}

function conditionBadge(alert) {
  if (conditionOf(alert) === "cleared") {
    return h("span", { class: "condition cleared", "data-condition": "cleared", title: when(alert.cleared_at) },
      `condition cleared ${ago(alert.cleared_at)}`);
  }
  if (conditionOf(alert) !== "active" || alert.state === "resolved") return null;
  return h("span", { class: "condition active", "data-condition": "active" }, "condition still active");
}

function who(alert) {
  if (alert.state === "resolved") return `resolved by ${alert.resolved_by || "?"} ${ago(alert.resolved_at)}`;
  if (alert.state === "acknowledged") return `acknowledged by ${alert.acknowledged_by || "?"} ${ago(alert.acknowledged_at)}`;
  return "";
}

export function alertTable(alerts, onDone) {
  if (!alerts.length) return h("p", { class: "muted", "data-test": "no-alerts" }, "No alerts here.");
  const now = Date.now();
  return h("table", { class: "grid alerts" },
    h("thead", {}, h("tr", {}, ["Station", "Rule", "Subject", "Message", "Opened", "Due", "State", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, alerts.map((alert) => {
      const overdue = alert.overdue || (alert.state !== "resolved" && toMillis(alert.due_at) && toMillis(alert.due_at) < now);
      const cls = [overdue ? "overdue" : "", conditionOf(alert) === "cleared" ? "cleared" : ""].join(" ").trim();
      return h("tr", { "data-alert": alert.id, "data-condition": conditionOf(alert), class: cls },
        h("td", {}, h("a", { href: `#/station/${encodeURIComponent(alert.station)}` }, alert.station)),
        h("td", {}, alert.rule),
        h("td", {}, alert.subject || "–"),
        h("td", {}, alert.message || "",
          alert.ack_comment ? h("div", { class: "muted" }, `ack: “${alert.ack_comment}”`) : null,
          alert.comment ? h("div", { class: "muted" }, `“${alert.comment}”`) : null),
        h("td", { title: when(alert.opened_at) }, ago(alert.opened_at)),
        h("td", { class: overdue ? "late" : "" }, alert.due_at ? `${when(alert.due_at)}${overdue ? " (overdue)" : ""}` : "–"),
        h("td", {}, h("span", { class: `state state-${alert.state}` }, alert.state), h("div", {}, conditionBadge(alert)),
          h("div", { class: "muted" }, who(alert))),
        actions(alert, onDone));
    })));
}

export async function render(root, { params, go }) {
  const tab = TABS.find(([key]) => key === params.get("tab")) || TABS[0];
  const station = params.get("station") || "";
  const condition = CONDITIONS.some(([key]) => key === params.get("condition")) ? params.get("condition") : "";
  const query = { ...tab[2], station: station || undefined, condition: condition || undefined };
  const hash = (key, cond = condition) => `#/alerts?tab=${key}${station ? `&station=${encodeURIComponent(station)}` : ""}`
    + `${cond ? `&condition=${cond}` : ""}`;
  const nav = h("nav", { class: "tabs" }, TABS.map(([key, label]) => h("a", { href: hash(key), class: key === tab[0] ? "active" : "", "data-tab": key }, label)));
  const conditionSelect = h("select", { id: "alert-condition", onchange: (e) => go(hash(tab[0], e.target.value)) },
    CONDITIONS.map(([key, label]) => h("option", { value: key, selected: key === condition }, label)));
  let content;
  try {
    const alerts = rows(await api.alerts(query), "alerts");
    content = alertTable(alerts, () => go(location.hash));
  } catch (error) {
    content = problem(error, "the alerts");
  }
  root.replaceChildren(
    h("section", { class: "toolbar" }, h("h1", {}, "Alerts"),
      station ? h("p", {}, `Station ${station} · `, h("a", { href: "#/alerts" }, "all stations")) : null, nav,
      h("label", { class: "filters" }, "Show ", conditionSelect)),
    h("div", { id: "alerts" }, content));
}
