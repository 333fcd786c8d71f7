// Follow-ups of bad ratings: each station-day's bad ratings with its two deadlines (follow up within 24 h,
// rectify within 3 working days), who was told when one passed, and acknowledge / close with a note.

import { api, rows } from "../api.js";
import { ago, h, problem, when } from "../format.js";

const TABS = [
  ["open", "Open", { state: "open" }],
  ["overdue", "Overdue", { overdue: "true" }],
  ["escalated", "Escalated", { escalated: "true" }],
  ["acknowledged", "Acknowledged", { state: "acknowledged" }],
  ["closed", "Closed", { state: "closed" }],
];
const STATUS_TEXT = { pending: "due", met: "met", late: "met late", overdue: "overdue" };
const STAGE_TEXT = { follow_up: "follow-up", rectify: "rectification" };

// One form for both actions: acknowledging may say how it was followed up, closing must say what was done.
function noteForm({ action, label, placeholder, required, send, onDone }) {
  const note = h("input", { type: "text", name: "note", placeholder, required });
  const status = h("span", { class: "form-status" });
  const form = h("form", { class: "inline-form", "data-action": action }, note,
    h("button", { type: "submit" }, label),
    h("button", { type: "button", class: "link", onclick: () => form.remove() }, "Cancel"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "saving…";
    try {
      await send(note.value);
      onDone();
    } catch (error) {
      status.textContent = error.outOfScope ? "your token may not change this follow-up" : `failed: ${error.message}`;
      status.classList.add("late");
    }
  });
  return form;
}

function actions(item, onDone) {
  const cell = h("td", { class: "actions" });
  const offer = (action, label, form) => h("button", {
    type: "button", class: "small", "data-act": action,
    onclick: () => {
      cell.querySelector("form")?.remove();
      const opened = noteForm({ action, label, onDone, ...form });
      cell.append(opened);
      opened.querySelector("input").focus();
    },
  }, label);
  if (item.state === "open") {
    cell.append(offer("acknowledge", "Acknowledge", {
      placeholder: "how it was followed up", required: false, send: (note) => api.acknowledgeFollowup(item.id, note),
    }));
  }
  if (item.state !== "closed") {
    cell.append(offer("close", "Close", {
      placeholder: "what was done to rectify it", required: true, send: (note) => api.closeFollowup(item.id, note),
    }));
  }
  return cell;
}

// A bad day at a busy station lists dozens of ratings: the first few show, the rest fold away.
const RATINGS_SHOWN = 3;

function ratingsCell(item) {
  const line = (r) => h("div", { class: "muted", "data-rating": r.event_id },
    `${r.score}/${r.scale} · ${when(r.ts)} · ${r.kiosk}${r.reason ? ` · ${r.reason}` : ""}${r.flag ? ` · doubtful: ${r.flag}` : ""}`);
  const rest = item.ratings.slice(RATINGS_SHOWN);
  return h("td", { class: "ratings" }, h("div", {}, `${item.ratings.length} bad rating${item.ratings.length === 1 ? "" : "s"}`),
    item.ratings.slice(0, RATINGS_SHOWN).map(line),
    rest.length ? h("details", {}, h("summary", { class: "muted" }, `${rest.length} more`), rest.map(line)) : null);
}

function stageCell(stage, name) {
  const late = stage.status === "overdue" || stage.status === "late";
  return h("td", { "data-stage": name, "data-status": stage.status, class: late ? "late" : "" },
    when(stage.due_at), h("div", { class: late ? "" : "muted" }, STATUS_TEXT[stage.status] || stage.status));
}

function escalationCell(item) {
  if (!item.escalations.length) return h("td", { class: "muted" }, "–");
  return h("td", { "data-test": "escalations" }, item.escalations.map((e) => h("div", { "data-escalation": e.stage },
    h("span", { class: "late" }, `${STAGE_TEXT[e.stage] || e.stage} missed`), ` → told ${e.told}`,
    e.users.length ? ` (${e.users.join(", ")})` : " (no user holds it)",
    h("div", { class: "muted" }, ago(e.escalated_at)))));
}

function stateCell(item) {
  const notes = [];
  if (item.acknowledged_by) notes.push(h("div", { class: "muted" }, `acknowledged by ${item.acknowledged_by} ${ago(item.acknowledged_at)}`));
  if (item.ack_note) notes.push(h("div", { class: "muted" }, `“${item.ack_note}”`));
  if (item.closed_by) notes.push(h("div", { class: "muted" }, `closed by ${item.closed_by} ${ago(item.closed_at)}`));
  if (item.close_note) notes.push(h("div", { class: "muted", "data-test": "close-note" }, `done: “${item.close_note}”`));
  const shown = item.state === "closed" ? "resolved" : item.state; // the alerts' colours: closed reads as resolved
  return h("td", {}, h("span", { class: `state state-${shown}` }, item.state), notes);
}

export function followupTable(items, onDone) {
  if (!items.length) return h("p", { class: "muted", "data-test": "no-followups" }, "No follow-ups here.");
  const heads = ["Station", "Day", "Ratings", "Follow up by", "Rectify by", "Escalated", "State", ""];
  return h("table", { class: "grid followups" },
    h("thead", {}, h("tr", {}, heads.map((text) => h("th", {}, text)))),
    h("tbody", {}, items.map((item) => h("tr", { "data-followup": item.id, class: item.overdue ? "overdue" : "" },
      h("td", {}, h("a", { href: `#/station/${encodeURIComponent(item.station)}` }, item.name || item.station),
        h("div", { class: "muted" }, item.region || "")),
      h("td", { title: `${item.timezone}${item.calendar ? `, ${item.calendar} holidays` : ""}` }, item.day),
      ratingsCell(item),
      stageCell(item.follow_up, "follow_up"),
      stageCell(item.rectify, "rectify"),
      escalationCell(item),
      stateCell(item),
      actions(item, onDone)))));
}

export async function render(root, { params, go }) {
  const tab = TABS.find(([key]) => key === params.get("tab")) || TABS[0];
  const station = params.get("station") || "";
  const hash = (key) => `#/followups?tab=${key}${station ? `&station=${encodeURIComponent(station)}` : ""}`;
  const nav = h("nav", { class: "tabs" }, TABS.map(([key, label]) =>
    h("a", { href: hash(key), class: key === tab[0] ? "active" : "", "data-tab": key }, label)));
  let content;
  try {
    content = followupTable(rows(await api.followups({ ...tab[2], station: station || undefined }), "followups"),
      () => go(location.hash));
  } catch (error) {
    content = problem(error, "the follow-ups");
  }
  root.replaceChildren(
    h("section", { class: "toolbar" }, h("h1", {}, "Follow-ups"),
      h("p", { class: "muted" }, "Every bad rating is to be followed up and rectified by the deadlines shown; a missed one is escalated."),
      station ? h("p", {}, `Station ${station} · `, h("a", { href: "#/followups" }, "all stations")) : null, nav),
    h("div", { id: "followups" }, content));
}
