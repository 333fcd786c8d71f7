// The station page: polls the station's JSON API and redraws; the zone editor and the install check.
// No framework and no inline script (the CSP forbids it); every value goes in as text, never as HTML.
"use strict";

const $ = (selector) => document.querySelector(selector);
const SVG = "http://www.w3.org/2000/svg";
const state = { zones: [], edits: new Map(), drawing: null, selected: null, installTimer: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { cache: "no-store", ...options });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText);
  return body;
}

const when = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleTimeString() : "never");
const seconds = (s) => (s === null || s === undefined ? "–" : `${Math.round(s)} s`);

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function renderView(v) {
  $("#title").textContent = `${v.name} (${v.station})`;
  $("#summary").textContent = `version ${v.version}, up ${Math.round(v.uptime_s / 60)} min`;
  const link = $("#link-state");
  link.textContent = v.link?.connected ? "linked to HQ" : "recording locally";
  link.className = `badge ${v.link?.connected ? "ok" : "bad"}`;
  fill($("#restrooms tbody"), v.restrooms.map((r) => el("tr", { "data-restroom": r.id },
    el("td", {}, r.name),
    el("td", { class: r.overdue ? "bad" : "ok" }, r.overdue ? `overdue ${seconds(r.overdue_s)}` : "clean"),
    el("td", {}, when(r.last_cleaned)), el("td", { class: "check-ins" }, r.check_ins_today))));
  fill($("#kiosks tbody"), v.kiosks.map((k) => el("tr", { "data-kiosk": k.id },
    el("td", {}, `${k.id} (${k.location})`),
    el("td", { class: "counts" }, Object.values(k.counts_today).join(" · ")),
    el("td", {}, k.happy_index_today === null ? "–" : k.happy_index_today.toFixed(0)),
    el("td", {}, k.last_score ? `${k.last_score} at ${when(k.last_at)}` : "–"))));
  $("#since").textContent = `since ${when(v.since)}`;
  const happy = v.happy_index_today === null ? "–" : v.happy_index_today.toFixed(0);
  $("#today").textContent = `Happy Index ${happy} over ${v.ratings_today} ratings; ${v.cars_today} cars; ` +
    `greeting median ${seconds(v.greet_p50_s)}.`;
  const cam = v.camera;
  $("#camera-section").hidden = !cam.configured;
  $("#zones-section").hidden = !cam.configured;
  $("#camera-state").textContent = cam.configured
    ? `camera ${cam.ok ? "delivering" : "not delivering"}, ${cam.fps ?? 0} fps analysed, detector ${cam.detector}` +
      `${cam.detect_ms_p50 ? ` (${cam.detect_ms_p50} ms)` : ""}, ${cam.frames} frames, ${cam.frames_skipped} without motion` +
      `${cam.error ? `; ${cam.error}` : ""}`
    : "";
  fill($("#visits tbody"), v.recent_visits.map((visit) => el("tr", {},
    el("td", {}, visit.bay), el("td", {}, when(visit.departed_at)), el("td", {}, seconds(visit.dwell_s)),
    el("td", {}, visit.greet_s === null ? "not greeted" : seconds(visit.greet_s)))));
  const rows = [];
  if (v.link) rows.push(["broker", v.link.broker], ["connected", v.link.connected ? "yes" : `no (${v.link.last_error ?? "connecting"})`],
    ["published / confirmed by HQ", `${v.link.published} / ${v.link.confirmed}`], ["awaiting HQ", v.link.awaiting_ack],
    ["reconnects", v.link.reconnects]);
  if (v.outbox) rows.push(["outbox depth", `${v.outbox.depth} (${v.outbox.events} events)`],
    ["oldest waiting", seconds(v.outbox.oldest_s)], ["outbox size", `${(v.outbox.stored_bytes / 1e6).toFixed(2)} of ${(v.outbox.budget_bytes / 1e6).toFixed(0)} MB`]);
  $("#link").replaceChildren(...rows.flatMap(([k, value]) => [el("dt", {}, k), el("dd", {}, value)]));
  const checking = v.install_check;
  $("#install-start").hidden = checking;
  $("#install-stop").hidden = !checking;
  if (checking && !state.installTimer) startInstallPolling();
}

async function refreshView() {
  try { renderView(await api("/api/view")); } catch (err) { $("#summary").textContent = `station not answering: ${err.message}`; }
}

// -- install check ----------------------------------------------------------------------------------------

function renderInstall(check) {
  $("#install-progress").textContent = check.active ? `${check.checked} of ${check.total} buttons seen` : "";
  fill($("#install-inputs"), check.inputs.map((input) => el("li", {
    "data-path": input.path, class: `${input.pressed ? "lit" : ""} ${input.presses ? "checked" : ""}`.trim(),
  }, el("span", { class: "lamp" }), `${input.label} `, el("small", {}, `GPIO${input.pin} · ${input.presses}×`))));
  $("#install-start").hidden = check.active;
  $("#install-stop").hidden = !check.active;
  if (!check.active) stopInstallPolling();
}

function startInstallPolling() {
  const poll = async () => { try { renderInstall(await api("/api/install-check")); } catch { /* next poll */ } };
  state.installTimer = setInterval(poll, 200);
  poll();
}

function stopInstallPolling() {
  clearInterval(state.installTimer);
  state.installTimer = null;
}

async function switchInstall(active) {
  const check = await api("/api/install-check", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ active }),
  });
  renderInstall(check);
  if (active) startInstallPolling();
}

// -- camera and zone editor ---------------------------------------------------------------------------------

function loadPicture(img, overlay) {
  img.onerror = () => setTimeout(() => loadPicture(img, overlay), 1000); // 503 until a frame came
  img.src = `/api/camera.jpg?overlay=${overlay}&t=${Date.now()}`;
}

function imagePoint(event) {
  const svg = $("#zone-svg");
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const local = point.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.round(local.x), Math.round(local.y)];
}

function drawZones() {
  const svg = $("#zone-svg");
  const shapes = state.zones.map((zone) => {
    const polygon = state.edits.get(zone.id)?.polygon ?? zone.polygon;
    const shape = document.createElementNS(SVG, "polygon");
    shape.setAttribute("points", polygon.map((p) => p.join(",")).join(" "));
    shape.setAttribute("class", `${zone.kind} ${zone.id === state.selected ? "selected" : ""}`);
    shape.dataset.zone = zone.id;
    return shape;
  });
  if (state.drawing) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", state.drawing.map((p) => p.join(",")).join(" "));
    shapes.push(line, ...state.drawing.map(([x, y]) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", 4);
      return dot;
    }));
  }
  svg.replaceChildren(...shapes);
}

function selectZone() {
  const value = $("#zone-select").value;
  const isNew = value === "";
  $("#zone-new-id").hidden = !isNew;
  $("#zone-new-kind").hidden = !isNew;
  state.selected = isNew ? null : value;
  drawZones();
}

function finishDrawing() {
  const points = state.drawing;
  if (!points || points.length < 3) { $("#zone-message").textContent = "a zone needs at least 3 corners"; return; }
  let id = state.selected;
  let kind = state.zones.find((z) => z.id === id)?.kind;
  if (id === null) {
    id = $("#zone-new-id").value.trim();
    kind = $("#zone-new-kind").value;
    if (!id) { $("#zone-message").textContent = "name the new zone first"; return; }
    state.zones.push({ id, kind, polygon: points });
    $("#zone-select").append(el("option", { value: id }, id));
    $("#zone-select").value = id;
    state.selected = id;
  }
  state.edits.set(id, { id, kind, polygon: points });
  state.drawing = null;
  $("#zone-finish").disabled = true;
  $("#zone-save").disabled = false;
  $("#zone-message").textContent = `${id}: ${points.length} corners, not saved yet`;
  drawZones();
}

async function saveZones() {
  try {
    const saved = await api("/api/zones", {
      method: "PUT", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ zones: [...state.edits.values()] }),
    });
    state.edits.clear();
    $("#zone-save").disabled = true;
    $("#zone-message").textContent = `Saved to ${saved.saved} (backup ${saved.backup}); applies ${saved.applies}.`;
  } catch (err) {
    $("#zone-message").textContent = `Not saved: ${err.message}`;
  }
}

async function setUpZones() {
  const config = await api("/api/config");
  $("#config-file").textContent = config.file ? `${config.file} (hash ${config.hash})` : `hash ${config.hash}`;
  $("#config").textContent = JSON.stringify(config.applied, null, 2);
  state.zones = config.zones.map((z) => ({ id: z.id, kind: z.kind, polygon: z.polygon }));
  $("#zone-select").replaceChildren(...state.zones.map((z) => el("option", { value: z.id }, z.id)),
    el("option", { value: "" }, "new zone…"));
  if (!config.applied.camera) return; // no picture to draw on
  watchCamera();
  const img = $("#zone-image");
  img.onload = () => {
    $("#zone-svg").setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
    $("#zone-svg").setAttribute("preserveAspectRatio", "none");
    img.dataset.ready = "1";
    drawZones();
  };
  loadPicture(img, 0);
  selectZone();
}

function wire() {
  $("#install-start").addEventListener("click", () => switchInstall(true));
  $("#install-stop").addEventListener("click", () => switchInstall(false));
  $("#zone-select").addEventListener("change", selectZone);
  $("#zone-redraw").addEventListener("click", () => {
    state.drawing = [];
    $("#zone-finish").disabled = false;
    $("#zone-message").textContent = "click the corners on the picture";
    drawZones();
  });
  $("#zone-finish").addEventListener("click", finishDrawing);
  $("#zone-save").addEventListener("click", saveZones);
  $("#zone-svg").addEventListener("click", (event) => {
    if (!state.drawing) return;
    state.drawing.push(imagePoint(event));
    drawZones();
  });
}

function watchCamera() {
  const camera = $("#camera-image");
  camera.onload = () => setTimeout(() => loadPicture(camera, 1), 1000);
  loadPicture(camera, 1);
}

wire();
refreshView();
setInterval(refreshView, 2000);
setUpZones();
