// The note with its evidence as <mark> spans. The API's offsets count Unicode code points (Python
// str indices); JS strings count UTF-16 units, so a note holding characters outside the BMP (emoji,
// some CJK) needs the two mapped, else every span after such a character lands one unit early.

/** A function from a code-point offset to a UTF-16 offset of `text`. */
export function codePointToUnit(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (offset) => offset;
  const units = [0];
  let unit = 0;
  for (const ch of text) {
    unit += ch.length;
    units.push(unit);
  }
  return (offset) => units[Math.max(0, Math.min(offset, units.length - 1))];
}

/**
 * Split the note at every span boundary and render each piece; pieces inside one or more spans
 * become <mark> elements that name their spans (data-spans) and codes (data-codes).
 *
 * spans: [{id, start, end, codes: ["I10"...], dim: bool, label}], offsets in code points.
 */
export function renderNote(container, text, spans) {
  const toUnit = codePointToUnit(text);
  const placed = spans
    .map((s) => ({ ...s, from: toUnit(s.start), to: toUnit(s.end) }))
    .filter((s) => s.to > s.from && s.to <= text.length);
  const cuts = new Set([0, text.length]);
  for (const s of placed) { cuts.add(s.from); cuts.add(s.to); }
  const points = [...cuts].sort((a, b) => a - b);
  const fragment = document.createDocumentFragment();
  let first = true;
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i], points[i + 1]];
    const piece = text.slice(from, to);
    const covering = placed.filter((s) => s.from <= from && s.to >= to);
    if (covering.length === 0) {
      fragment.append(document.createTextNode(piece));
      continue;
    }
    const mark = document.createElement("mark");
    mark.textContent = piece;
    mark.dataset.spans = covering.map((s) => s.id).join(" ");
    const codes = [...new Set(covering.flatMap((s) => s.codes))];
    mark.dataset.codes = codes.join(" ");
    const dim = covering.every((s) => s.dim);
    if (dim) mark.classList.add("dim");
    mark.title = covering.map((s) => s.label).join("; ");
    // One tab stop for the whole note; arrow keys move between marks (roving tabindex).
    mark.tabIndex = first ? 0 : -1;
    first = false;
    fragment.append(mark);
  }
  container.replaceChildren(fragment);
}

/** Light the marks of `codes` (and un-light the rest); returns the first lit mark. */
export function lightCodes(container, codes) {
  const wanted = new Set(codes);
  let firstLit = null;
  for (const mark of container.querySelectorAll("mark")) {
    const lit = mark.dataset.codes.split(" ").some((c) => wanted.has(c));
    mark.classList.toggle("lit", lit);
    if (lit && !firstLit) firstLit = mark;
  }
  return firstLit;
}

/** Move the note's single tab stop to `mark` and focus it. */
export function focusMark(container, mark) {
  for (const m of container.querySelectorAll("mark")) m.tabIndex = m === mark ? 0 : -1;
  mark.focus();
}
