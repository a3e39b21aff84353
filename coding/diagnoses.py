"""ICD-10-CM rules over the draft: assertions by setting, combination codes, integral symptoms, unspecified
siblings, "use additional" / "code first" notes and Excludes1 pairs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from codesets.text import term_words
from codesets.types import CodeSet, normalize_code
from coding.draft import Draft, Entry
from coding.rules import Combination, Condition, Guidelines, matches
from coding.text import NoteText, spelled_out
from coding.titles import names_more, plain_words, says, stated_words
from coding.types import CodingContext, RuleRef
from medcode.types import Evidence, Suggestion
from validation.references import excludes1, instructions

_SYMPTOM_CHAPTER = "R"
#: Sections where the clinician lists the conditions established (discharge diagnoses, assessment).
LISTS = frozenset({"diagnoses", "assessment_and_plan"})
#: Content words a title needs for a phrase that says all of them to count as stating it.
_STATED_WORDS = 3
#: The rule of a code whose whole title the note states: as firm as a well-ranked one when sequencing.
STATED = "documented-title"
#: Titles of codes that say less than a sibling may: "unspecified", "NOS", "without complications".


def _ranked(s: Suggestion, code: str, description: str, rule: RuleRef) -> Entry:
    return Entry(code=code, system=s.system, description=description, evidence=list(s.evidence), rules=[rule],
                 score=s.score, rank=s.rank)


def listed(suggestions: Sequence[Suggestion], cm: CodeSet) -> set[str]:
    """The codes the ranker likes best for each phrase of the note's diagnosis list or assessment: the coder's
    own statement of the conditions, enough to code from at a lower score."""
    best: dict[tuple[int, int], str] = {}
    for s in suggestions:  # best first
        record = cm.get(s.code) if s.system == "ICD-10-CM" else None
        if record is None or not record.billable:
            continue
        for e in s.evidence:
            if e.section in LISTS and e.assertion in ("present", "possible"):
                best.setdefault((e.start, e.end), s.code)
    # A word inside a longer listed phrase ("chronic" in "acute on chronic systolic heart failure", "acute
    # pulmonary" in "acute pulmonary embolism") is not a statement of its own: only the phrase's best code is the
    # clinician's. A condition named inside it is, when it codes another category and the words are an
    # abbreviation ("AKI" of "AKI on CKD 3b") or its code's whole title.
    said = {(e.start, e.end): e.text for s in suggestions for e in s.evidence}

    def own(start: int, end: int, code: str) -> bool:
        text = said.get((start, end), "")
        return spelled_out(text) != text or stated_words(cm[code].description) <= set(term_words(text))

    return {code for (start, end), code in best.items()
            if not any(a <= start and end <= b and (a, b) != (start, end)
                       and (normalize_code(other)[:3] == normalize_code(code)[:3] or not own(start, end, code))
                       for (a, b), other in best.items())}


def stated(suggestions: Sequence[Suggestion], cm: CodeSet, *, abbreviated: bool = False, note: str = "") -> set[str]:
    """The codes whose whole title a phrase of the note says ("displaced intertrochanteric fracture of the right
    femur": S72.141A), per phrase the one whose title says most (the upper-outer quadrant's code, not the breast's
    "unspecified site"), then the best-ranked: documented as plainly as a listed diagnosis, whatever the ranker
    learnt of such codes from its corpus. A title of fewer than `_STATED_WORDS` content words ("Pain") says too
    little to count; the 7th character's words and parenthesized ones are not asked for. `abbreviated`: the codes
    a phrase states once its abbreviations are spelled out ("primary OA of the R knee": M17.11), a lone
    abbreviation however short its code's title ("HLD": hyperlipidemia), an ambiguous one by the cue words of
    the lower-cased `note`; these enter the coding, but only a title said in the note's own words counts as
    stated where the principal is chosen."""
    best: dict[tuple[int, int], tuple[int, str]] = {}
    for s in suggestions:  # best first
        record = cm.get(s.code) if s.system == "ICD-10-CM" else None
        if record is None or not record.billable:
            continue
        title = stated_words(record.description)
        for e in s.evidence:
            span = (e.start, e.end)
            text = spelled_out(e.text, note) if abbreviated else e.text
            single = abbreviated and " " not in e.text.strip() and text.lower() != e.text.lower()
            if len(title) < (1 if single else _STATED_WORDS):
                continue
            if title and e.assertion in ("present", "possible") and title <= _said(text, e.text) \
                    and len(title) > best.get(span, (0, ""))[0]:
                best[span] = (len(title), s.code)
    return {code for _, code in best.values()}


_SIDE = {"right": re.compile(r"\b(?:R|rt)\b"), "left": re.compile(r"\b(?:L|lt)\b")}


def _said(text: str, written: str) -> set[str]:
    """The words of `text` (a phrase, its abbreviations perhaps spelled out), and the side whose letter the phrase
    as `written` reads ("of the R knee": right knee)."""
    return set(term_words(text)) | {side for side, short in _SIDE.items() if short.search(written)}


def denied_words(s: Suggestion, description: str) -> set[str]:
    """Words of a code's title that only denied evidence says ("no COPD exacerbation" beside a listed "chronic
    obstructive pulmonary disease": J44.1's "exacerbation"): what the code adds to its siblings is ruled out."""
    title = plain_words(description)

    def said(*assertions: str) -> set[str]:
        return {w for e in s.evidence if e.assertion in assertions for w in term_words(spelled_out(e.text))}

    return (title & said("negated")) - said("present", "possible", "historical")


def intake(draft: Draft, suggestions: Sequence[Suggestion], context: CodingContext, cm: CodeSet,
           g: Guidelines, note: NoteText, *, min_score: float, listed_score: float, stated_score: float) -> None:
    """Ranked ICD-10-CM candidates into the draft, by assertion and setting; the rest recorded as dropped."""
    inpatient = context.setting == "inpatient"
    lead = listed(suggestions, cm)
    plain = stated(suggestions, cm)
    short = stated(suggestions, cm, abbreviated=True, note=note.lower)
    for s in suggestions:
        if s.system != "ICD-10-CM":
            continue
        record = cm.get(s.code)
        if record is None or not record.billable:
            draft.note_dropped(s.code, s.system, "header-code", "I.B.2",
                               "not a billable code; the coding keeps the most specific code the note supports")
            continue
        if draft.below_threshold(s, stated_score if s.code in plain or s.code in short
                                 else listed_score if s.code in lead else min_score):
            continue
        key = record.key
        history = g.history_of(key)
        chronic = _chronic_in_history(s, key, g)
        if s.assertion == "negated":
            draft.note_dropped(s.code, s.system, "negated", "III", "the note rules it out or denies it")
        elif denied := denied_words(s, record.description):
            draft.note_dropped(s.code, s.system, "negated", "III", "the note rules out what the code says beyond "
                               f"its siblings ({', '.join(sorted(denied))})")
        elif s.assertion == "hypothetical":
            draft.note_dropped(s.code, s.system, "hypothetical", "III", "mentioned as a possibility to watch for, "
                               "not a condition of this encounter")
        elif s.assertion == "family":
            _history_code(draft, s, cm, history.family if history else None, "family-history", "I.C.21.c.4",
                          "a relative's condition, coded as family history")
        elif s.assertion == "historical" and history is not None and history.personal and not matches(key, g.chronic):
            _history_code(draft, s, cm, history.personal, "personal-history", "I.C.21.c.4",
                          "a past condition no longer present, coded as personal history")
        elif s.assertion == "historical" and not matches(key, g.chronic):
            draft.note_dropped(s.code, s.system, "history-not-current", "III",
                               "a past condition that no longer exists and has no history code")
        elif not inpatient and (s.assertion == "possible" or any(e.assertion == "possible" for e in s.evidence)) \
                and not chronic:
            draft.note_dropped(s.code, s.system, "uncertain-outpatient", "IV.H",
                               "uncertain diagnosis (probable, suspected, rule out) in an outpatient encounter: "
                               "the symptoms are coded instead")
        elif s.assertion == "possible" and not chronic:
            draft.add(_ranked(s, record.code, record.description, RuleRef(
                rule="uncertain-inpatient", section="II.H", message="uncertain diagnosis at discharge, coded as if "
                "established (inpatient)")))
        else:
            what = "chronic condition documented in the history" if s.assertion == "historical" or chronic else \
                "documented condition"
            if s.code in plain:
                what += ", its title stated in full"
            draft.add(_ranked(s, record.code, record.description, RuleRef(
                rule=STATED if s.code in plain else "documented", section="III" if inpatient else "IV.C",
                message=f"{what}, ranked {s.rank}")))


def _chronic_in_history(s: Suggestion, key: str, g: Guidelines) -> bool:
    """A chronic condition the history establishes ("Hx GERD"), however uncertainly the assessment ties today's
    complaint to it ("chest pain, likely GERD related"): a coexisting condition, coded (IV.J)."""
    return matches(key, g.chronic) and any(e.assertion == "historical" for e in s.evidence)


def _history_code(draft: Draft, s: Suggestion, cm: CodeSet, code: str | None, rule: str, section: str,
                  message: str) -> None:
    record = cm.get(code) if code else None
    if record is None:
        draft.note_dropped(s.code, s.system, rule, section, f"{message}; no history code applies")
        return
    draft.add(Entry(code=record.code, system="ICD-10-CM", description=record.description,
                    evidence=list(s.evidence), rules=[RuleRef(rule=rule, section=section,
                                                              message=f"{message}: {s.code} {s.description}")],
                    rank=s.rank))
    draft.note_dropped(s.code, s.system, rule, section, message, by=record.code)


def _met(condition: Condition, draft: Draft, note: NoteText, inpatient: bool) -> tuple[list[Entry], list[Evidence]]:
    """The draft codes and the note's phrases that meet a condition."""
    entries = [e for e in draft.diagnoses() if matches(e.key, condition.codes)]
    if entries or not condition.text:  # a coded diagnosis is evidence enough: the note need not be read
        return entries, []
    if condition.assertions:
        hits = [f for f in note.find(condition.text) if f.assertion in condition.assertions]
    else:
        hits = note.present(condition.text, uncertain_ok=inpatient)
    if condition.sections:
        hits = [f for f in hits if f.evidence.section in condition.sections]
    return entries, [f.evidence for f in hits]


def combinations(draft: Draft, note: NoteText, context: CodingContext, cm: CodeSet, g: Guidelines) -> None:
    """Codes the note supports as a whole: "with" combinations and codes no suggestion named (D62, I21.02, Z79.4)."""
    inpatient = context.setting == "inpatient"
    fired: set[str] = set()
    for rule in g.combinations:
        if rule.group in fired or context.setting not in rule.settings:
            continue
        if _apply(rule, draft, note, inpatient, cm):
            fired.add(rule.group)


def _together(note: NoteText, spans: list[list[Evidence]]) -> bool:
    """Whether one sentence holds a span of every condition."""
    for first in spans[0]:
        start, end = note.sentence(first.start, first.end)
        if all(any(start <= e.start and e.end <= end for e in group) for group in spans[1:]):
            return True
    return False


def _apply(rule: Combination, draft: Draft, note: NoteText, inpatient: bool, cm: CodeSet) -> bool:
    parts: list[Entry] = []
    spans: list[list[Evidence]] = []
    found_text: list[list[Evidence]] = []
    for condition in rule.all:
        entries, found = _met(condition, draft, note, inpatient)
        if not entries and not found:
            return False
        parts += entries
        found_text.append(found)
        spans.append([e for entry in entries for e in entry.evidence] + found)
    for condition in rule.none:
        entries, found = _met(condition, draft, note, inpatient)
        if entries or found:
            return False
    if rule.same_sentence and not _together(note, spans):
        return False
    record = cm.get(rule.code)
    if record is None or not record.billable:
        return False
    target = normalize_code(rule.code)
    replaced = [e for e in draft.diagnoses() if e.key != target and matches(e.key, rule.replaces)]
    # The new code stands where the codes it replaces stood, with their evidence and what the note says; a part
    # that stays coded (the heart failure beside I13.0) keeps its own place and evidence.
    kept = {id(e) for e in parts} - {id(e) for e in replaced}
    own = [ev for e in replaced for ev in e.evidence] + [ev for group in found_text for ev in group]
    lent = [ev for e in parts if id(e) in kept for ev in e.evidence]
    ranks = [e.rank for e in replaced] or [e.rank + 1 for e in parts]
    unique = {(e.start, e.end): e for e in (own or lent)}
    entry = draft.add(Entry(code=record.code, system="ICD-10-CM", description=record.description,
                            evidence=[unique[k] for k in sorted(unique)],
                            rules=[RuleRef(rule="combination-code" if len(rule.all) > 1 else "documented-condition",
                                           section=rule.section, message=rule.message)],
                            rank=min(ranks) if ranks else 5_000))
    for e in replaced:
        draft.drop(e, "combination-code", rule.section, f"included in {entry.code} ({rule.message}), guideline "
                   f"{rule.section}", by=entry.code)
    return True


def integral_symptoms(draft: Draft, g: Guidelines) -> None:
    """Signs and symptoms a confirmed diagnosis of their body system explains are not coded (I.B.4-5); a rule
    may name a code of chapter R as the explanation (R65.21 septic shock explains hypotension)."""
    confirmed = [e for e in draft.diagnoses() if not e.key.startswith(_SYMPTOM_CHAPTER)
                 or any(matches(e.key, rule.explained_by) for rule in g.integral)]
    for entry in draft.diagnoses():
        for rule in g.integral:
            if not matches(entry.key, rule.symptoms):
                continue
            by = next((c for c in confirmed if c is not entry and matches(c.key, rule.explained_by)), None)
            if by is not None:
                draft.drop(entry, "integral-symptom", rule.section,
                           f"integral to {by.code}, guideline {rule.section}", by=by.code)
                break


def instruction_codes(draft: Draft, suggestions: Sequence[Suggestion], context: CodingContext, cm: CodeSet,
                      *, min_score: float) -> None:
    """Complete "use additional code" and "code first" notes from candidates the note supports (I.A.13)."""
    allowed = {"present", "historical"} | ({"possible"} if context.setting == "inpatient" else set())
    pool = [s for s in suggestions if s.system == "ICD-10-CM" and s.score >= min_score and s.assertion in allowed
            and (r := cm.get(s.code)) is not None and r.billable]
    dropped = {d.code for d in draft.dropped if d.rule not in ("not-supported",)}
    for entry in draft.diagnoses():
        for kind, label in (("use_additional", "use additional code"), ("code_first", "code first")):
            for group in instructions(cm, entry.key, kind):
                refs = [r for note in group for r in note.refs]
                if not refs or any(any(r.matches(e.key) for r in refs) for e in draft.diagnoses()):
                    continue
                # Said already by a code elsewhere: J96.21 answers R65.2's "acute respiratory failure (J96.0-)".
                if any(says(note.text, e.description) for note in group for e in draft.diagnoses() if e is not entry):
                    continue
                match = next((s for s in pool if s.code not in dropped
                              and any(r.matches(normalize_code(s.code)) for r in refs)), None)
                if match is None:
                    continue
                record = cm[match.code]
                draft.add(_ranked(match, record.code, record.description, RuleRef(
                    rule="use-additional" if kind == "use_additional" else "code-first", section="I.A.13",
                    message=f"completes the \"{label}\" note of {entry.code} ({group[0].text})")))


def resolve_excludes1(draft: Draft, cm: CodeSet) -> None:
    """Never two codes of an Excludes1 pair. The code the note line sends its condition to stays when its title
    says that condition, or the one whose title names the other's condition and more ("peritonitis with or
    following appendicitis (K35.-)": the appendicitis code that names its peritonitis, not K65.9); else the
    combination (derived) code, else the better-ranked one."""
    changed = True
    while changed:
        changed = False
        entries = sorted(draft.diagnoses(), key=lambda e: (not e.derived, e.rank))
        for a in entries:
            for note in excludes1(cm, a.key):
                loser = next((b for b in entries if b is not a and draft.get(b.code) and note.matches(b.key)), None)
                if loser is None or draft.get(a.code) is None:
                    continue
                keep, lose = a, loser
                # The line names where its condition is coded: the code there that says it stays (E11's
                # "gestational diabetes (O24.4-)" keeps O24.410, not E11.9).
                if says(note.text, lose.description) or names_more(keep.description, lose.description) or (
                        not names_more(lose.description, keep.description)
                        and (lose.derived, -lose.rank) > (keep.derived, -keep.rank)):
                    keep, lose = lose, keep
                draft.drop(lose, "excludes1", "I.A.12.a",
                           f"Excludes1 at {note.owner} (\"{note.text}\"): kept {keep.code}", by=keep.code)
                if names_more(lose.description, keep.description):
                    draft.pass_on(lose.code, keep.code)
                changed = True
                break
            if changed:
                break
