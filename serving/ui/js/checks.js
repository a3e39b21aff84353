// Live checks: validation findings and, for inpatient encounters, the MS-DRG and how the last
// decision moved it.

import { h } from "./dom.js";
import { SEVERITY_ORDER } from "./dom.js";

const weight = (w) => (w === null || w === undefined ? "—" : Number(w).toFixed(4));

/** Render the DRG box; `before` is the DRG shown before the last decision (or null). */
export function renderDrg(box, encounter, before, cause) {
  box.hidden = encounter.setting !== "inpatient";
  if (box.hidden) return;
  const drg = encounter.drg;
  const body = box.querySelector(".drg-body");
  if (!drg) {
    body.replaceChildren(h("p", {}, "No MS-DRG yet: accept or add a principal diagnosis."));
    return;
  }
  const lines = [
    h("p.drg-now", {}, h("strong", {}, `MS-DRG ${drg.drg}`), ` ${drg.description || ""}`),
    h("p", {}, `Relative weight ${weight(drg.relative_weight)}`,
      drg.mdc ? ` · MDC ${drg.mdc}${drg.mdc_description ? ` ${drg.mdc_description}` : ""}` : "",
      drg.severity ? ` · ${drg.severity}` : ""),
  ];
  if (before && before.drg !== drg.drg) {
    const delta = (drg.relative_weight ?? 0) - (before.relative_weight ?? 0);
    lines.push(h("p.drg-change", { "data-testid": "drg-change" },
      `Changed from ${before.drg} (${weight(before.relative_weight)}) to ${drg.drg}`,
      ` (${delta >= 0 ? "+" : ""}${delta.toFixed(4)})`, cause ? `; last decision: ${cause}` : ""));
  }
  if (drg.grouper_version) lines.push(h("p.small", {}, `Grouper ${drg.grouper_version}`));
  body.replaceChildren(...lines);
}

/** Render the findings list, most severe first. */
export function renderFindings(list, findings) {
  const sorted = [...(findings || [])].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  if (!sorted.length) {
    list.replaceChildren(h("li.none", {}, "No findings."));
    return;
  }
  list.replaceChildren(...sorted.map((f) => h("li", { class: `finding ${f.severity}` },
    h("span.severity", {}, f.severity), " ",
    f.codes?.length ? h("span.code", {}, f.codes.join(", ")) : null, " ",
    h("span", {}, f.message),
    f.fix ? h("span.fix", {}, ` Fix: ${f.fix}`) : null)));
}

/** The findings that name `code`. */
export function findingsFor(findings, code) {
  return (findings || []).filter((f) => (f.codes || []).includes(code));
}
