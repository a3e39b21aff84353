"""Characters the note decides: the 7th character of injuries by encounter (I.C.19.a), the BMI code (Z68,
I.B.14), whose ranges are read from the Z68 titles of the tabular, and the NIHSS score of an acute stroke (R29.7-,
I.C.18.h)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from codesets.types import Code, CodeSet
from coding.draft import Draft, Entry
from coding.rules import Guidelines
from coding.text import NoteText
from coding.types import CodingContext, RuleRef

#: Chapter 19 codes with an episode-of-care 7th character (S00-T88 injuries, poisonings, complications).
_EPISODE = re.compile(r"^(S|T[0-7]|T8[0-8])")
_BMI = re.compile(r"\b(?:BMI|body mass index)\b[^0-9\n]{0,20}(\d{2}(?:\.\d+)?)", re.I)
_RANGE = re.compile(r"(\d+(?:\.\d)?)\s*-\s*(\d+(?:\.\d)?),\s*adult", re.I)
_BELOW = re.compile(r"(\d+(?:\.\d)?) or less,\s*adult", re.I)
_ABOVE = re.compile(r"(\d+(?:\.\d)?) or greater,\s*adult", re.I)
_WEEKS = re.compile(r"\b(\d{1,2})(?:w\dd\b|\s*(?:weeks?|wks?)\b(?:\s*(?:and \d days?|\+\d))?\s*(?:of\s*)?"
                    r"(?:gestation|ga\b|pregnan))", re.I)
_NIHSS = re.compile(r"\b(?:NIHSS|NIH stroke scale)(?: score)?\s*(?:of|was|is|:|=)?\s*(\d{1,2})\b", re.I)


def episode(draft: Draft, note: NoteText, context: CodingContext, cm: CodeSet, g: Guidelines) -> None:
    """Injury codes get the 7th character of the encounter: A while the patient receives active treatment (an
    admission always), D for an outpatient visit after it (routine healing, cast check), S for sequelae (I.C.19.a)."""
    if note.present(g.sequela, uncertain_ok=False):
        wanted, why = "S", "sequela of the injury"
    elif context.setting == "outpatient" and note.present(g.subsequent, uncertain_ok=False):
        wanted, why = "D", "subsequent encounter, routine healing"
    else:
        wanted, why = "A", "initial encounter, active treatment"
    for entry in draft.diagnoses():
        if len(entry.key) != 7 or not _EPISODE.match(entry.key) and not entry.key.startswith(("V", "W", "X", "Y")):
            continue
        current = entry.key[6]
        # Open-fracture letters (B, C; E-H, J; M-N, P-R) keep their kind: only the episode changes.
        target = _same_kind(current, wanted)
        if target == current:
            continue
        record = cm.get(entry.key[:6] + target)
        if record is None or not record.billable:
            continue
        replacement = Entry(code=record.code, system="ICD-10-CM", description=record.description,
                            evidence=entry.evidence, rules=[*entry.rules, RuleRef(
                                rule="seventh-character", section="I.C.19.a", message=f"7th character {target}: {why}")],
                            rank=entry.rank)
        draft.drop(entry, "seventh-character", "I.C.19.a", f"7th character {current} replaced by {target} ({why})",
                   by=record.code)
        draft.add(replacement)


def _same_kind(current: str, wanted: str) -> str:
    # Fracture 7th characters: A/D/G/K/P/S closed (initial, subsequent routine, delayed, nonunion, malunion,
    # sequela); B/E/H/M/Q for open type I-II, C/F/J/N/R for open type III. Only the episode is changed here.
    closed, open12, open3 = "ADS", "BES", "CFS"
    for letters in (closed, open12, open3):
        if current in letters:
            return letters["ADS".index(wanted)]
    return current


@cache
def _bmi_table(cm: CodeSet) -> tuple[tuple[float, float, str], ...]:
    rows = []
    for code in cm.with_prefix("Z68"):
        if not code.billable:
            continue
        if m := _RANGE.search(code.description):
            rows.append((float(m[1]), float(m[2]) + 0.0999, code.code))
        elif m := _BELOW.search(code.description):
            rows.append((0.0, float(m[1]) + 0.0999, code.code))
        elif m := _ABOVE.search(code.description):
            rows.append((float(m[1]), 1000.0, code.code))
    return tuple(rows)


def bmi(draft: Draft, note: NoteText, context: CodingContext, cm: CodeSet, weight_conditions: tuple[str, ...]) -> None:
    """Z68 for an adult's documented BMI, only beside a weight diagnosis it is reported with (I.B.14); a ranked
    Z68 code without one is dropped."""
    weight = next((e for e in draft.diagnoses() if e.key.startswith(weight_conditions)), None)
    ranked = [e for e in draft.diagnoses() if e.key.startswith("Z68")]
    adult = context.patient.age is None or context.patient.age >= 20
    match = _BMI.search(note.text)
    if weight is None or not adult or match is None:
        for e in ranked:
            draft.drop(e, "bmi-without-condition", "I.B.14",
                       "BMI is reported only with an associated weight diagnosis (obesity, malnutrition) in an adult")
        return
    value = float(match[1])
    code = next((c for lo, hi, c in _bmi_table(cm) if lo <= value < hi), None)
    record = cm.get(code) if code else None
    if record is None:
        return
    _read_code(draft, note, record, match, RuleRef(rule="bmi", section="I.B.14", message=f"BMI {value:g} "
               f"documented, reported with {weight.code}"), beside=weight, instead=ranked,
               why=f"the note's BMI is {value:g}", drop_rule="bmi-value")


def nihss(draft: Draft, note: NoteText, cm: CodeSet) -> None:
    """R29.7- for the first NIH stroke scale score the note gives, beside an acute ischemic stroke (I63) it is
    reported with (I.C.18.h); the score's code is read from the tabular's "NIHSS score N" titles."""
    stroke = next((e for e in draft.diagnoses() if e.key.startswith("I63")), None)
    match = _NIHSS.search(note.text)
    if stroke is None or match is None:
        return
    title = f"NIHSS score {int(match[1])}"
    record = next((c for c in cm.with_prefix("R29.7") if c.billable and c.description == title), None)
    if record is None:
        return
    _read_code(draft, note, record, match, RuleRef(rule="nihss", section="I.C.18.h", message=f"NIHSS "
               f"{int(match[1])} documented, reported with {stroke.code}"), beside=stroke)


def gestation(draft: Draft, note: NoteText, cm: CodeSet) -> None:
    """Z3A for the weeks of gestation the note states ("28 weeks gestation"), beside a pregnancy code (chapter 15,
    I.C.15.a.4); other Z3A codes ranked for other numbers of the note ("growth US at 32 weeks") are dropped."""
    pregnancy = next((e for e in draft.diagnoses() if e.key.startswith("O")), None)
    ranked = [e for e in draft.diagnoses() if e.key.startswith("Z3A")]
    match = _WEEKS.search(note.text)
    record = cm.get(f"Z3A.{int(match[1]):02d}") if match and pregnancy else None
    if record is None or not record.billable:
        return
    weeks = int(match[1])
    _read_code(draft, note, record, match, RuleRef(rule="gestation-weeks", section="I.C.15.a.4",
                                                   message=f"{weeks} weeks of gestation documented, with "
                                                           f"{pregnancy.code}"),
               beside=pregnancy, instead=ranked, why=f"the note states {weeks} weeks of gestation")


def _read_code(draft: Draft, note: NoteText, record: Code, match: re.Match[str], rule: RuleRef, *, beside: Entry,
               instead: Sequence[Entry] = (), why: str = "", drop_rule: str | None = None) -> None:
    """`record`, read from the note's words `match`, into the draft just after the code it is reported with
    (`beside`), its evidence those words; the codes of its kind ranked `instead` of it dropped, saying `why`."""
    for e in instead:
        if e.key != record.key:
            draft.drop(e, drop_rule or rule.rule, rule.section, why, by=record.code)
    span = note.find((re.compile(re.escape(match[0].lower())),))
    draft.add(Entry(code=record.code, system="ICD-10-CM", description=record.description,
                    evidence=[f.evidence for f in span[:1]], rank=beside.rank + 1, rules=[rule]))
