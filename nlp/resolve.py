"""Turn what the channels propose into codes a claim can carry.

Channels may propose header codes (E11), 4-character PCS prefixes that coders wrote when they could
not tell all seven characters (BW20), or codes the loaded releases do not have. Headers go to
their default billable descendant, prefixes to their most used full code; unknown codes are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

from codesets.types import CodeSet
from codesets.usage import Usage
from medcode.types import Candidate, System
from nlp.evidence import CodeCandidates

#: How the default child of a header reads, best first: "... without complications" beats
#: "Anemia, unspecified" beats "... with unspecified complications" beats "Other ...".
_DEFAULT_CHILD_MARKS = ("without complication", ", unspecified", "unspecified", "not elsewhere", "other")


class Resolver:
    """Maps a proposed (system, code) to a valid billable code of the loaded releases, or None."""

    def __init__(self, codesets: dict[System, CodeSet], usage: Usage) -> None:
        self.codesets = codesets
        self.usage = usage
        self._cache: dict[tuple[System, str], str | None] = {}

    def _default_leaf(self, codeset: CodeSet, key: str) -> str | None:
        leaves: list[str] = []
        frontier = [key]
        while frontier:
            for child in codeset.children(frontier.pop()):
                (leaves if child.billable else frontier).append(child.key)
        if not leaves:
            return None

        def preference(k: str) -> tuple[int, int, int, str]:
            desc = codeset[k].description.lower()
            word = next((i for i, w in enumerate(_DEFAULT_CHILD_MARKS)
                         if (desc.endswith(w) if w.startswith(",") else w in desc)), len(_DEFAULT_CHILD_MARKS))
            return (-self.usage.counts.get((codeset.system, k), 0), word, len(k), k)

        return min(leaves, key=preference)

    def _pcs_full(self, codeset: CodeSet, prefix: str) -> str | None:
        full = [c.key for c in codeset.with_prefix(prefix)]
        if not full:
            return None
        return min(full, key=lambda k: (-self.usage.counts.get(("ICD-10-PCS", k), 0), k))

    def target(self, system: System, code: str) -> str | None:
        """The code to suggest for a proposed one (itself when valid and billable)."""
        key = (system, code)
        if key not in self._cache:
            codeset = self.codesets.get(system)
            record = codeset.get(code) if codeset else None
            if codeset is None:
                found = None
            elif record is not None and record.billable:
                found = record.key
            elif record is not None:
                found = self._default_leaf(codeset, record.key)
            elif system == "ICD-10-PCS" and len(code) < 7:
                found = self._pcs_full(codeset, code)
            else:
                found = None
            self._cache[key] = found
        return self._cache[key]

    def resolve(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        """Candidates moved to their target codes; those without one dropped."""
        out: list[Candidate] = []
        known = self._cache  # looked up here first: a note has ~1,400 candidates of ~700 codes
        for c in candidates:
            key = (c.system, c.code)
            target = known[key] if key in known else self.target(c.system, c.code)
            if target is None:
                continue
            if target != c.code:
                flag = "prefix" if c.system == "ICD-10-PCS" else "header"
                # The prior of what was proposed: coders wrote "BW20" 51 times in CodiEsp train.
                prior = self.usage.prior(c.system, c.code)
                # Built anew rather than by dataclasses.replace, which costs more on this hot path.
                c = Candidate(code=target, system=c.system, mention=c.mention, channel=c.channel,
                              similarity=c.similarity, matched_text=c.matched_text,
                              features={**c.features, flag: 1.0, "prior": prior}, source=c.source)
            out.append(c)
        return out

    # Loops, not any()/all() over a generator: asked for every code of every note, mostly of 1-2 candidates.
    @staticmethod
    def billable(g: CodeCandidates) -> bool:
        """True when some candidate named the code itself, not a header above it."""
        for c in g.candidates:
            if not c.features.get("header"):
                return True
        return False

    @staticmethod
    def was_prefix(g: CodeCandidates) -> bool:
        """True when every candidate named only a PCS prefix of the code."""
        for c in g.candidates:
            if not c.features.get("prefix"):
                return False
        return True
