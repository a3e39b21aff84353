// Boot: sign-in (the API key, once per browser session), the hash router between the worklist
// and an encounter, and the keyboard shortcuts listed on the page.

import { api, session, whenUnauthorized } from "./api.js";
import { status } from "./dom.js";
import { Worklist } from "./worklist.js";
import { EncounterView } from "./encounter.js";
import { showShortcuts } from "./dialogs.js";
import { DeniedList, CodingMetrics, showEncounterDenials } from "./billing.js";

const $ = (selector) => document.querySelector(selector);
const views = { signin: $("#signin"), worklist: $("#worklist"), encounter: $("#encounter"), denied: $("#denied"),
  metrics: $("#metrics") };
const denied = new DeniedList(views.denied, { open: (id) => { location.hash = `#/encounters/${encodeURIComponent(id)}`; } });
const metrics = new CodingMetrics(views.metrics);

const worklist = new Worklist(views.worklist, { open: (id) => { location.hash = `#/encounters/${encodeURIComponent(id)}`; } });
const encounter = new EncounterView(views.encounter, {
  done: () => { location.hash = "#/"; },
});

function show(name) {
  for (const [key, el] of Object.entries(views)) el.hidden = key !== name;
  document.body.dataset.view = name;
  $("#signed-in").hidden = name === "signin";
  $("#who").textContent = session.coder;
}

async function route() {
  if (!session.key) {
    show("signin");
    $("#api-key").focus();
    return;
  }
  const match = /^#\/encounters\/(.+)$/.exec(location.hash);
  try {
    if (match) {
      show("encounter");
      document.title = "Encounter · medcode review";
      await encounter.load(decodeURIComponent(match[1]));
      await showEncounterDenials(decodeURIComponent(match[1]));
    } else if (location.hash === "#/denied") {
      show("denied");
      document.title = "Denied · medcode review";
      await denied.load();
    } else if (location.hash === "#/metrics") {
      show("metrics");
      document.title = "Coding metrics · medcode review";
      await metrics.load();
    } else {
      show("worklist");
      document.title = "Worklist · medcode review";
      await worklist.load();
      worklist.focusFirst();
    }
  } catch (error) {
    status(`Could not load: ${error.message}`, "error");
  }
}

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  session.signIn(form.get("key"), form.get("coder"));
  event.target.reset();
  try {
    await api.worklist("pending");
  } catch (error) {
    session.signOut();
    status(error.status === 401 || error.status === 403
      ? "That key was refused. Check it and try again." : `Could not reach the API: ${error.message}`, "error");
    $("#api-key").focus();
    return;
  }
  status("");
  route();
});

$("#shortcuts-button").addEventListener("click", showShortcuts);

$("#signout").addEventListener("click", () => {
  session.signOut();
  location.hash = "#/";
  route();
});

whenUnauthorized(() => {
  session.signOut();
  show("signin");
  status("The API refused the key; sign in again.", "error");
  $("#api-key").focus();
});

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable], dialog") !== null;
}

const shortcuts = {
  worklist: { j: () => worklist.move(1), k: () => worklist.move(-1), Enter: () => worklist.openFocused(),
    "/": () => $("#filter-q").focus() },
  encounter: {
    j: () => encounter.move(1), k: () => encounter.move(-1),
    a: () => encounter.accept(), p: () => encounter.principal(),
    J: () => encounter.shift(encounter.current, 1), K: () => encounter.shift(encounter.current, -1),
    o: () => encounter.cyclePoa(), x: () => encounter.toggleAlternatives(),
    r: () => encounter.reject(), m: () => encounter.modify(),
    s: () => encounter.openSearch(), "/": () => encounter.openSearch(),
    n: () => encounter.focusNote(),
    f: () => encounter.submit(), Escape: () => { location.hash = "#/"; },
  },
};

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (event.key === "?" && !typing(event.target)) {
    event.preventDefault();
    showShortcuts();
    return;
  }
  const table = shortcuts[document.body.dataset.view];
  if (!table || typing(event.target)) return;
  if (document.body.dataset.view === "encounter" && !encounter.enc && event.key !== "Escape") return;
  // Enter on a focused button or link keeps its own meaning.
  if (event.key === "Enter" && event.target.closest("button, a, summary, mark")) return;
  const action = table[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

window.addEventListener("hashchange", route);
route();
