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
from nlp.rules import load_resource
from nlp.senses import Senses, ambiguous_senses, cued

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
#: A sentence ends at . ; ! ? and a space, or a line end; not after a lone letter ("E. coli", "Streptococcus A.").
_SENTENCE_END = re.compile(r"(?<!\b[A-Za-z])[.;!?]\s|\n")
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
def _abbreviations() -> tuple[dict[str, str], dict[str, Senses]]:
    """The NLP pipeline's list (nlp/resources/abbreviations.json): short form -> long form (lower case), and the
    ambiguous short forms' senses ("SBP")."""
    data = load_resource("abbreviations.json")
    return {short: long.lower() for short, long in data["abbreviations"].items()}, ambiguous_senses(data)


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9/]*")


def spelled_out(text: str, context: str = "") -> str:
    """`text` with the abbreviations of the NLP pipeline's list spelled out: "COPD exacerbation" ->
    "chronic obstructive pulmonary disease exacerbation"; an ambiguous one ("SBP") as the one sense whose cue
    words the lower-cased `context` (the note) holds, as the pipeline reads it where its sentence has none."""
    table, ambiguous = _abbreviations()

    def spell(m: re.Match[str]) -> str:
        found = table.get(m[0]) or table.get(m[0].lower())
        if found is None and context and m[0] in ambiguous:
            senses = cued(ambiguous[m[0]], context)
            found = senses[0] if len(senses) == 1 else None
        return found or m[0]

    return _TOKEN.sub(spell, text)


@lru_cache(maxsize=1)
def _headers() -> dict[str, str]:
    """Header phrase (lower case, single-spaced) -> section name, from nlp/resources/section_headers.json."""
    sections = load_resource("section_headers.json")["sections"]
    return {" ".join(phrase.lower().split()): name for name, phrases in sections.items() for phrase in phrases}


#: A line that may open a section: optional bullet, a short phrase, then ':' or the end of the line; or, in a note
#: dictated as one paragraph, a short phrase and ':' right after a sentence ("... no fluctuance. Assessment: ...").
_HEADER_LINE = re.compile(r"(?m)^[ \t]*(?:[-*•]|\d{1,2}[.)])?[ \t]*([A-Za-z][A-Za-z /&-]{0,60}?)[ \t]*(?::|$)"
                          r"|(?<=[.!?] )([A-Z][A-Za-z /&-]{0,40}?):")


class NoteText:
    """One note, read once: its section starts, and the evidence of its suggestions by offset."""

    def __init__(self, text: str, suggestions: Iterable[Suggestion]) -> None:
        self.text = text
        headers = _headers()
        self._starts: list[int] = []
        self._sections: list[str] = []
        for match in _HEADER_LINE.finditer(text):
            name = headers.get(" ".join((match[1] or match[2]).lower().split()))
            if name is not None:
                self._starts.append(match.start())
                self._sections.append(name)
        self._evidence = sorted({(e.start, e.end, e.assertion) for s in suggestions for e in s.evidence})
        self._bounds = [m.end() for m in _SENTENCE_END.finditer(text)]
        self.lower = text.lower()
        self._mentions: dict[str, list[int]] = {}
        self._found: dict[tuple[re.Pattern[str], ...], list[Found]] = {}

    def section_at(self, offset: int) -> str | None:
        k = bisect_right(self._starts, offset)
        return self._sections[k - 1] if k else None

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The bounds of the sentence (or list line) holding text[start:end]."""
        k = bisect_right(self._bounds, start)
        first = self._bounds[k - 1] if k else 0
        later = bisect_right(self._bounds, end)
        return first, self._bounds[later] if later < len(self._bounds) else len(self.text)

    def sentences(self) -> list[tuple[int, int]]:
        """The bounds of every sentence (or list line), first to last."""
        ends = [*self._bounds, len(self.text)]
        return [(a, b) for a, b in zip([0, *ends], ends) if b > a]

    def mentions(self, phrase: str) -> list[int]:
        """Offsets of every case-blind occurrence of a phrase (an evidence text) in the note."""
        key = phrase.lower()
        if key not in self._mentions:
            self._mentions[key] = [m.start() for m in re.finditer(re.escape(key), self.lower)] if key else []
        return self._mentions[key]

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
        key = tuple(patterns)
        if key not in self._found:
            self._found[key] = self._find(patterns)
        return self._found[key]

    def _find(self, patterns: Sequence[re.Pattern[str]]) -> list[Found]:
        found: dict[tuple[int, int], Found] = {}
        for pattern in patterns:
            for m in pattern.finditer(self.lower):
                if m.end() > m.start() and (m.start(), m.end()) not in found:
                    found[(m.start(), m.end())] = Found(Evidence(
                        start=m.start(), end=m.end(), text=self.text[m.start():m.end()], section=self.section_at(m.start()),
                        assertion=self.assertion_at(m.start(), m.end())))
        return [found[k] for k in sorted(found)]

    def present(self, patterns: Sequence[re.Pattern[str]], *, uncertain_ok: bool) -> list[Found]:
        """The matches that state the patient's condition: present (or historical, a chronic condition in the
        history), and possible ones too when uncertain diagnoses count (inpatient)."""
        allowed = {"present", "historical"} | ({"possible"} if uncertain_ok else set())
        return [f for f in self.find(patterns) if f.assertion in allowed]
