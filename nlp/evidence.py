"""Evidence: a note's candidates gathered per code, how strongly each names its code, what is shown, and why.

A candidate's strength (`strength`) picks the evidence a coder sees, sets the code's assertion and is
a ranker feature; its weights are settings (`RankingSettings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from medcode.settings import RankingSettings
from medcode.types import Assertion, Candidate, System

#: Assertions under which a code is not the patient's current problem.
NOT_PATIENT: frozenset[Assertion] = frozenset({"negated", "family"})
#: Evidence weaker than this share of a code's strongest is not shown, nor does it set the assertion.
EVIDENCE_FLOOR = 0.5
#: The weights of an engine run on default settings (and of tests that build groups by hand).
DEFAULT_RANKING = RankingSettings()


def strength(c: Candidate, ranking: RankingSettings = DEFAULT_RANKING) -> float:
    """How directly one candidate names its code: a spelled-out term beats a co-occurring phrase."""
    if c.channel == "exact":
        return 1.0
    if c.channel == "fuzzy":
        return ranking.fuzzy_strength * c.similarity
    if c.channel == "usage":
        return c.similarity
    if c.channel == "cooccurrence":
        return ranking.cooccurrence_strength * c.similarity
    return max(0.0, c.similarity - ranking.dense_strength_offset)


@dataclass
class CodeCandidates:
    """All candidates of one code in one note, and the features the ranker reads."""

    system: System
    code: str  # normalized key (no dot)
    candidates: list[Candidate] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    #: The evidence weights `strength` reads (the engine's settings; their defaults when built elsewhere).
    ranking: RankingSettings = field(default_factory=lambda: DEFAULT_RANKING, repr=False, compare=False)
    #: False for a code the engine would not rank (`worth_ranking`), kept only because `Coder.rank` was
    #: asked for every code.
    ranked: bool = True
    #: `strengths()`, kept: the features, the assertion and the evidence all read it.
    _strengths: list[float] | None = field(default=None, init=False, repr=False, compare=False)

    def strengths(self) -> list[float]:
        """`strength` of each candidate, in candidate order (computed once the candidates are gathered)."""
        known = self._strengths
        if known is None or len(known) != len(self.candidates):
            known = self._strengths = [strength(c, self.ranking) for c in self.candidates]
        return known

    def _near_best(self) -> list[tuple[float, int]]:
        """(strength, position) of the candidates near the best one's strength, in candidate order."""
        strengths = self.strengths()
        floor = EVIDENCE_FLOOR * max(strengths, default=0.0)
        return [(s, i) for i, s in enumerate(strengths) if s >= floor]

    def evidence(self) -> list[Candidate]:
        """The candidates worth showing, strongest first: those near the best one's strength."""
        cands = self.candidates
        # The position breaks ties, so the order is the one a stable sort of the candidates gives.
        ranked = sorted(self._near_best(), key=lambda t: (-t[0], cands[t[1]].mention.start, cands[t[1]].mention.end,
                                                          t[1]))
        return [cands[i] for _, i in ranked]

    @property
    def assertion(self) -> Assertion:
        """The assertion of the shown evidence: present beats possible beats historical … beats family.

        Weak evidence does not count, so a co-occurring phrase elsewhere cannot make a denied
        "chest pain" present.
        """
        order: tuple[Assertion, ...] = ("present", "possible", "historical", "hypothetical", "negated", "family")
        seen = self.evidence_assertions()
        return next((a for a in order if a in seen), "present")

    def evidence_assertions(self) -> set[Assertion]:
        """The assertions of `evidence()`, without sorting it."""
        if len(self.candidates) == 1:  # most codes of a note: its one candidate is its evidence (strength >= 0)
            return {self.candidates[0].mention.assertion}
        strengths = self.strengths()
        floor = EVIDENCE_FLOOR * max(strengths, default=0.0)
        return {c.mention.assertion for c, s in zip(self.candidates, strengths) if s >= floor}


def group(candidates: Iterable[Candidate], ranking: RankingSettings = DEFAULT_RANKING) -> list[CodeCandidates]:
    """Candidates gathered per (system, code), in first-seen order (`ranking`: the evidence weights)."""
    by_code: dict[tuple[System, str], list[Candidate]] = {}
    for c in candidates:
        key = (c.system, c.code)
        found = by_code.get(key)
        if found is None:
            by_code[key] = [c]
        else:
            found.append(c)
    return [CodeCandidates(system, code, found, ranking=ranking) for (system, code), found in by_code.items()]


def why(group_: CodeCandidates) -> str:
    """One line a coder reads: the strongest reasons, strongest first."""
    parts: list[str] = []
    by_channel: dict[str, Candidate] = {}
    for c in group_.evidence():
        if c.channel not in by_channel or c.similarity > by_channel[c.channel].similarity:
            by_channel[c.channel] = c
    if c := by_channel.get("exact"):
        parts.append(f"exact match of '{c.matched_text}' in \"{c.mention.text}\"")
    if c := by_channel.get("usage"):
        parts.append(f"coders assigned it in {c.similarity:.0%} of coded notes saying \"{c.matched_text}\"")
    if c := by_channel.get("cooccurrence"):
        parts.append(f"often coded when a note says \"{c.matched_text}\" ({c.similarity:.0%})")
    if c := by_channel.get("fuzzy"):
        parts.append(f"words of '{c.matched_text}' found ({c.similarity:.0%} coverage)")
    if c := by_channel.get("dense"):
        parts.append(f"semantic similarity {c.similarity:.2f} to '{c.matched_text}'")
    if group_.assertion != "present":
        parts.append(f"assertion: {group_.assertion}")
    if group_.features.get("side_conflict") == 1.0:
        parts.append("check the side: the sentences of its evidence name another one")
    return "; ".join(parts)
