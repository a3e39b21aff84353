// One encounter: the note with its evidence, the coding being built (proposed by the coding step,
// confirmed and arranged by the coder), the alternatives, and the live checks. Every decision is a POST
// to the API, which answers with the encounter re-checked, so the page shows what the audit trail holds.

import { api } from "./api.js";
import { h, announce, status, describePatient } from "./dom.js";
import { renderNote, lightCodes, focusMark } from "./note.js";
import { renderDrg, renderFindings } from "./checks.js";
import { askRejectReason, askAlternative, confirmSubmit } from "./dialogs.js";
import { POA_VALUES, renderAlternatives, renderCoding } from "./coding.js";
import { CodeSearch } from "./search.js";

const DIMMED = new Set(["negated", "family"]);

/** The encounter as the page uses it, from the API's body. */
function normalize(body) {
  const meta = body.encounter || {};
  const all = body.suggestions || [];
  return {
    id: String(body.id),
    label: body.external_id || String(body.id),
    status: body.status || "pending",
    text: body.text ?? "",
    setting: meta.setting || body.coding?.context?.setting || "outpatient",
    date: meta.date_of_service || "",
    patient: meta.patient || null,
    suggestions: all.filter((s) => !DIMMED.has(s.assertion)),
    flagged: all.filter((s) => DIMMED.has(s.assertion)),
    working: body.working || { diagnoses: [], procedures: [], alternatives: [] },
    decisions: body.decisions || [],
    final: body.final_codes || [],
    findings: body.findings || [],
    drg: body.drg || null,
  };
}

export class EncounterView {
  constructor(root, { done }) {
    this.root = root;
    this.done = done;
    this.enc = null;
    this.rows = [];
    this.current = 0;
    this.busy = false;
    this.drgBefore = null;
    this.noteEl = root.querySelector("#note-text");
    this.search = new CodeSearch(root.querySelector("#add-form"), {
      onPick: (c) => this.decide({ action: "add", code: c.code, system: c.system }, `added ${c.code}`),
    });
    this.noteEl.addEventListener("click", (event) => {
      const mark = event.target.closest("mark");
      if (mark) this.showSpanCodes(mark);
    });
    this.noteEl.addEventListener("keydown", (event) => this.noteKey(event));
    root.querySelector("#submit-button").addEventListener("click", () => this.submit());
    for (const button of root.querySelectorAll("[data-export]")) {
      button.addEventListener("click", () => this.export(button.dataset.export));
    }
    const at = (code) => this.rows.findIndex((r) => r.code.code === code.code && r.code.system === code.system);
    this.handlers = {
      select: (code, options) => this.select(at(code), options),
      accept: (code) => this.accept(at(code)),
      principal: (code) => this.principal(at(code)),
      up: (code) => this.shift(at(code), -1),
      down: (code) => this.shift(at(code), 1),
      poa: (code, value) => this.setPoa(at(code), value),
      reject: (code) => this.reject(at(code)),
      modify: (code) => this.modify(at(code)),
      moveTo: (code, system, position) => this.decide({ action: "sequence", code, system, position },
        `moved ${code} to place ${position}`),
      light: (code) => this.light([code], true),
      add: (s) => this.decide({ action: "accept", code: s.code, system: s.system }, `added ${s.code}`),
      instead: (s, coded) => this.decide({ action: "modify", code: s.code, system: s.system, replaces: coded },
        `changed ${coded} to ${s.code}`),
    };
  }

  async load(id) {
    status("Loading the encounter…");
    this.enc = null;  // until the new encounter is in, shortcuts must not act on the previous one
    this.root.querySelector("#encounter-h").textContent = "Encounter (loading…)";
    this.drgBefore = null;
    this.current = 0;
    this.enc = normalize(await api.encounter(id));
    status("");
    this.render();
    this.root.querySelector("#encounter-h").focus();
  }

  render(cause) {
    const e = this.enc;
    this.root.querySelector("#encounter-h").textContent = `Encounter ${e.label}`;
    this.root.querySelector("#enc-patient").textContent = describePatient(e.patient);
    this.root.querySelector("#enc-setting").textContent = e.setting;
    this.root.querySelector("#enc-date").textContent = e.date || "—";
    this.root.querySelector("#enc-status").textContent = e.status;
    const submitted = e.status === "submitted";  // a denied encounter is open again for corrections
    this.root.classList.toggle("readonly", submitted);
    this.root.querySelector("#submit-button").disabled = submitted;
    this.root.querySelector("#add-form fieldset").disabled = submitted;
    this.root.querySelector("#dx-h").textContent = e.setting === "inpatient"
      ? "Diagnoses (principal first)" : "Diagnoses (first-listed first)";

    renderNote(this.noteEl, e.text, this.buildSpans());
    this.rows = renderCoding(this.root, e, this.handlers);
    renderAlternatives(this.root.querySelector("#alternatives"), e, this.handlers);
    this.renderFlagged();
    this.renderFinal();
    renderFindings(this.root.querySelector("#findings"), e.findings);
    renderDrg(this.root.querySelector("#drg"), e, this.drgBefore, cause);
    this.renderAudit();
    this.select(Math.min(this.current, Math.max(0, this.rows.length - 1)), { focus: false, scroll: false });
  }

  buildSpans() {
    const spans = [];
    const push = (c, dim, label) => (c.evidence || []).forEach((ev, i) => {
      const off = dim || DIMMED.has(ev.assertion);
      spans.push({ id: `${c.system}:${c.code}:${i}`, start: ev.start, end: ev.end, codes: [c.code], dim: off,
        label: `${c.code} ${c.description}${off ? ` (${ev.assertion}${label})` : ""}` });
    });
    const w = this.enc.working;
    [...w.diagnoses, ...w.procedures].forEach((c) => push(c, false, ""));
    w.alternatives.forEach((g) => g.alternatives.forEach((a) => push(a.suggestion, false, "")));
    this.enc.flagged.forEach((s) => push(s, true, ", not suggested"));
    return spans;
  }

  renderFlagged() {
    const list = this.root.querySelector("#flagged-list");
    list.replaceChildren(...this.enc.flagged.map((s) => h("li.dim", {},
      h("button.code", { type: "button", onclick: () => this.light([s.code], true) }, s.code), " ",
      s.description, " ", h("span", { class: `badge assertion-${s.assertion}` }, s.assertion))));
    this.root.querySelector("#flagged").hidden = this.enc.flagged.length === 0;
  }

  /** The confirmed codes, in claim sequence: what Submit sends. */
  renderFinal() {
    const list = this.root.querySelector("#final-list");
    list.replaceChildren(...this.enc.final.map((c) => h("li", {},
      `${c.sequence}. `, h("span.code", {}, c.code), ` ${c.description || ""} `, h("span.system", {}, c.system),
      c.principal ? h("span.badge", {}, c.system === "ICD-10-CM" ? "principal" : "principal procedure") : null,
      c.poa ? ` POA ${c.poa}` : "")));
    if (!this.enc.final.length) list.append(h("li.none", {}, "No confirmed codes yet."));
  }

  renderAudit() {
    const list = this.root.querySelector("#audit-list");
    list.replaceChildren(...this.enc.decisions.map((d) => h("li", {},
      h("time", { datetime: d.at }, d.at ? new Date(d.at).toLocaleString() : ""), " ",
      `${d.coder || "?"}: ${d.action} ${d.code}`, d.replaces ? ` (was ${d.replaces})` : "",
      d.position ? ` to place ${d.position}` : "", d.poa ? ` POA ${d.poa}` : "", d.reason ? ` — ${d.reason}` : "")));
    this.root.querySelector("#audit-count").textContent = String(this.enc.decisions.length);
  }

  /** Make row `i` the current one: its evidence lights up and (optionally) it scrolls into view. */
  select(i, { focus = true, scroll = true } = {}) {
    if (!this.rows.length || i < 0) return;
    this.current = Math.max(0, Math.min(this.rows.length - 1, i));
    this.rows.forEach(({ li }, k) => {
      const on = k === this.current;
      li.tabIndex = on ? 0 : -1;
      li.classList.toggle("current", on);
      li.querySelector("button.code").setAttribute("aria-pressed", String(on));
    });
    const { li, code } = this.rows[this.current];
    this.light([code.code], scroll);
    if (focus) li.focus();
    else if (scroll) li.scrollIntoView({ block: "nearest" });
  }

  light(codes, scroll) {
    const first = lightCodes(this.noteEl, codes);
    if (first && scroll) first.scrollIntoView({ block: "center", behavior: "smooth" });
    return first;
  }

  move(step) { this.select(this.current + step, { focus: true }); }

  showSpanCodes(mark) {
    focusMark(this.noteEl, mark);
    const codes = mark.dataset.codes.split(" ");
    const box = this.root.querySelector("#span-codes");
    const w = this.enc.working;
    const known = [...w.diagnoses, ...w.procedures, ...w.alternatives.flatMap((g) => g.alternatives.map((a) => a.suggestion)),
      ...this.enc.flagged];
    box.replaceChildren(h("span", {}, "This span is evidence for: "), ...codes.map((code) => {
      const c = known.find((x) => x.code === code);
      const index = this.rows.findIndex((r) => r.code.code === code);
      return h("button.code", { type: "button", onclick: () => (index >= 0 ? this.select(index) : this.light([code], true)) },
        code, c ? ` ${c.description}` : "", index < 0 ? " (not in the coding)" : "");
    }));
    box.hidden = false;
    const index = this.rows.findIndex((r) => codes.includes(r.code.code));
    if (index >= 0) this.select(index, { focus: false, scroll: false });
    lightCodes(this.noteEl, codes);
    announce(`Evidence for ${codes.join(", ")}`);
  }

  noteKey(event) {
    const marks = [...this.noteEl.querySelectorAll("mark")];
    const at = marks.indexOf(document.activeElement);
    if (at < 0) return;
    if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(event.key)) {
      event.preventDefault();
      const step = event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : -1;
      focusMark(this.noteEl, marks[(at + step + marks.length) % marks.length]);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.showSpanCodes(marks[at]);
    }
  }

  /** Move focus into the note, at the current code's first highlight. */
  focusNote() {
    const mark = this.noteEl.querySelector("mark.lit") || this.noteEl.querySelector("mark");
    if (mark) focusMark(this.noteEl, mark);
  }

  row(i = this.current) { return this.enc && this.enc.status !== "submitted" ? this.rows[i] : undefined; }

  /** Send one decision; a second one while the first is on its way is ignored (a double click, a held key). */
  async decide(decision, what) {
    if (!this.enc || this.enc.status === "submitted" || this.busy) return false;
    this.busy = true;
    const keep = this.rows[this.current]?.code;
    try {
      const body = await api.decide(this.enc.id, decision);
      this.drgBefore = this.enc.drg;
      this.enc = normalize(body);
      this.render(what);
      const again = keep ? this.indexOf(keep) : -1;  // the same code stays current, wherever it moved
      if (again >= 0) this.select(again, { focus: false, scroll: false });
      const drg = this.enc.setting === "inpatient" && this.enc.drg ? ` MS-DRG ${this.enc.drg.drg}.` : "";
      status(`${what[0].toUpperCase()}${what.slice(1)}.`);
      announce(`${what[0].toUpperCase()}${what.slice(1)}.${drg}`);
      return true;
    } catch (error) {
      status(`Could not record the decision: ${error.message}`, "error");
      return false;
    } finally {
      this.busy = false;
    }
  }

  indexOf(code) { return this.rows.findIndex((r) => r.code.code === code.code && r.code.system === code.system); }

  /** Confirm the current code (one key: a), then go to the next one. */
  async accept(i = this.current) {
    const r = this.row(i);
    if (!r) return;
    this.current = i;
    if (r.code.status !== "confirmed") await this.decide({ action: "accept", code: r.code.code, system: r.code.system }, `confirmed ${r.code.code}`);
    this.select(this.indexOf(r.code) + 1, { focus: true, scroll: true });
  }

  async principal(i = this.current) {
    const r = this.row(i);
    if (!r || r.kind !== "dx") return;
    await this.decide({ action: "principal", code: r.code.code, system: r.code.system }, `made ${r.code.code} the principal diagnosis`);
    this.select(this.indexOf(r.code), { focus: true, scroll: true });
  }

  /** Move the code one place up (-1) or down (+1) in its list. */
  async shift(i, step) {
    const r = this.row(i);
    if (!r) return;
    const list = r.kind === "dx" ? this.enc.working.diagnoses : this.enc.working.procedures;
    const position = r.code.sequence + step;
    if (position < 1 || position > list.length) return;
    await this.decide({ action: "sequence", code: r.code.code, system: r.code.system, position },
      `moved ${r.code.code} to place ${position}`);
    this.select(this.indexOf(r.code), { focus: true, scroll: true });
  }

  async setPoa(i, value) {
    const r = this.row(i);
    if (!r || r.kind !== "dx" || !POA_VALUES.includes(value)) return;
    await this.decide({ action: "poa", code: r.code.code, system: r.code.system, poa: value }, `set POA of ${r.code.code} to ${value}`);
    this.select(this.indexOf(r.code), { focus: true, scroll: false });
  }

  /** The next POA indicator for the current diagnosis (one key: o). */
  cyclePoa() {
    const r = this.row();
    if (!r || r.kind !== "dx" || this.enc.setting !== "inpatient") return;
    const next = POA_VALUES[(POA_VALUES.indexOf(r.code.poa) + 1) % POA_VALUES.length];
    this.setPoa(this.current, next);
  }

  async reject(i = this.current) {
    const r = this.row(i);
    if (!r) return;
    this.current = i;
    const reason = await askRejectReason(r.code.code, r.code.description);
    if (reason === null) return;
    await this.decide({ action: "reject", code: r.code.code, system: r.code.system, reason }, `removed ${r.code.code}`);
    this.select(Math.min(i, this.rows.length - 1), { focus: true, scroll: true });
  }

  async modify(i = this.current) {
    const r = this.row(i);
    if (!r) return;
    this.current = i;
    const chosen = await askAlternative(r.code.system, r.code.code, r.code.description);
    if (!chosen) return;
    await this.decide({ action: "modify", code: chosen.code, system: r.code.system, replaces: r.code.code },
      `changed ${r.code.code} to ${chosen.code}`);
    this.select(i, { focus: true, scroll: false });
  }

  /** Open (or close) the alternatives that compete with the current code (one key: x). */
  toggleAlternatives() {
    const r = this.rows[this.current];
    if (!r) return;
    const concept = `${r.code.system}:${r.code.code.replace(".", "").slice(0, 3)}`;
    const group = this.root.querySelector(`#alternatives details[data-concept="${concept}"]`);
    if (!group) { status(`No alternatives compete with ${r.code.code}.`); return; }
    group.open = !group.open;
    if (group.open) group.querySelector("summary").focus();
  }

  openSearch() {
    if (this.enc.status === "submitted") return;
    this.search.focus();  // the system stays what the coder chose
  }

  async submit() {
    if (this.enc.status === "submitted") return;
    const errors = this.enc.findings.filter((f) => f.severity === "error").length;
    const w = this.enc.working;
    const unconfirmed = [...w.diagnoses, ...w.procedures].filter((c) => c.status !== "confirmed").map((c) => c.code);
    if (!(await confirmSubmit(this.enc.final, errors, unconfirmed))) return;
    try {
      await api.submit(this.enc.id);
      announce(`Encounter ${this.enc.label} submitted.`);
      status(`Encounter ${this.enc.label} submitted.`);
      this.done(this.enc.id);
    } catch (error) {
      status(`Could not submit: ${error.message}`, "error");
    }
  }

  async export(format) {
    try {
      const response = await api.exportFile(this.enc.id, format);
      const blob = await response.blob();
      // An object URL lives in this page's memory only and is revoked at once after the click.
      const url = URL.createObjectURL(blob);
      const ext = { json: "json", csv: "csv", fhir: "fhir.json" }[format];
      const name = this.enc.label.replace(/[^A-Za-z0-9._-]+/g, "_");
      const link = h("a", { href: url, download: `encounter-${name}.${ext}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 0);
      status(`Exported ${format.toUpperCase()}.`);
    } catch (error) {
      status(`Could not export: ${error.message}`, "error");
    }
  }
}
