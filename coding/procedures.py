"""Procedure codes of the coding: ICD-10-PCS for inpatients only (outpatient procedures are CPT/HCPCS), the
approach and the diagnostic qualifier read from the note, one code per procedure, the principal procedure."""

from __future__ import annotations

import re
from collections.abc import Sequence

from codesets.types import CodeSet, normalize_code
from coding.draft import Draft, Entry
from coding.pcs_builder import builder
from coding.rules import Guidelines
from coding.text import NoteText
from coding.types import CodingContext, RuleRef
from medcode.types import Evidence, Suggestion

#: PCS approach (5th character) values for "laparoscopic" and "via natural opening, endoscopic".
_PERC_ENDO, _VIA_OPENING_ENDO = "4", "8"
_CPT_SYSTEMS = ("CPT", "HCPCS")
#: Obstetrics: Extraction of the products of conception (cesarean) and Delivery (through the genital canal).
_CESAREAN, _VAGINAL_DELIVERY = "10D0", "10E0"
#: PCS sections of operations (Medical and Surgical, Obstetrics): definitive treatment before the rest.
_SURGICAL = ("0", "1")


def _near(note: NoteText, entry_evidence: list[Evidence], patterns: tuple[re.Pattern[str], ...]) -> bool:
    """Whether one of the patterns is stated in a sentence of the evidence."""
    for e in entry_evidence:
        start, end = note.sentence(e.start, e.end)
        if any(p.search(note.lower, start, end) for p in patterns):
            return True
    return False


def intake(draft: Draft, suggestions: Sequence[Suggestion], context: CodingContext, pcs: CodeSet | None,
           note: NoteText, g: Guidelines, *, min_score: float, unreported: tuple[str, ...]) -> None:
    """Ranked procedures into the draft: PCS inpatient only, performed (not planned or negated) procedures,
    sections the site reports, the best code per procedure (body system, root operation and body part)."""
    inpatient = context.setting == "inpatient"
    families: set[str] = set()
    for s in suggestions:
        if s.system == "ICD-10-CM":
            continue
        if s.system == "ICD-10-PCS" and not inpatient:
            draft.note_dropped(s.code, s.system, "pcs-inpatient-only", "ICD-10-PCS A.1",
                               "ICD-10-PCS is reported for inpatient procedures only; outpatient procedures are "
                               "CPT/HCPCS")
            continue
        if s.system in _CPT_SYSTEMS and inpatient:
            draft.note_dropped(s.code, s.system, "cpt-outpatient-only", "UHDDS",
                               "an inpatient facility claim reports procedures in ICD-10-PCS")
            continue
        if draft.below_threshold(s, min_score):
            continue
        if s.assertion in ("negated", "hypothetical", "family", "possible"):
            draft.note_dropped(s.code, s.system, "not-performed", "B3.1a" if s.system == "ICD-10-PCS" else "III",
                               f"the note does not say it was performed here ({s.assertion})")
            continue
        if s.system == "ICD-10-PCS" and s.code[0] in unreported:
            draft.note_dropped(s.code, s.system, "not-reported-here", "site setting",
                               "imaging, nuclear medicine and monitoring are not reported by this site "
                               "(MEDCODE_CODING__UNREPORTED_PCS_SECTIONS)")
            continue
        family = s.code[:4] if s.system == "ICD-10-PCS" else s.code
        if family in families:
            draft.note_dropped(s.code, s.system, "one-code-per-procedure", "B3.2",
                               f"the procedure is coded once, by its best-supported code ({family}…)")
            continue
        families.add(family)
        record = pcs.get(s.code) if pcs is not None and s.system == "ICD-10-PCS" else None
        entry = Entry(code=s.code, system=s.system, description=record.description if record else s.description,
                      evidence=list(s.evidence), score=s.score, rank=s.rank,
                      rules=[RuleRef(rule="documented", section="B3.1a" if s.system == "ICD-10-PCS" else "III",
                                     message=f"procedure performed, ranked {s.rank}")])
        if s.system == "ICD-10-PCS" and pcs is not None:
            entry = _characters(entry, note, pcs, g)
        draft.add(entry)


def built(draft: Draft, suggestions: Sequence[Suggestion], context: CodingContext, pcs: CodeSet | None,
          note: NoteText, *, unreported: tuple[str, ...]) -> None:
    """Inpatient procedures the note states, built from the PCS Index and tables (`coding.pcs_builder`): a built
    code takes the place of a ranked code of its family (body system, root operation, body part), and an
    inspection the procedure's own approach served gives way (B3.11a)."""
    if context.setting != "inpatient" or pcs is None:
        return
    ranks = {normalize_code(s.code): s.rank for s in suggestions if s.system == "ICD-10-PCS"}
    coded = {e.key[:4]: e for e in draft.procedures() if e.system == "ICD-10-PCS"}
    for b in builder(pcs).build(note, ranks):
        if b.code[0] in unreported:
            continue
        evidence = Evidence(start=b.start, end=b.end, text=note.text[b.start:b.end], section=note.section_at(b.start))
        rule = RuleRef(rule="pcs-built", section="B3.1a",
                       message=f"the note states it (PCS Index: {b.entry}); approach, device and qualifier as the "
                               f"note says them" + (f"; {b.why}" if b.why else ""))
        old = coded.get(b.code[:4])
        if old is not None and old.key == b.code:
            draft.add(Entry(code=old.code, system=old.system, description=old.description, evidence=[evidence],
                            rules=[rule], score=old.score, rank=old.rank))
            continue
        entry = Entry(code=b.code, system="ICD-10-PCS", description=pcs[b.code].description, evidence=[evidence],
                      rules=[rule], rank=0)
        if old is not None:
            draft.drop(old, "pcs-built", "B3.1a", f"the note's words build {b.code} in its family", by=b.code)
            entry.evidence = [*old.evidence, evidence]
        coded[b.code[:4]] = draft.add(entry)
    _inspections(draft)
    cesarean = next((e for e in draft.procedures() if e.key.startswith(_CESAREAN)), None)
    for e in draft.procedures() if cesarean is not None else ():
        if e.key.startswith(_VAGINAL_DELIVERY):
            draft.drop(e, "delivery-by-cesarean", "B3.1a", "a cesarean extracts the products of conception: "
                       "there is no delivery through the genital canal to code", by=cesarean.code)


def _inspections(draft: Draft) -> None:
    """Inspections done to reach another coded procedure are not coded (B3.11a): in the same body system, or by
    the same approach (the EGD of a banding, the exploratory laparotomy of an adhesiolysis)."""
    pcs = [e for e in draft.procedures() if e.system == "ICD-10-PCS" and e.code[0] == "0"]
    done = [e for e in pcs if e.code[2] != "J"]
    for e in pcs:
        if e.code[2] != "J":
            continue
        served = next((d for d in done if d.code[1] == e.code[1] or d.code[4] == e.code[4]
                       or (e.code[4] in "78" and d.code[4] in "78")), None)
        if served is not None:
            draft.drop(e, "inspection-integral", "B3.11a", f"the inspection was done to perform {served.code}",
                       by=served.code)


def _characters(entry: Entry, note: NoteText, pcs: CodeSet, g: Guidelines) -> Entry:
    """The approach (5th) and qualifier (7th) characters the note states."""
    code = entry.code
    rules = list(entry.rules)
    if entry.code[0] == "0" and _near(note, entry.evidence, g.laparoscopic) and code[4] != _PERC_ENDO:
        swapped = code[:4] + _PERC_ENDO + code[5:]
        if swapped in pcs:
            code = swapped
            rules.append(RuleRef(rule="pcs-approach", section="B5.2a",
                                 message="laparoscopic: approach percutaneous endoscopic (4)"))
    elif entry.code[0] == "0" and _near(note, entry.evidence, g.endoscopic) and code[4] not in "78":
        swapped = code[:4] + _VIA_OPENING_ENDO + code[5:]
        if swapped in pcs:
            code = swapped
            rules.append(RuleRef(rule="pcs-approach", section="B5.2a",
                                 message="via an endoscope through a natural opening: approach 8"))
    if code[0] == "0" and code[2] in "B9" and _near(note, entry.evidence, g.diagnostic) and code[6] != "X":
        swapped = code[:6] + "X"
        if swapped in pcs:
            code = swapped
            rules.append(RuleRef(rule="pcs-diagnostic", section="B3.4a",
                                 message="biopsy: diagnostic qualifier X"))
    if code == entry.code:
        return entry
    record = pcs[code]
    return Entry(code=record.code, system="ICD-10-PCS", description=record.description, evidence=entry.evidence,
                 rules=rules, score=entry.score, rank=entry.rank)


def order(entries: list[Entry]) -> list[Entry]:
    """Procedures in claim order: the principal first (definitive treatment over diagnostic, UHDDS), then by rank."""
    if not entries:
        return []
    ranked = sorted(entries, key=lambda e: (e.system != "ICD-10-PCS" or e.code[0] not in _SURGICAL,
                                            e.system == "ICD-10-PCS" and e.code[6] == "X", e.rank))
    ranked[0].rules.append(RuleRef(rule="principal-procedure", section="UHDDS",
                                   message="definitive treatment, related to the principal diagnosis"))
    return ranked
