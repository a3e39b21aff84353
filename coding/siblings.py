"""The codes of one category: which sibling the note supports. An unspecified code gives way to a sibling that
says more; a "without X" code the note contradicts gives way, or with its "with X" sibling becomes the code that
says both; an NEC code gives way to one that names its condition and more; an unsaid "with" takes its "without"
sibling, the classification's default."""

from __future__ import annotations

import re

from codesets.types import Code, CodeSet
from coding.diagnoses import LISTS, STATED
from coding.draft import Draft, Entry
from coding.rules import Guidelines, matches
from coding.text import NoteText
from coding.titles import names_more
from coding.types import RuleRef

_VAGUE = re.compile(r"\bunspecified\b|\bNOS\b|without complication", re.I)


def _specificity(entry: Entry) -> tuple[bool, bool, int, int]:
    # A code a guideline rule built from the note's words, or whose title the note states in full ("esophageal
    # varices with bleeding"), beats a sibling the ranker liked more ("... without bleeding"; K80.50 beside K80.00).
    return (entry.derived or not _VAGUE.search(entry.description),
            entry.derived or any(r.rule == STATED for r in entry.rules), len(entry.key), -entry.rank)


def unspecified_siblings(draft: Draft, note: NoteText, cm: CodeSet, g: Guidelines) -> None:
    """An unspecified (or "without complications") code gives way to a sibling that says more and that the note
    supports about as well (I.A.9.b); categories that take one code keep their most specific one."""
    for entry in draft.diagnoses():
        if draft.get(entry.code) is None:
            continue
        siblings = [e for e in draft.diagnoses() if e is not entry and e.key[:3] == entry.key[:3]]
        if _contradicted(entry, note):
            _give_way(draft, note, entry, siblings, cm)
            continue
        siblings = [e for e in siblings if not _contradicted(e, note)]
        # A sibling the clinician lists (assessment, diagnoses) is supported whatever it scored.
        supported = [e for e in siblings if e.derived or entry.score is None or (e.score or 0) >= 0.3 * entry.score
                     or any(ev.section in LISTS for ev in e.evidence)]
        if not supported:
            continue
        best = max(supported, key=_specificity)
        if _VAGUE.search(entry.description) and _specificity(best) > _specificity(entry):
            best = _with_both(draft, note, entry, best, cm)
            draft.drop(entry, "unspecified-code", "I.A.9.b",
                       f"unspecified code set aside for the more specific {best.code}", by=best.code)
        elif matches(entry.key, g.one_per_category) and _specificity(best) > _specificity(entry):
            draft.drop(entry, "one-code-per-condition", "I.B.12",
                       f"the condition is coded once, as {best.code}", by=best.code)


_WITHOUT = re.compile(r"\bwithout ([a-z]+(?: [a-z]+)?)")


def _stated_present(note: NoteText, words: str) -> bool:
    """Whether the note states `words` as present ("without hematuria" holds the word but denies it)."""
    said = re.compile(rf"(?<![\w-]){re.escape(words)}(?!\w)")
    return bool(note.present((said,), uncertain_ok=False)) and not note.mentions(f"without {words}")


def _contradicted(entry: Entry, note: NoteText) -> bool:
    """Whether the entry's title says "without X" of an X the note states ("Sickle-cell disease without crisis"
    beside "w/ vaso-occlusive pain crisis")."""
    found = _WITHOUT.search(entry.description.lower())
    return found is not None and _stated_present(note, found[1])


def _give_way(draft: Draft, note: NoteText, entry: Entry, siblings: list[Entry], cm: CodeSet) -> None:
    """A code whose "without X" the note contradicts gives way to a sibling it does not contradict, or with it to
    the sibling that says what both say (K29.00 "acute gastritis without bleeding" + K29.71 "gastritis,
    unspecified, with bleeding": K29.01)."""
    other = next((e for e in siblings if not _contradicted(e, note)), None)
    if other is None:
        return
    both = _with_both(draft, note, other, entry, cm)
    if both is not entry and both.key != other.key:
        draft.drop(other, "sibling-combination", "I.A.9.b", f"{entry.code} and {other.code} together say "
                   f"{both.code}", by=both.code)
        draft.pass_on(other.code, both.code)
    elif both is entry:
        found = _WITHOUT.search(entry.description.lower())
        draft.drop(entry, "contradicted", "III", f"the note states {found[1] if found else 'it'}: {other.code}",
                   by=other.code)


def _with_both(draft: Draft, note: NoteText, vague: Entry, best: Entry, cm: CodeSet) -> Entry:
    """The sibling that says what both say: "gastritis, unspecified, with bleeding" and "acute gastritis without
    bleeding" are "acute gastritis with bleeding" (K29.71 + K29.00 = K29.01), when the note states the bleeding;
    `best` when there is no such sibling."""
    found = _WITHOUT.search(best.description.lower())
    if found is None or f"with {found[1]}" not in vague.description.lower():
        return best
    if not _stated_present(note, found[1]):
        return best
    both = _sibling_titled(cm, best.code, best.description.replace(f"without {found[1]}", f"with {found[1]}", 1))
    if both is None:
        return best
    merged = Entry(code=both.code, system="ICD-10-CM", description=both.description,
                   evidence=[*best.evidence, *vague.evidence], rank=min(best.rank, vague.rank),
                   rules=[RuleRef(rule="sibling-combination", section="I.A.9.b",
                                  message=f"{best.code} and {vague.code} together say {both.code}")])
    draft.drop(best, "sibling-combination", "I.A.9.b", f"{vague.code} says {found[1]}: {both.code}", by=both.code)
    draft.pass_on(best.code, both.code)
    return draft.add(merged)


def _sibling_titled(cm: CodeSet, code: str, title: str) -> Code | None:
    """The billable code under `code`'s parent whose title is `title` (case-blind), if there is one."""
    record = cm.get(code)
    if record is None or record.parent is None:
        return None
    return next((c for c in cm.children(record.parent) if c.billable and c.description.lower() == title.lower()),
                None)


def residual_codes(draft: Draft) -> None:
    """A "not elsewhere classified" code gives way to a coded one whose title names its condition and more: the
    condition is classified elsewhere (K76.0 fatty liver NEC beside K70.0 alcoholic fatty liver)."""
    for entry in draft.diagnoses():
        if draft.get(entry.code) is None or "not elsewhere classified" not in entry.description.lower():
            continue
        by = next((e for e in draft.diagnoses() if e is not entry and draft.get(e.code)
                   and names_more(entry.description, e.description)), None)
        if by is not None:
            draft.drop(entry, "classified-elsewhere", "I.A.3", f"the condition is classified elsewhere: {by.code}",
                       by=by.code)


def unstated_defaults(draft: Draft, note: NoteText, cm: CodeSet, g: Guidelines) -> None:
    """A title's "with status migrainosus" the note does not say gives way to its "without" sibling, the
    classification's default."""
    for entry in draft.diagnoses():
        for phrase in g.unstated_with:
            title = entry.description
            if f"with {phrase}" not in title or f"without {phrase}" in title or note.mentions(phrase):
                continue
            sibling = _sibling_titled(cm, entry.code, title.replace(f"with {phrase}", f"without {phrase}"))
            if sibling is not None:
                replacement = draft.add(Entry(code=sibling.code, system="ICD-10-CM", description=sibling.description,
                                              evidence=list(entry.evidence), rank=entry.rank, score=entry.score,
                                              rules=[RuleRef(rule="default-without", section="I.A.9",
                                                             message=f"the note does not say {phrase}")]))
                draft.drop(entry, "default-without", "I.A.9", f"the note does not say {phrase}", by=replacement.code)
