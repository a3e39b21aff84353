// What billing sends back: the denied worklist (each payer reason beside the codes it concerns), the
// denials of the open encounter, and the coding manager's numbers.

import { api } from "./api.js";
import { h, status } from "./dom.js";

function reasonOf(d) {
  const codes = [`CARC ${d.carc}`, ...d.rarcs.map((r) => `RARC ${r}`)].join(", ");
  return `${codes}: ${d.reason}`;
}

export class DeniedList {
  constructor(root, { open }) {
    this.root = root;
    this.open = open;
    this.body = root.querySelector("#denied-rows");
    this.count = root.querySelector("#denied-count");
  }

  async load() {
    status("Loading the denied worklist…");
    const rows = await api.denials({ status: "open" });
    status("");
    this.count.textContent = `${rows.length} open denial${rows.length === 1 ? "" : "s"}`;
    this.body.replaceChildren(...rows.map((d) => h("tr", { dataset: { id: d.encounter_id, carc: d.carc } },
      h("td", {}, h("a", { href: `#/encounters/${encodeURIComponent(d.encounter_id)}` }, d.external_id || d.encounter_id)),
      h("td", {}, d.payer || "—"),
      h("td.reason", {}, reasonOf(d)),
      h("td.codes", {}, d.codes.length ? d.codes.join(", ") : "the claim"),
      h("td.num", {}, Number(d.amount).toFixed(2)),
      h("td", {}, d.created_at.slice(0, 10)),
    )));
    if (!rows.length) this.body.append(h("tr", {}, h("td", { colSpan: 6 }, "No open denial.")));
  }
}

/** The open denials of one encounter, in its checks panel; hidden when there are none. */
export async function showEncounterDenials(id) {
  const section = document.getElementById("enc-denials");
  const list = document.getElementById("enc-denials-list");
  const rows = await api.denials({ status: "open", encounter_id: id });
  list.replaceChildren(...rows.map((d) => h("li", { class: "finding error" },
    h("strong", {}, d.codes.length ? d.codes.join(", ") : "the claim"), ` — ${d.payer}: ${reasonOf(d)}`)));
  section.hidden = rows.length === 0;
}

function table(el, head, rows) {
  el.replaceChildren(
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...(rows.length ? rows : [[`Nothing yet.`]]).map((r) => h("tr", {}, ...r.map((c) => h("td", {}, String(c)))))),
  );
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

export class CodingMetrics {
  constructor(root) { this.root = root; }

  async load() {
    status("Loading the coding metrics…");
    const m = await api.codingMetrics();
    status("");
    const t = m.open_to_submit;
    const summary = this.root.querySelector("#metrics-summary");
    const item = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
    summary.replaceChildren(
      item("Open to submit, median", t.median_hours === null ? "—" : `${t.median_hours.toFixed(1)} h`),
      item("Submitted encounters", String(t.encounters)),
      item("Remitted claims", String(m.remitted_claims)),
      item("Open denials", String(m.open_denials)),
    );
    const rate = (r) => [r.key, r.accepted, r.decided, pct(r.rate)];
    table(this.root.querySelector("#m-by-code"), ["Code", "Accepted", "Decided", "Rate"], m.by_code.map(rate));
    table(this.root.querySelector("#m-by-coder"), ["Coder", "Accepted", "Decided", "Rate"], m.by_coder.map(rate));
    table(this.root.querySelector("#m-added"), ["System", "Code", "Times"],
      m.added_not_suggested.map((a) => [a.system, a.code, a.times]));
    table(this.root.querySelector("#m-denials"), ["CARC", "Coding", "Claims", "Rate"],
      m.denials.map((d) => [d.carc, d.coding ? "yes" : "no", d.claims, pct(d.rate)]));
  }
}
