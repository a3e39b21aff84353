"""What the note says outside the ranked list: a rule's phrase found in the note, with its section and assertion.

Rules need facts the ranker may not have ranked ("LAD", "left-sided weakness", "BMI 41"). A phrase found
where a suggestion's evidence lies takes that evidence's assertion (the NLP pipeline's ConText); elsewhere
the ConText cue words before it in its sentence decide, a smaller, coarser check of the same kind.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from medcode.types import Assertion, Evidence, Suggestion
from nlp import load_resource

#: Cue words before a phrase in its sentence, strongest first (the order of nlp.context.PRECEDENCE).
_CUES: tuple[tuple[Assertion, re.Pattern[str]], ...] = (
    ("family", re.compile(r"\b(?:family history|mother|father|sister|brother|son|daughter|aunt|uncle|"
                          r"grandmother|grandfather|fhx?)\b", re.I)),
    ("negated", re.compile(r"\b(?:no|not|denies|denied|without|negative for|ruled out|free of|absence of|"
                           r"resolved)\b", re.I)),
    ("hypothetical", re.compile(r"\b(?:if (?:she|he|they|you|the patient)|return (?:for|if)|should (?:she|he))\b", re.I)),
    ("possible", re.compile(r"\b(?:possible|possibly|probable|probably|suspected|suspect|likely|questionable|"
                            r"rule out|r/o|concern for|versus|vs\.?)\b", re.I)),
    ("historical", re.compile(r"\b(?:history of|h/o|hx of|s/p|status post|prior|previous|remote|former)\b", re.I)),
)
_SENTENCE_END = re.compile(r"[.;!?]\s|\n")
_DEFAULT_SECTION_ASSERTIONS: dict[str, Assertion] = {
    "family_history": "family", "past_medical_history": "historical", "past_surgical_history": "historical"}


@dataclass(frozen=True, slots=True)
class Found:
    """A phrase of a rule found in the note."""

    evidence: Evidence

    @property
    def assertion(self) -> Assertion:
        return self.evidence.assertion


@lru_cache(maxsize=1)
def _headers() -> tuple[re.Pattern[str], tuple[str, ...]]:
    sections = load_resource("section_headers.json")["sections"]
    names: list[str] = []
    alternatives: list[str] = []
    for name, phrases in sections.items():
        for phrase in sorted(phrases, key=len, reverse=True):
            names.append(name)
            alternatives.append(r"\s+".join(map(re.escape, phrase.split())))
    # One group per phrase, so the group that matched names the section.
    pattern = re.compile(r"(?im)^[ \t]*(?:[-*•]|\d{1,2}[.)])?[ \t]*(?:" +
                         "|".join(f"({a})" for a in alternatives) + r")[ \t]*(?::|$)")
    return pattern, tuple(names)


class NoteText:
    """One note, read once: its section starts, and the evidence of its suggestions by offset."""

    def __init__(self, text: str, suggestions: Iterable[Suggestion]) -> None:
        self.text = text
        pattern, names = _headers()
        self._starts: list[int] = []
        self._sections: list[str] = []
        for match in pattern.finditer(text):
            self._starts.append(match.start())
            self._sections.append(names[match.lastindex - 1] if match.lastindex else "")
        self._evidence = sorted({(e.start, e.end, e.assertion) for s in suggestions for e in s.evidence})

    def section_at(self, offset: int) -> str | None:
        k = bisect_right(self._starts, offset)
        return self._sections[k - 1] if k else None

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The bounds of the sentence (or list line) holding text[start:end]."""
        before = [m.end() for m in _SENTENCE_END.finditer(self.text, 0, start)]
        first = before[-1] if before else 0
        after = _SENTENCE_END.search(self.text, end)
        return first, after.start() + 1 if after else len(self.text)

    def assertion_at(self, start: int, end: int) -> Assertion:
        """The assertion of the suggestion evidence covering the span, else the cues before it in its sentence."""
        for s, e, assertion in self._evidence:
            if s <= start and end <= e:
                return assertion  # type: ignore[return-value]
        first, _ = self.sentence(start, end)
        before = self.text[first:start]
        for assertion, cue in _CUES:
            if cue.search(before):
                return assertion
        section = self.section_at(start)
        return _DEFAULT_SECTION_ASSERTIONS.get(section or "", "present")

    def find(self, patterns: Sequence[re.Pattern[str]]) -> list[Found]:
        """Every match of any pattern, first to last, with its section and assertion."""
        found: dict[tuple[int, int], Found] = {}
        for pattern in patterns:
            for m in pattern.finditer(self.text):
                if m.end() > m.start() and (m.start(), m.end()) not in found:
                    found[(m.start(), m.end())] = Found(Evidence(
                        start=m.start(), end=m.end(), text=m.group(0), section=self.section_at(m.start()),
                        assertion=self.assertion_at(m.start(), m.end())))
        return [found[k] for k in sorted(found)]

    def present(self, patterns: Sequence[re.Pattern[str]], *, uncertain_ok: bool) -> list[Found]:
        """The matches that state the patient's condition: present (or historical, a chronic condition in the
        history), and possible ones too when uncertain diagnoses count (inpatient)."""
        allowed = {"present", "historical"} | ({"possible"} if uncertain_ok else set())
        return [f for f in self.find(patterns) if f.assertion in allowed]
