// Small pure helpers for turning API values into text and DOM; no fetching here.

export const BANDS = {
  good: { label: "Good", cls: "band-good" },
  review: { label: "Review", cls: "band-review" },
  exposure: { label: "Exposure", cls: "band-exposure" },
  insufficient: { label: "Insufficient data", cls: "band-insufficient" },
};

// The seeds' thresholds (<60 exposure, <90 review, >=90 good) when the API sends only a score.
export function bandOf(score, band) {
  if (band && BANDS[band]) return band;
  if (score === null || score === undefined || Number.isNaN(score)) return "insufficient";
  if (score < 60) return "exposure";
  if (score < 90) return "review";
  return "good";
}

export function toMillis(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value < 1e12 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

export function isoSeconds(ms) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function ago(value, now = Date.now()) {
  const ms = toMillis(value);
  if (ms === null) return "never";
  return duration((now - ms) / 1000) + " ago";
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return plural(Math.round(s / 86400), "day");
}

// plural(1, "day") -> "1 day", plural(3, "day") -> "3 days"; `many` when it is not word + "s".
export function plural(count, word, many = `${word}s`) {
  return `${count} ${Number(count) === 1 ? word : many}`;
}

export function when(value) {
  const ms = toMillis(value);
  if (ms === null) return "–";
  return new Date(ms).toLocaleString(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function number(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  return Number(value).toFixed(digits);
}

export function percent(value) {
  if (value === null || value === undefined) return "–";
  return `${Math.round(Number(value) * 100)} %`;
}

// Coverage: a share (0..1), a ranking's {online_share, ratings, visits_judged} or a metric's {online_min, camera_fps}.
export function coverageText(coverage) {
  if (coverage === null || coverage === undefined) return "–";
  if (typeof coverage === "number") return percent(coverage);
  const parts = [];
  if (coverage.online_share !== undefined && coverage.online_share !== null) parts.push(`${percent(coverage.online_share)} online`);
  else if (coverage.share !== undefined) parts.push(percent(coverage.share));
  if (coverage.ratings !== undefined) parts.push(plural(coverage.ratings, "rating"));
  if (coverage.visits_judged !== undefined) parts.push(plural(coverage.visits_judged, "visit"));
  if (parts.length) return parts.join(", ");
  if (coverage.online_min !== undefined) parts.push(`${duration(coverage.online_min * 60)} online`);
  if (coverage.camera_fps !== undefined && coverage.camera_fps !== null) parts.push(`${number(coverage.camera_fps, 1)} fps`);
  return parts.join(", ") || "–";
}

export function regionOf(path, depth) {
  return (path || "").split("/").slice(0, depth).join("/");
}

// h("a", {href: "#/x", class: "c"}, "text", child) — text is always set as text, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function problem(error, what) {
  if (error && error.outOfScope) {
    return h("p", { class: "notice scope", "data-test": "out-of-scope" },
      `Your token does not cover ${what}. Ask HQ for a token with a wider scope.`);
  }
  return h("p", { class: "notice error" }, `Could not load ${what}: ${error && error.message ? error.message : error}`);
}
