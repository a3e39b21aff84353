// The codes a coder changes a suggestion to: more specific children, the other laterality, the
// other 7th character, and the remaining siblings, all read from GET /v1/codes/{system}/{code}.

import { api } from "./api.js";

const SIDE = /\b(right|left|bilateral|unspecified side)\b/i;

const key = (code) => code.replace(".", "").toUpperCase();
const codeOf = (item) => (typeof item === "string" ? item : item.code);

function parentOf(detail) {
  if (detail.parent) return codeOf(detail.parent);
  const parents = detail.parents || [];
  return parents.length ? codeOf(parents[parents.length - 1]) : null;
}

function childrenOf(detail) {
  return (detail.children || []).map((c) => (typeof c === "string" ? { code: c, description: "" } : c));
}

async function detailOrNull(system, code) {
  try { return await api.code(system, code); } catch { return null; }
}

function sideOf(description) {
  return (SIDE.exec(description || "") || [])[1]?.toLowerCase() || null;
}

/** Alternatives for `code`: [{code, description, kind, billable}], kinds in the order shown. */
export async function alternatives(system, code) {
  const detail = await api.code(system, code);
  const out = [];
  const seen = new Set([key(code)]);
  const add = (c, kind) => {
    if (!c || seen.has(key(c.code))) return;
    seen.add(key(c.code));
    out.push({ code: c.code, description: c.description || "", billable: c.billable !== false, kind });
  };

  for (const child of childrenOf(detail)) add(child, "More specific");

  const parentCode = parentOf(detail);
  if (!parentCode) {
    // ICD-10-PCS has no hierarchy: codes sharing all but the last character (the qualifier or device).
    if (system === "ICD-10-PCS" && code.length === 7) {
      const found = await api.search(code.slice(0, 6), system, 20).catch(() => []);
      const results = Array.isArray(found) ? found : found.results || found.items || [];
      for (const r of results.filter((r) => key(r.code).startsWith(key(code).slice(0, 6)))) add(r, "Other qualifier");
    }
    return out;
  }

  const parent = await api.code(system, parentCode);
  const seventh = system === "ICD-10-CM" && key(code).length === 7 && (parent.seventh || detail.seventh || []).length > 0;
  const mySide = sideOf(detail.description);
  for (const sib of childrenOf(parent)) {
    if (seventh) add(sib, "Other 7th character");
    else if (mySide && sideOf(sib.description) && sideOf(sib.description) !== mySide) add(sib, "Other laterality");
    else add(sib, "Sibling");
  }

  if (seventh) {
    // The other side of a 7th-character code is a cousin: the parent's sibling with the same 7th character.
    const grand = parentOf(parent);
    const parentSide = sideOf(parent.description);
    const uncles = grand ? childrenOf(await api.code(system, grand)) : [];
    const sideways = uncles.filter((u) => key(u.code) !== key(parentCode) && sideOf(u.description)
      && sideOf(u.description) !== parentSide);
    const last = key(code).slice(-1);
    const found = await Promise.all(sideways.map((u) => detailOrNull(system, `${u.code}${last}`)));
    for (const d of found) if (d) add(d, "Other laterality");
  }
  const order = ["More specific", "Other laterality", "Other 7th character", "Other qualifier", "Sibling"];
  // A header code cannot be reported, so it is never offered as a code to change to.
  return out.filter((a) => a.billable).sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}
