// The worklist: pending encounters, filtered and sorted in the page, opened with Enter or a click.

import { api } from "./api.js";
import { h, status, describePatient, SEVERITY_ORDER } from "./dom.js";

const SORTS = {
  "date-desc": (a, b) => (b.date || "").localeCompare(a.date || ""),
  "date-asc": (a, b) => (a.date || "").localeCompare(b.date || ""),
  "impact": (a, b) => severityRank(a) - severityRank(b) || b.count - a.count,
  "count-desc": (a, b) => b.count - a.count,
  "age-desc": (a, b) => (b.patient?.age ?? -1) - (a.patient?.age ?? -1),
};

function severityRank(item) {
  return item.finding ? SEVERITY_ORDER[item.finding.severity] ?? 3 : 3;
}

/** The most severe of a list of findings, or null. */
export function topFinding(findings) {
  return [...(findings || [])].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity])[0] || null;
}

/** One worklist row from the API's item, whichever of the documented shapes it has. */
function normalize(item) {
  const meta = item.encounter || item;
  return {
    id: String(item.id),
    label: item.external_id || String(item.id),
    setting: meta.setting || "outpatient",
    date: meta.date_of_service || "",
    patient: meta.patient || null,
    count: item.suggestion_count ?? (typeof item.suggestions === "number" ? item.suggestions : (item.suggestions || []).length),
    finding: item.top_finding ?? topFinding(item.findings),
    // Whether the worklist item itself carried the patient and findings (else the page reads each encounter).
    complete: "patient" in meta && ("top_finding" in item || "findings" in item),
  };
}

/** Fill patient and top finding from each encounter, a few requests at a time. */
async function enrich(items) {
  const queue = items.filter((it) => !it.complete);
  const worker = async () => {
    for (let it = queue.shift(); it; it = queue.shift()) {
      const body = await api.encounter(it.id);
      const meta = body.encounter || body;
      it.patient = meta.patient || null;
      it.finding = topFinding(body.findings);
      it.complete = true;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

export class Worklist {
  constructor(root, { open }) {
    this.root = root;
    this.open = open;
    this.items = [];
    this.form = root.querySelector("#worklist-filters");
    this.body = root.querySelector("#worklist-rows");
    this.count = root.querySelector("#worklist-count");
    this.form.addEventListener("input", () => this.render());
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.body.addEventListener("keydown", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row && event.key === "Enter") { event.preventDefault(); this.open(row.dataset.id); }
    });
  }

  async load() {
    status("Loading the worklist…");
    const data = await api.worklist("pending");
    this.items = (Array.isArray(data) ? data : data.items || data.encounters || []).map(normalize);
    if (this.items.some((it) => !it.complete)) await enrich(this.items);
    status("");
    this.render();
  }

  visible() {
    const f = Object.fromEntries(new FormData(this.form));
    const needle = (f.q || "").trim().toLowerCase();
    return this.items
      .filter((it) => !f.setting || it.setting === f.setting)
      .filter((it) => !f.sex || it.patient?.sex === f.sex)
      .filter((it) => !f.findings
        || (f.findings === "none" ? !it.finding : it.finding && SEVERITY_ORDER[it.finding.severity] <= SEVERITY_ORDER[f.findings]))
      .filter((it) => !needle || it.label.toLowerCase().includes(needle)
        || (it.finding?.message || "").toLowerCase().includes(needle))
      .sort(SORTS[f.sort] || SORTS["date-desc"]);
  }

  render() {
    const rows = this.visible();
    this.count.textContent = `${rows.length} of ${this.items.length} pending encounter${this.items.length === 1 ? "" : "s"}`;
    this.body.replaceChildren(...rows.map((it, i) => h("tr", {
      dataset: { id: it.id }, tabIndex: i === 0 ? 0 : -1, onclick: () => this.open(it.id),
      "aria-label": `Encounter ${it.label}, ${describePatient(it.patient)}, ${it.setting}`,
    },
      h("td", {}, h("a", { href: `#/encounters/${encodeURIComponent(it.id)}`, tabIndex: -1 }, it.label)),
      h("td", {}, describePatient(it.patient)),
      h("td", {}, it.setting),
      h("td", {}, it.date || "—"),
      h("td.num", {}, String(it.count)),
      h("td", {}, it.finding
        ? h("span", { class: `finding ${it.finding.severity}` }, `${it.finding.severity}: ${it.finding.message}`)
        : "none"),
    )));
    if (rows.length === 0) {
      this.body.append(h("tr", {}, h("td", { colSpan: 6 }, this.items.length ? "No encounter matches the filters." : "Nothing pending.")));
    }
  }

  /** Move the row focus by `step` (j/k). */
  move(step) {
    const rows = [...this.body.querySelectorAll("tr[data-id]")];
    if (!rows.length) return;
    const at = rows.indexOf(document.activeElement?.closest?.("tr[data-id]"));
    const next = rows[Math.max(0, Math.min(rows.length - 1, at < 0 ? 0 : at + step))];
    rows.forEach((r) => { r.tabIndex = r === next ? 0 : -1; });
    next.focus();
  }

  focusFirst() {
    const row = this.body.querySelector("tr[tabindex='0']") || this.body.querySelector("tr[data-id]");
    (row || this.form.querySelector("select, input")).focus();
  }

  openFocused() {
    const row = document.activeElement?.closest?.("tr[data-id]") || this.body.querySelector("tr[tabindex='0']");
    if (row) this.open(row.dataset.id);
  }
}
