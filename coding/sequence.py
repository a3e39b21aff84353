"""Claim order and present-on-admission: the principal diagnosis by UHDDS (inpatient, Section II) or the
first-listed one (outpatient, IV.G), secondaries after it, and POA from what the note says (Appendix I)."""

from __future__ import annotations

import re

from codesets.types import CodeSet
from coding.diagnoses import STATED
from coding.draft import Entry
from coding.rules import Guidelines, matches
from coding.text import NoteText
from coding.types import CodingContext, Poa, RuleRef
from validation.references import instructions

#: Sections where a clinician states the conditions established: a code said there is firm enough to be principal.
_LISTED = frozenset({"diagnoses", "assessment_and_plan"})
#: A cause named right after a condition's phrase (a few words at most between them).
_CAUSE = re.compile(r"\W+(?:[\w-]+\W+){0,3}?(?:secondary to|due to|caused by|resulting from)\b", re.I)
#: Where the condition established after study is stated, most telling first.
_SECTION_WEIGHT = {"diagnoses": 0, "assessment_and_plan": 1, "hospital_course": 2, "history_of_present_illness": 3,
                   "chief_complaint": 4, None: 5, "past_medical_history": 7, "medications": 8}


def _where(entry: Entry, note: NoteText) -> tuple[int, int, int]:
    """The most telling section where the entry's evidence is said (anywhere its words recur), the first offset
    there, and the length of what is said there: a diagnosis listed first under "Discharge diagnoses" comes
    first."""
    if not entry.evidence:
        return (6, 1 << 30, 0)
    return min((_SECTION_WEIGHT.get(note.section_at(at), 6), at, len(e.text))
               for e in entry.evidence for at in [e.start, *note.mentions(e.text)])


def _first_said(entry: Entry, note: NoteText) -> tuple[int, int, bool, int, int]:
    """Principal order: where the entry is first said; at one place, a code a rule built or whose title is stated
    there, then the shorter phrase ("AKI" of "AKI on CKD 3b", a phrase the CKD code took in), then rank."""
    weight, at, length = _where(entry, note)
    built = entry.derived or any(r.rule == STATED for r in entry.rules)
    return (weight, at, not built, length, entry.rank)


def order(entries: list[Entry], note: NoteText, context: CodingContext, g: Guidelines, cm: CodeSet,
          poa: dict[str, Poa | None], *, min_score: float) -> list[Entry]:
    """Diagnoses in claim order, the principal (or first-listed) first; its choice is recorded on it."""
    if not entries:
        return []

    def eligible(e: Entry) -> bool:
        return not matches(e.key, g.never_principal)

    # A code let in below the coding threshold is chosen first only when the clinician states it (a discharge
    # diagnosis or assessment phrase, a title said in full), not while a better-supported one is there.
    firm = [e for e in entries if e.derived or (e.score or 0) >= min_score
            or any(ev.section in _LISTED for ev in e.evidence) or any(r.rule == STATED for r in e.rules)] or entries
    inpatient = context.setting == "inpatient"
    confirmed = [e for e in firm if eligible(e) and not e.key.startswith("R")]
    # A chronic condition the note only gives as history ("Hx of osteoporosis"; for an outpatient, beside an
    # uncertain "likely GERD related") did not occasion the stay: a confirmed condition said present does, else
    # the presenting symptom (IV.D).
    said = ("present", "possible") if inpatient else ("present",)
    current = [e for e in confirmed if any(ev.assertion in said for ev in e.evidence)]
    symptoms = [e for e in firm if eligible(e) and e.key.startswith("R") and any(ev.assertion in said
                                                                                 for ev in e.evidence)]
    pool = (current or symptoms or confirmed or [e for e in firm if eligible(e)] or [e for e in entries if eligible(e)]
            or entries)
    # A condition whose "code first" note names a code of the pool stands for it where it is said: the heart
    # failure that occasioned the stay puts its hypertensive combination first, however it ranked.
    pool = pool + [e for e in entries if e not in pool and eligible(e) and not e.key.startswith("R")
                   and _code_first(e, entries, cm, g) in pool]
    sepsis = [e for e in pool if matches(e.key, g.sepsis) and poa.get(e.key) != "N"]
    if inpatient and sepsis:
        principal = min(sepsis, key=lambda e: _where(e, note))
        why = RuleRef(rule="principal-sepsis", section="I.C.1.d.4",
                      message="sepsis present on admission with a localized infection: sepsis is sequenced first")
    else:
        principal = min(pool, key=lambda e: _first_said(e, note))
        why = (RuleRef(rule="principal-diagnosis", section="II", message="the condition established after study "
                       "to be chiefly responsible for the admission (UHDDS)") if inpatient else
               RuleRef(rule="first-listed", section="IV.G", message="the condition chiefly responsible for the visit"))
    cause = _cause_of(principal, pool, note) if matches(principal.key, g.cause_first) and not (inpatient and sepsis) \
        else None
    if cause is not None:
        principal = cause
        why = RuleRef(rule="principal-cause", section="II", message="the condition the note gives as the cause of "
                      "another (\"anemia secondary to bleeding varices\") occasioned the stay")
    # A "code first" note puts the condition it names ahead: the etiology before its manifestation (I.A.13),
    # the hypertensive combination before its heart failure (I.C.9.a).
    first = _code_first(principal, entries, cm, g)
    if first is not None and eligible(first):
        principal = first
        why = RuleRef(rule="code-first", section="I.A.13",
                      message=f"sequenced first by the \"code first\" note of the condition it causes")
    principal.rules.append(why)
    rest = sorted((e for e in entries if e is not principal),
                  key=lambda e: (matches(e.key, g.never_principal), e.key.startswith(("V", "W", "X", "Y")),
                                 _where(e, note), e.rank))
    ordered = [principal, *rest]
    for entry in list(ordered[1:]):
        first = _code_first(entry, ordered, cm, g)
        if first is not None and ordered.index(first) > ordered.index(entry):
            ordered.remove(first)
            ordered.insert(ordered.index(entry), first)
    return ordered


def _cause_of(entry: Entry, pool: list[Entry], note: NoteText) -> Entry | None:
    """The coded condition that the entry's own phrase says it is due to, a few words on in its sentence: "acute
    blood loss anemia secondary to bleeding esophageal varices" -> the varices."""
    for ev in entry.evidence:
        end = note.sentence(ev.start, ev.end)[1]
        cue = _CAUSE.match(note.text, ev.end, end)
        if cue is None:
            continue
        return next((o for o in pool if o is not entry
                     and any(cue.end() <= e.start and e.end <= end for e in o.evidence)), None)
    return None


def _code_first(entry: Entry, entries: list[Entry], cm: CodeSet, g: Guidelines) -> Entry | None:
    """The coded condition an entry's "code first" note names, if any (or, where the note names no code,
    guidelines.json's underlying conditions)."""
    for group in instructions(cm, entry.key, "code_first"):
        refs = [r for note in group for r in note.refs]
        found = next((e for e in entries if e is not entry and any(r.matches(e.key) for r in refs)), None)
        if found is not None:
            return found
    for codes, underlying in g.underlying:
        if matches(entry.key, codes):
            found = next((e for e in entries if e is not entry and matches(e.key, underlying)), None)
            if found is not None:
                return found
    return None


def present_on_admission(entry: Entry, note: NoteText, context: CodingContext, g: Guidelines,
                         principal: bool) -> Poa | None:
    """Y, N, U, W or 1 (exempt), from the sentences of the code's evidence; None outpatient."""
    if context.setting != "inpatient":
        return None
    if matches(entry.key, g.poa_exempt):
        return "1"
    sentences = [note.lower[slice(*note.sentence(e.start, e.end))] for e in entry.evidence]
    if any(p.search(s) for p in g.poa_no for s in sentences):
        return "N"
    if principal or matches(entry.key, g.chronic) or any(p.search(s) for p in g.poa_yes for s in sentences):
        return "Y"
    early = {"chief_complaint", "history_of_present_illness", "past_medical_history", "medications",
             "physical_exam", "review_of_systems", "diagnoses", "assessment_and_plan"}
    if any(e.section in early for e in entry.evidence):
        return "Y"
    return "U" if entry.evidence else "W"
