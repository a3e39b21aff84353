// The coding being built, as rows: principal diagnosis on top, secondaries and procedures in claim
// sequence, each with its status, CC/MCC flag, POA, the guideline rules behind it and what each change
// would do to the MS-DRG; then the alternatives, grouped under the concept they compete for.

import { h } from "./dom.js";
import { findingsFor } from "./checks.js";

export const POA_VALUES = ["Y", "N", "U", "W", "1"];
const POA_TEXT = { Y: "Y: present on admission", N: "N: not present on admission", U: "U: documentation insufficient",
  W: "W: clinically undetermined", 1: "1: exempt" };

const weight = (w) => (w === null || w === undefined ? 0 : Number(w));

/** "DRG 419 → 871 (+1.2345)" for an impact, or null when the DRG stays. */
export function drgChange(impact) {
  if (!impact || impact.drg_after === impact.drg_before) return null;
  const delta = weight(impact.weight_after) - weight(impact.weight_before);
  return `DRG ${impact.drg_before} → ${impact.drg_after} (${delta >= 0 ? "+" : ""}${delta.toFixed(4)})`;
}

function statusText(code) {
  if (code.source === "modified") return `Changed from ${code.replaces}`;
  if (code.status === "confirmed") return code.source === "added" ? "Added" : "Confirmed";
  return "Proposed";
}

/** One row of the coding. `kind` is "dx" or "px"; `handlers` are the view's actions by name. */
export function codeRow(code, { kind, index, count, inpatient, readonly, findings, handlers }) {
  const id = `${kind}-${index}`;
  const first = index === 0;
  const placeName = kind === "dx" ? (inpatient ? "Principal" : "First-listed") : "Principal procedure";
  const lines = [];
  const asPrincipal = drgChange(code.if_principal);
  const removed = drgChange(code.if_removed);
  if (asPrincipal) lines.push(h("span.impact", { "data-testid": "if-principal" }, `As principal: ${asPrincipal}`));
  if (removed) lines.push(h("span.impact", { "data-testid": "if-removed" }, `Without it: ${removed}`));
  const act = (name, label, text, props = {}) => h("button", {
    type: "button", "data-action": name, "aria-label": `${label} ${code.code}`,
    onclick: () => handlers[name](code), ...props }, text);
  return h("li", {
    class: `code-row status-${code.status}${first ? " first" : ""}`, tabIndex: -1,
    dataset: { code: code.code, system: code.system, kind, index: String(index) },
    "aria-labelledby": `${id}-code ${id}-desc`, "aria-describedby": `${id}-state`,
    onclick: (event) => { if (!event.target.closest("button, select, label")) handlers.select(code, { focus: true }); },
  },
    h("div.line", {},
      h("span.seq", { title: readonly ? "Sequence" : "Sequence: drag to reorder" }, `${index + 1}.`),
      first ? h("span.badge.place", {}, placeName) : null,
      h("button.code", { type: "button", id: `${id}-code`, "aria-pressed": "false", title: "Show its evidence in the note",
        onclick: () => handlers.select(code, { focus: false, scroll: true }) }, code.code),
      h("span.desc", { id: `${id}-desc` }, code.description),
      code.severity ? h("span", { class: `badge severity-${code.severity.toLowerCase()}`, title: `Counted as ${code.severity} by the MS-DRG grouper` }, code.severity) : null,
      h("span.state", { id: `${id}-state` }, statusText(code))),
    h("div.meta", {},
      ...(code.rules || []).map((r) => h("span.rule", { title: r.message }, `${r.section} ${r.rule}`)),
      ...lines,
      ...findings.map((f) => h("span", { class: `finding ${f.severity}` }, `${f.severity}: ${f.message}`))),
    readonly ? null : h("div.actions", {},
      act("accept", "Confirm", "Confirm", { "aria-keyshortcuts": "a", disabled: code.status === "confirmed" }),
      kind === "dx" && !first ? act("principal", "Make principal", "Principal", { "aria-keyshortcuts": "p" }) : null,
      act("up", "Move up", "↑", { disabled: first, "aria-keyshortcuts": "Shift+K" }),
      act("down", "Move down", "↓", { disabled: index === count - 1, "aria-keyshortcuts": "Shift+J" }),
      kind === "dx" && inpatient ? h("label.poa", {}, "POA ",
        h("select", { "data-action": "poa", "aria-label": `POA of ${code.code}`, "aria-keyshortcuts": "o",
          onchange: (event) => handlers.poa(code, event.target.value) },
          ...(code.poa ? [] : [h("option", { value: "", selected: true }, "—")]),
          ...POA_VALUES.map((v) => h("option", { value: v, selected: code.poa === v, title: POA_TEXT[v] }, v)))) : null,
      act("reject", "Remove", "Remove", { "aria-keyshortcuts": "r" }),
      act("modify", "Change", "Change…", { "aria-keyshortcuts": "m" })),
  );
}

/** The coding's rows in two lists; returns the rows in navigation order (diagnoses, then procedures). */
export function renderCoding(root, enc, handlers) {
  const working = enc.working;
  const readonly = enc.status === "submitted";
  const inpatient = enc.setting === "inpatient";
  const rows = [];
  for (const [kind, list, codes] of [["dx", "#dx-list", working.diagnoses], ["px", "#px-list", working.procedures]]) {
    const el = root.querySelector(list);
    const items = codes.map((code, index) => codeRow(code, { kind, index, count: codes.length, inpatient, readonly,
      findings: findingsFor(enc.findings, code.code), handlers }));
    el.replaceChildren(...items);
    if (!items.length) el.append(h("li.none", {}, kind === "dx" ? "No diagnosis in the coding." : "No procedure."));
    items.forEach((li, i) => {
      rows.push({ li, code: codes[i], kind });
      if (!readonly) wireDrag(li, el, handlers);
    });
  }
  return rows;
}

/** Mouse reordering: drag a row by its number onto another row of the same list; the drop is a sequence
 * decision. Pointer events rather than HTML5 drag and drop, so a drag from the number never selects text. */
function wireDrag(li, list, handlers) {
  const grip = li.querySelector(".seq");
  grip.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    li.classList.add("dragging");
    const over = (e) => document.elementFromPoint(e.clientX, e.clientY)?.closest("li.code-row");
    const move = (e) => list.querySelectorAll("li.code-row").forEach((row) => row.classList.toggle("drop-target", row === over(e) && row !== li));
    const up = (e) => {
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
      list.querySelectorAll("li.code-row").forEach((row) => row.classList.remove("dragging", "drop-target"));
      const target = over(e);
      if (target && target !== li && target.parentElement === list) {
        handlers.moveTo(li.dataset.code, li.dataset.system, Number(target.dataset.index) + 1);
      }
    };
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", up);
  });
}

/** The alternatives, one collapsed group per concept; each can be added, or used instead of the coded code. */
export function renderAlternatives(box, enc, handlers) {
  const readonly = enc.status === "submitted";
  const groups = enc.working.alternatives || [];
  const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.concept));
  box.replaceChildren(...groups.map((g) => h("details", {
    class: "alt-group", open: open.has(`${g.system}:${g.concept}`), dataset: { concept: `${g.system}:${g.concept}` } },
    h("summary", {},
      h("span.code", {}, g.concept), ` ${g.title} `,
      h("span.small", {}, `· ${g.alternatives.length} code${g.alternatives.length === 1 ? "" : "s"}`),
      g.coded.length ? h("span.small", {}, ` · competes with ${g.coded.join(", ")}`) : null),
    h("ul", {}, ...g.alternatives.map((a) => {
      const s = a.suggestion;
      const raise = a.impact ? drgChange(a.impact) : null;
      return h("li", { class: `alternative${a.rejected ? " rejected" : ""}`, dataset: { code: s.code, system: s.system } },
        h("button.code", { type: "button", title: "Show its evidence in the note", onclick: () => handlers.light(s.code) },
          s.code),
        ` ${s.description} `,
        h("span", { class: `badge assertion-${s.assertion}` }, s.assertion),
        a.rejected ? h("span.badge", {}, "removed") : null,
        a.dropped ? h("span.dropped.small", {}, ` ${a.dropped.message}`) : null,
        raise ? h("span.impact", {}, ` Adding: ${raise}`) : null,
        readonly ? null : h("span.alt-actions", {},
          h("button", { type: "button", "aria-label": `Add ${s.code}`, onclick: () => handlers.add(s) }, "Add"),
          g.coded.length ? h("button", { type: "button", "aria-label": `Use ${s.code} instead of ${g.coded[0]}`,
            onclick: () => handlers.instead(s, g.coded[0]) }, `Instead of ${g.coded[0]}`) : null));
    })))));
  if (!groups.length) box.append(h("p.none", {}, "No other candidates."));
}
