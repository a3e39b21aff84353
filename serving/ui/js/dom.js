// A tiny element builder. Text always goes in as text nodes, never as HTML, so nothing from a
// note or the API can become markup.

/** h("button.primary", {type: "button", onclick}, "Accept") → an element. */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Say `message` to screen readers through the page's polite live region. */
export function announce(message) {
  const live = document.getElementById("live");
  live.textContent = "";
  // A fresh text node on the next frame makes screen readers repeat an identical message.
  requestAnimationFrame(() => { live.textContent = message; });
}

/** Show `message` in the page's status line (a polite live region; errors stay until the next action). */
export function status(message, kind = "info") {
  const line = document.getElementById("status-line");
  line.textContent = message;
  line.dataset.kind = kind;
}

export const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };

/** "67 y, female" from {age, sex}. */
export function describePatient(patient) {
  if (!patient) return "—";
  const age = patient.age === null || patient.age === undefined ? "age ?" : `${patient.age} y`;
  return `${age}, ${patient.sex || "unknown"}`;
}
