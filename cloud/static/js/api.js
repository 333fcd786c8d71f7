// The only place that talks to the collector: every request carries the Bearer token kept in
// sessionStorage (gone when the tab closes, never in a cookie the browser would send elsewhere).

const TOKEN_KEY = "forecourt.token";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
  get outOfScope() { return this.status === 403; }
  get unauthenticated() { return this.status === 401; }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value.trim()),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function query(params) {
  const parts = Object.entries(params || {})
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

async function request(method, path, { params, body } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${BASE}${path}${query(params)}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = "";
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? data);
    } catch { /* a proxy's HTML error page: the status says enough */ }
    const error = new ApiError(response.status, detail);
    if (error.unauthenticated) window.dispatchEvent(new CustomEvent("forecourt:unauthenticated"));
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

export const api = {
  me: () => request("GET", "/me"),
  regions: () => request("GET", "/regions"),
  stations: (region) => request("GET", "/stations", { params: { region } }),
  station: (id) => request("GET", `/stations/${encodeURIComponent(id)}`),
  events: (id, params) => request("GET", `/stations/${encodeURIComponent(id)}/events`, { params }),
  summary: (id, params) => request("GET", `/stations/${encodeURIComponent(id)}/summary`, { params }),
  metrics: (params) => request("GET", "/metrics", { params }),
  rankings: (params) => request("GET", "/rankings", { params }),
  alerts: (params) => request("GET", "/alerts", { params }),
  acknowledge: (id, comment) => request("POST", `/alerts/${encodeURIComponent(id)}/acknowledge`, { body: { comment } }),
  resolve: (id, comment) => request("POST", `/alerts/${encodeURIComponent(id)}/resolve`, { body: { comment } }),
  followups: (params) => request("GET", "/followups", { params }),
  acknowledgeFollowup: (id, note) => request("POST", `/followups/${encodeURIComponent(id)}/acknowledge`, { body: { note } }),
  closeFollowup: (id, note) => request("POST", `/followups/${encodeURIComponent(id)}/close`, { body: { note } }),
  fleetRollout: (params) => request("GET", "/fleet/rollout", { params }),
  fleetLayers: () => request("GET", "/fleet/layers"),
  fleetHistory: (params) => request("GET", "/fleet/history", { params }),
};

// Lists come back either bare or wrapped ({items: [...]}, {stations: [...]}); accept both so a
// small API change does not blank the dashboard.
export function rows(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}
