"""Combination codes read from the tabular's titles (I.B.9): when two coded diagnoses are one code's "X with Y",
that code replaces both ("Type 2 diabetes mellitus without complications" + "Hyperglycemia, unspecified" ->
"Type 2 diabetes mellitus with hyperglycemia")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from codesets.text import STOPWORDS, term_words
from codesets.types import CodeSet
from coding.draft import Draft, Entry
from coding.types import RuleRef

#: A base code's title that leaves the combination open: "without complications", "unspecified".
_OPEN = re.compile(r"\bwithout\b|\bunspecified\b", re.I)
_PARENS = re.compile(r"\s*\([^()]*\)")
#: A 7th character's words at the end of a title ("…, initial encounter for closed fracture", "…, sequela").
_EPISODE = re.compile(r",\s*(?:initial encounter|subsequent encounter|sequela)\b.*$", re.I)
_WORD = re.compile(r"[a-z0-9]+")
#: Words of a title that say nothing of the condition ("Type 2 diabetes mellitus with diabetic ...").
_QUIET = frozenset("of the and or in a an to due other unspecified specified diabetic hypertensive site".split())


@dataclass(frozen=True, slots=True)
class WithCode:
    """A billable code titled "<base> with <part>[ without/with ...]"."""

    code: str
    base: str
    part: frozenset[str]
    default: bool  # what follows the part says "without" (the code to take when the note says no more)


def _words(text: str) -> frozenset[str]:
    return frozenset(w.rstrip("s") if len(w) > 3 else w for w in _WORD.findall(text.lower())) - _QUIET


def _base(description: str) -> str:
    """A title's condition before its first qualifier: "Calculus of gallbladder without cholecystitis" ->
    "calculus of gallbladder"."""
    head = re.split(r",| with | without ", _PARENS.sub("", description), maxsplit=1)[0]
    return head.strip().lower()


def plain_words(title: str) -> set[str]:
    """A title's content words as the lexicon normalizes them (`codesets.text.term_words`), parenthesized ones
    ("(congestive)") left out."""
    return {w for w in term_words(_PARENS.sub("", title)) if w not in STOPWORDS}


def stated_words(title: str) -> set[str]:
    """The content words a note must say to state a title: `plain_words`, the 7th character's left out too, and
    "unilateral" where the title names the side ("Unilateral primary osteoarthritis, right knee")."""
    words = plain_words(_EPISODE.sub("", title))
    return words - {"unilateral"} if words & {"right", "left"} else words


def names_more(general: str, specific: str) -> bool:
    """Whether the title `specific` names the condition of the title `general` and more: "Acute appendicitis
    with perforation, localized peritonitis ..." names "Peritonitis, unspecified" and more."""
    condition, named = _words(_base(general)), _words(specific)
    return bool(condition) and condition < named


def says(line: str, title: str) -> bool:
    """Whether a code's `title` says the condition a tabular note `line` names ("acute respiratory failure
    (J96.0-)" is said by "Acute and chronic respiratory failure with hypoxia")."""
    condition = _words(_PARENS.sub("", line))
    return bool(condition) and condition <= _words(title)


@cache
def _with_codes(cm: CodeSet, category: str) -> tuple[WithCode, ...]:
    found = []
    for code in cm.with_prefix(category):
        if not code.billable:
            continue
        title = _PARENS.sub("", code.description)
        head, sep, tail = title.partition(" with ")
        if not sep or "," in head:
            continue
        part = re.split(r" with | without ", tail, maxsplit=1)[0]
        rest = tail[len(part):].strip()
        found.append(WithCode(code.code, head.strip().lower(), _words(part), not rest or rest.startswith("without")))
    return tuple(found)


def title_combinations(draft: Draft, cm: CodeSet) -> None:
    """Replace two coded diagnoses by the code whose title joins them, when the category has one."""
    # Only two ranked codes, the first a base condition "without" or "unspecified" and the other a plain one:
    # a code that is itself a combination ("... with ...") has made its choice already.
    for a in draft.diagnoses():
        if draft.get(a.code) is None or a.derived or not _OPEN.search(a.description):
            continue
        base = _base(a.description)
        for b in draft.diagnoses():
            if (b is a or b.derived or draft.get(b.code) is None or b.key[:3] == a.key[:3]
                    or " with " in b.description.lower()):
                continue
            described = _words(b.description)
            fits = [w for w in _with_codes(cm, a.key[:3]) if w.base == base and w.part and w.part <= described]
            if not fits:
                continue
            # The most specific title the other code fills, then the default ("without obstruction") variant.
            best = max(fits, key=lambda w: (len(w.part), w.default, -len(w.code)))
            _combine(draft, cm, a, b, best.code)
            break


def _combine(draft: Draft, cm: CodeSet, a: Entry, b: Entry, code: str) -> None:
    record = cm[code]
    message = f"{a.code} and {b.code} are one condition in the classification: {record.code} {record.description}"
    entry = draft.add(Entry(code=record.code, system="ICD-10-CM", description=record.description,
                            evidence=a.evidence + b.evidence, rank=min(a.rank, b.rank),
                            rules=[RuleRef(rule="combination-code", section="I.B.9", message=message)]))
    for part in (a, b):
        if part.key != entry.key:
            draft.drop(part, "combination-code", "I.B.9", f"included in {entry.code} (its title joins "
                       f"{a.code} and {b.code}), guideline I.B.9", by=entry.code)
