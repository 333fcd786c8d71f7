// Router and session: #/login, #/leaderboard, #/station/<id>, #/alerts, #/followups, #/cross[/<id>], #/rollout.
// Each view is a module exporting render(root, params) that fills `root` and returns nothing.

import { api, token } from "./api.js";
import { destroyCharts } from "./charts.js";
import { h } from "./format.js";
import * as alerts from "./views/alerts.js";
import * as cross from "./views/cross.js";
import * as followups from "./views/followups.js";
import * as leaderboard from "./views/leaderboard.js";
import * as rollout from "./views/rollout.js";
import * as station from "./views/station.js";

const root = document.getElementById("view");
let me = null;

function parseHash() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "leaderboard", args: parts.slice(1), params: new URLSearchParams(search) };
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showChrome(user) {
  document.getElementById("nav").hidden = !user;
  document.getElementById("who").hidden = !user;
  document.getElementById("who-name").textContent = user ? `${user.name} · ${user.role}` : "";
}

function renderLogin(message) {
  showChrome(null);
  destroyCharts();
  const input = h("input", {
    id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    placeholder: "paste the token printed by `forecourt users add` or the demo",
  });
  const status = h("p", { class: "notice error", id: "login-error", hidden: !message }, message || "");
  const form = h("form", { class: "card login", id: "login-form" },
    h("h1", {}, "Log in"),
    h("label", { for: "token" }, "API token"),
    input,
    h("button", { type: "submit" }, "Log in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    token.set(input.value);
    try {
      me = await api.me();
      go("#/leaderboard");
    } catch (error) {
      token.clear();
      status.hidden = false;
      status.textContent = error.unauthenticated ? "That token is not valid." : `Login failed: ${error.message}`;
    }
  });
  root.replaceChildren(form);
  input.focus();
}

const VIEWS = { leaderboard, station, alerts, followups, cross, rollout };

async function route() {
  const { name, args, params } = parseHash();
  if (!token.get()) return renderLogin();
  if (!me) {
    try {
      me = await api.me();
    } catch (error) {
      token.clear();
      return renderLogin(error.unauthenticated ? "Your session has expired; log in again." : error.message);
    }
  }
  showChrome(me);
  const view = VIEWS[name] || leaderboard;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === name);
  }
  destroyCharts();
  // Each route renders into its own container: a slower, older render (the leaderboard still loading
  // when the user opens a station) then fills a detached node instead of overwriting the page.
  const target = h("div", { class: "view" }, h("p", { class: "loading" }, "Loading…"));
  root.replaceChildren(target);
  try {
    await view.render(target, { args, params, me, go });
  } catch (error) {
    target.replaceChildren(h("p", { class: "notice error" }, `Something went wrong: ${error.message}`));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("forecourt:unauthenticated", () => {
  if (!me) return; // no session yet: the login form reports a bad token itself
  me = null;
  token.clear();
  renderLogin("Your session has expired; log in again.");
});
document.getElementById("logout").addEventListener("click", () => {
  me = null;
  token.clear();
  location.hash = "#/login";
  renderLogin();
});

route();
