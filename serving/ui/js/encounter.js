// One encounter: the note with its evidence, the ranked suggestions, the coder's decisions and
// the live checks. Every decision is a POST to the API; the page then re-reads the encounter, so
// what it shows is always what the audit trail holds.

import { api } from "./api.js";
import { h, announce, status, describePatient } from "./dom.js";
import { renderNote, lightCodes, focusMark } from "./note.js";
import { renderDrg, renderFindings, impactLine, findingsFor } from "./checks.js";
import { askRejectReason, askAlternative, confirmSubmit } from "./dialogs.js";
import { CodeSearch } from "./search.js";

const DIMMED = new Set(["negated", "family"]);
const STATE_TEXT = { accept: "Accepted", reject: "Rejected", modify: "Changed", pending: "Pending" };

/** The encounter as the page uses it, from the API's body. */
function normalize(body) {
  const meta = body.encounter || body;
  const all = body.suggestions || [];
  return {
    id: String(body.id),
    label: body.external_id || String(body.id),
    status: body.status || "pending",
    text: body.text ?? body.note ?? "",
    setting: meta.setting || "outpatient",
    date: meta.date_of_service || "",
    patient: meta.patient || null,
    suggestions: all.filter((s) => !DIMMED.has(s.assertion)),
    flagged: [...all.filter((s) => DIMMED.has(s.assertion)), ...(body.flagged || [])],
    decisions: body.decisions || [],
    final: body.final_codes || body.codes || [],
    findings: body.findings || [],
    drg: body.drg || null,
    drgImpact: body.drg_impact || [],
  };
}

/** The latest decision per suggested code: {action, reason, to}. */
function decisionState(decisions) {
  const state = new Map();
  const added = new Map();
  for (const d of decisions) {
    if (d.action === "modify") {
      state.set(d.replaces, { action: "modify", to: d.code, reason: d.reason });
      added.delete(d.replaces);
    } else if (d.action === "add") {
      added.set(d.code, d);
    } else {
      state.set(d.code, { action: d.action, reason: d.reason });
      if (d.action === "reject") added.delete(d.code);
    }
  }
  return { state, added };
}

export class EncounterView {
  constructor(root, { done }) {
    this.root = root;
    this.done = done;
    this.enc = null;
    this.current = 0;
    this.drgBefore = null;
    this.noteEl = root.querySelector("#note-text");
    this.listEl = root.querySelector("#suggestion-list");
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
  }

  async load(id) {
    status("Loading the encounter…");
    // Until the new encounter is in, shortcuts must not act on the previous one.
    this.enc = null;
    this.root.querySelector("#encounter-h").textContent = "Encounter (loading…)";
    this.drgBefore = null;
    this.current = 0;
    this.enc = normalize(await api.encounter(id));
    status("");
    this.render();
    this.root.querySelector("#encounter-h").focus();
  }

  /** Show `body` (the encounter as the API returned it after a decision), or re-read it. */
  async refresh(cause, body) {
    const before = this.enc.drg;
    this.enc = normalize(body || await api.encounter(this.enc.id));
    this.drgBefore = before;
    this.render(cause);
  }

  render(cause) {
    const e = this.enc;
    const title = this.root.querySelector("#encounter-h");
    title.textContent = `Encounter ${e.label}`;
    this.root.querySelector("#enc-patient").textContent = describePatient(e.patient);
    this.root.querySelector("#enc-setting").textContent = e.setting;
    this.root.querySelector("#enc-date").textContent = e.date || "—";
    this.root.querySelector("#enc-status").textContent = e.status;
    const submitted = e.status === "submitted";  // a denied encounter is open again for corrections
    this.root.classList.toggle("readonly", submitted);
    this.root.querySelector("#submit-button").disabled = submitted;
    this.root.querySelector("#add-form fieldset").disabled = submitted;

    this.spans = this.buildSpans();
    renderNote(this.noteEl, e.text, this.spans);
    this.renderSuggestions();
    this.renderFlagged();
    this.renderFinal();
    renderFindings(this.root.querySelector("#findings"), e.findings);
    renderDrg(this.root.querySelector("#drg"), e, this.drgBefore, cause);
    this.renderAudit();
    this.select(Math.min(this.current, Math.max(0, e.suggestions.length - 1)), { focus: false, scroll: false });
  }

  buildSpans() {
    const spans = [];
    const push = (s, flagged) => s.evidence.forEach((ev, i) => {
      const dim = flagged || DIMMED.has(ev.assertion);
      const why = flagged ? s.assertion : ev.assertion;
      spans.push({ id: `${s.system}:${s.code}:${i}`, start: ev.start, end: ev.end, codes: [s.code], dim,
        label: `${s.code} ${s.description}${dim ? ` (${why}${flagged ? ", not suggested" : ""})` : ""}` });
    });
    this.enc.suggestions.forEach((s) => push(s, false));
    this.enc.flagged.forEach((s) => push(s, true));
    return spans;
  }

  renderSuggestions() {
    const { state } = decisionState(this.enc.decisions);
    const items = this.enc.suggestions.map((s, i) => {
      const d = state.get(s.code) || { action: "pending" };
      const stateText = d.action === "modify" ? `Changed to ${d.to}`
        : d.action === "reject" && d.reason ? `Rejected: ${d.reason}` : STATE_TEXT[d.action];
      const problems = findingsFor(this.enc.findings, s.code);
      return h("li", {
        class: `suggestion state-${d.action}`, dataset: { index: String(i), code: s.code, system: s.system },
        tabIndex: -1, "aria-labelledby": `sugg-${i}-code sugg-${i}-desc`, "aria-describedby": `sugg-${i}-state`,
        onclick: (event) => { if (!event.target.closest("button")) this.select(i, { focus: true }); },
      },
        h("div.line", {},
          h("span.rank", { "aria-hidden": "true" }, `${i + 1}.`),
          h("button.code", {
            type: "button", id: `sugg-${i}-code`, "aria-pressed": "false",
            title: "Show its evidence in the note", onclick: () => this.select(i, { focus: false, scroll: true }),
          }, s.code),
          h("span.desc", { id: `sugg-${i}-desc` }, s.description),
          h("span.score", { title: "score" },
            h("meter", { min: 0, max: 1, value: s.score, "aria-label": `score ${s.score.toFixed(2)}` }),
            ` ${s.score.toFixed(2)}`)),
        h("div.meta", {},
          h("span", { class: `badge assertion-${s.assertion}` }, s.assertion),
          h("span.system", {}, s.system),
          h("span.why", {}, s.why),
          impactLine(this.enc.drgImpact, s.code),
          ...problems.map((f) => h("span", { class: `finding ${f.severity}` }, `${f.severity}: ${f.message}`))),
        h("div.actions", {},
          h("span.state", { id: `sugg-${i}-state` }, stateText),
          h("button", { type: "button", "data-action": "accept", onclick: () => this.accept(i),
            "aria-label": `Accept ${s.code}`, "aria-keyshortcuts": "a", disabled: d.action === "accept" }, "Accept"),
          h("button", { type: "button", "data-action": "reject", onclick: () => this.reject(i),
            "aria-label": `Reject ${s.code}`, "aria-keyshortcuts": "r", disabled: d.action === "reject" }, "Reject"),
          h("button", { type: "button", "data-action": "modify", onclick: () => this.modify(i),
            "aria-label": `Change ${s.code} to a related code`, "aria-keyshortcuts": "m" }, "Change…")));
    });
    this.listEl.replaceChildren(...items);
    if (!items.length) this.listEl.append(h("li.none", {}, "No suggestions for this note."));
  }

  renderFlagged() {
    const list = this.root.querySelector("#flagged-list");
    list.replaceChildren(...this.enc.flagged.map((s) => h("li.dim", {},
      h("button.code", { type: "button", onclick: () => this.light([s.code], true) }, s.code), " ",
      s.description, " ", h("span", { class: `badge assertion-${s.assertion}` }, s.assertion))));
    this.root.querySelector("#flagged").hidden = this.enc.flagged.length === 0;
  }

  renderFinal() {
    const { added } = decisionState(this.enc.decisions);
    const list = this.root.querySelector("#final-list");
    const final = this.enc.final;
    // The API groups with the first diagnosis of the final set as principal; say which one that is.
    const principal = this.enc.setting === "inpatient" ? final.find((c) => c.system === "ICD-10-CM") : null;
    list.replaceChildren(...final.map((c) => h("li", {},
      h("span.code", {}, c.code), ` ${c.description || ""} `, h("span.system", {}, c.system),
      c === principal ? h("span.badge", {}, "principal") : null,
      added.has(c.code) && this.enc.status !== "submitted"
        ? h("button", { type: "button", onclick: () => this.decide(
          { action: "reject", code: c.code, system: c.system, reason: "Removed after adding" }, `removed ${c.code}`),
          "aria-label": `Remove ${c.code}` }, "Remove") : null)));
    if (!final.length) list.append(h("li.none", {}, "No codes yet."));
  }

  renderAudit() {
    const list = this.root.querySelector("#audit-list");
    list.replaceChildren(...this.enc.decisions.map((d) => h("li", {},
      h("time", { datetime: d.at }, d.at ? new Date(d.at).toLocaleString() : ""), " ",
      `${d.coder || "?"}: ${d.action} ${d.code}`, d.replaces ? ` (was ${d.replaces})` : "",
      d.reason ? ` — ${d.reason}` : "")));
    this.root.querySelector("#audit-count").textContent = String(this.enc.decisions.length);
  }

  /** Make suggestion `i` the current one: its spans light up and (optionally) scroll into view. */
  select(i, { focus = true, scroll = true } = {}) {
    const items = [...this.listEl.querySelectorAll("li.suggestion")];
    if (!items.length) return;
    this.current = Math.max(0, Math.min(items.length - 1, i));
    items.forEach((li, k) => {
      const on = k === this.current;
      li.tabIndex = on ? 0 : -1;
      li.classList.toggle("current", on);
      li.querySelector("button.code").setAttribute("aria-pressed", String(on));
    });
    const item = items[this.current];
    this.light([item.dataset.code], scroll);
    if (focus) item.focus();
    else if (scroll) item.scrollIntoView({ block: "nearest" });
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
    const all = [...this.enc.suggestions, ...this.enc.flagged];
    box.replaceChildren(h("span", {}, "This span is evidence for: "), ...codes.map((code) => {
      const s = all.find((x) => x.code === code);
      const index = this.enc.suggestions.indexOf(s);
      return h("button.code", { type: "button", onclick: () => (index >= 0 ? this.select(index) : this.light([code], true)) },
        code, s ? ` ${s.description}` : "", index < 0 ? " (not suggested)" : "");
    }));
    box.hidden = false;
    const index = this.enc.suggestions.findIndex((s) => codes.includes(s.code));
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

  currentSuggestion() { return this.enc?.suggestions[this.current]; }

  /** Move focus into the note, at the current code's first highlight. */
  focusNote() {
    const mark = this.noteEl.querySelector("mark.lit") || this.noteEl.querySelector("mark");
    if (mark) focusMark(this.noteEl, mark);
  }

  async decide(decision, what) {
    if (this.enc.status === "submitted") return;
    try {
      const body = await api.decide(this.enc.id, decision);
      // The decision route answers with the encounter, findings and DRG already re-checked.
      await this.refresh(what, body && body.id ? body : undefined);
      const drg = this.enc.setting === "inpatient" && this.enc.drg ? ` MS-DRG ${this.enc.drg.drg}.` : "";
      status(`${what[0].toUpperCase()}${what.slice(1)}.`);
      announce(`${what[0].toUpperCase()}${what.slice(1)}.${drg}`);
    } catch (error) {
      status(`Could not record the decision: ${error.message}`, "error");
    }
  }

  async accept(i = this.current) {
    const s = this.enc.suggestions[i];
    if (!s) return;
    this.current = i;
    await this.decide({ action: "accept", code: s.code, system: s.system }, `accepted ${s.code}`);
    this.select(this.current + 1, { focus: true, scroll: true });
  }

  async reject(i = this.current) {
    const s = this.enc.suggestions[i];
    if (!s || this.enc.status === "submitted") return;
    this.current = i;
    const reason = await askRejectReason(s.code, s.description);
    if (reason === null) return;
    await this.decide({ action: "reject", code: s.code, system: s.system, reason }, `rejected ${s.code}`);
    this.select(this.current + 1, { focus: true, scroll: true });
  }

  async modify(i = this.current) {
    const s = this.enc.suggestions[i];
    if (!s || this.enc.status === "submitted") return;
    this.current = i;
    const chosen = await askAlternative(s.system, s.code, s.description);
    if (!chosen) return;
    await this.decide({ action: "modify", code: chosen.code, system: s.system, replaces: s.code },
      `changed ${s.code} to ${chosen.code}`);
    this.select(this.current, { focus: true, scroll: false });
  }

  openSearch() {
    if (this.enc.status === "submitted") return;
    this.search.focus(this.currentSuggestion()?.system);
  }

  async submit() {
    if (this.enc.status === "submitted") return;
    const errors = this.enc.findings.filter((f) => f.severity === "error").length;
    if (!(await confirmSubmit(this.enc.final, errors))) return;
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
