"""The coding being built: the codes in it so far, why each is there, and what was dropped in favour of what."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from codesets.types import normalize_code
from coding.types import DroppedCode, RuleRef
from medcode.types import Evidence, Suggestion, System


@dataclass
class Entry:
    """One code of the draft."""

    code: str  # display form
    system: System
    description: str
    evidence: list[Evidence]
    rules: list[RuleRef] = field(default_factory=list)
    score: float | None = None  # the suggestion's; None when a rule derived the code
    rank: int = 10_000  # the suggestion's rank; derived codes take the best rank of what they replace
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = normalize_code(self.code)

    @property
    def derived(self) -> bool:
        return self.score is None


class Draft:
    """Codes in, codes out: every removal records its rule, section and the code it gave way to."""

    def __init__(self) -> None:
        self._entries: dict[tuple[System, str], Entry] = {}
        self.dropped: list[DroppedCode] = []

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def diagnoses(self) -> list[Entry]:
        return [e for e in self._entries.values() if e.system == "ICD-10-CM"]

    def procedures(self) -> list[Entry]:
        return [e for e in self._entries.values() if e.system != "ICD-10-CM"]

    def get(self, code: str, system: System = "ICD-10-CM") -> Entry | None:
        return self._entries.get((system, normalize_code(code)))

    def __contains__(self, code: str) -> bool:
        return ("ICD-10-CM", normalize_code(code)) in self._entries

    def add(self, entry: Entry) -> Entry:
        """Put a code in (merging evidence and rules when it is there already)."""
        known = self._entries.get((entry.system, entry.key))
        if known is None:
            self._entries[(entry.system, entry.key)] = entry
            return entry
        spans = {(e.start, e.end) for e in known.evidence}
        known.evidence += [e for e in entry.evidence if (e.start, e.end) not in spans]
        known.rules += [r for r in entry.rules if r not in known.rules]
        known.rank = min(known.rank, entry.rank)
        return known

    def drop(self, entry: Entry, rule: str, section: str, message: str, by: str | None = None) -> None:
        """Take a code out, saying why."""
        if self._entries.pop((entry.system, entry.key), None) is not None:
            self.note_dropped(entry.code, entry.system, rule, section, message, by)

    def pass_on(self, old: str, new: str) -> None:
        """Codes dropped in favour of `old` now give way to `new`, which names its condition and more: a symptom
        integral to K65.9 is integral to the K35.32 that replaced it, and the coder reads what is coded."""
        self.dropped = [d.model_copy(update={"by": new, "message": d.message.replace(old, new)})
                        if d.by == old else d for d in self.dropped]

    def below_threshold(self, suggestion: Suggestion, min_score: float) -> bool:
        """Whether a ranked candidate scores below the coding threshold (recorded as dropped if so)."""
        if suggestion.score >= min_score:
            return False
        self.note_dropped(suggestion.code, suggestion.system, "not-supported", "III",
                          f"score {suggestion.score:.2f} is below the coding threshold {min_score:.2f}")
        return True

    def note_dropped(self, code: str, system: System, rule: str, section: str, message: str,
                     by: str | None = None) -> None:
        """Record a candidate that never entered the draft."""
        if not any(d.code == code and d.system == system for d in self.dropped):
            self.dropped.append(DroppedCode(code=code, system=system, rule=rule, section=section, by=by,
                                            message=f"{code}: {message}"))
