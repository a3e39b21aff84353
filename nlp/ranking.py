"""Ranking: merge every channel's candidates per code, describe each code by features, score it.

The score is a logistic function of the features, with weights kept as data
(`nlp/resources/ranker.json`, fitted on CodiEsp train by `medcode tune`), so it reads as the
probability-like confidence that a coder assigns the code.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from codesets.usage import Usage
from medcode.types import Assertion, Candidate, System

FEATURES: tuple[str, ...] = (
    "exact", "exact_description", "fuzzy", "usage", "usage_spans", "dense", "dense_rank",
    "prior", "billable", "prefix", "channels", "mentions", "negated_only", "family_only", "uncertain_only",
)
#: Assertions under which a code is not the patient's current problem.
NOT_PATIENT: frozenset[Assertion] = frozenset({"negated", "family"})


@dataclass
class CodeCandidates:
    """All candidates of one code in one note, and the features the ranker reads."""

    system: System
    code: str  # normalized key (no dot)
    candidates: list[Candidate] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    @property
    def assertion(self) -> Assertion:
        """The strongest assertion among the evidence: present beats possible beats historical …"""
        order: tuple[Assertion, ...] = ("present", "possible", "historical", "hypothetical", "negated", "family")
        seen = {c.mention.assertion for c in self.candidates}
        return next((a for a in order if a in seen), "present")


def group(candidates: Iterable[Candidate]) -> list[CodeCandidates]:
    """Candidates gathered per (system, code), in first-seen order."""
    by_code: dict[tuple[System, str], CodeCandidates] = {}
    for c in candidates:
        key = (c.system, c.code)
        if key not in by_code:
            by_code[key] = CodeCandidates(c.system, c.code)
        by_code[key].candidates.append(c)
    return list(by_code.values())


def featurize(group_: CodeCandidates, *, usage: Usage, billable: bool, prefix: bool) -> dict[str, float]:
    """The feature vector of one code in one note."""
    best: dict[str, float] = defaultdict(float)
    usage_spans: set[tuple[int, int]] = set()
    spans: set[tuple[int, int]] = set()
    dense_rank = 0.0
    for c in group_.candidates:
        best[c.channel] = max(best[c.channel], c.similarity)
        spans.add((c.mention.start, c.mention.end))
        if c.channel == "exact" and c.features.get("description"):
            best["exact_description"] = 1.0
        if c.channel == "usage":
            usage_spans.add((c.mention.start, c.mention.end))
        if c.channel == "dense":
            dense_rank = max(dense_rank, 1.0 / c.features.get("rank", 1.0))
    assertions = {c.mention.assertion for c in group_.candidates}
    return {
        "exact": best["exact"],
        "exact_description": best["exact_description"],
        "fuzzy": best["fuzzy"],
        "usage": best["usage"],
        "usage_spans": math.log1p(len(usage_spans)),
        "dense": max(0.0, best["dense"] - 0.5),
        "dense_rank": dense_rank,
        "prior": math.log(usage.prior(group_.system, group_.code)),
        "billable": float(billable),
        "prefix": float(prefix),
        "channels": float(len({c.channel for c in group_.candidates})),
        "mentions": math.log1p(len(spans)),
        "negated_only": float(assertions <= {"negated"}),
        "family_only": float(assertions <= {"family"}),
        "uncertain_only": float(assertions <= {"possible", "hypothetical"}),
    }


class Ranker:
    """A logistic score over `FEATURES`, weights from a JSON file."""

    def __init__(self, weights: dict[str, float], bias: float, *, source: str = "") -> None:
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown ranker features: {sorted(unknown)}")
        self.weights = {f: float(weights.get(f, 0.0)) for f in FEATURES}
        self.bias = float(bias)
        self.source = source

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        """The ranker saved at `path`, else the one shipped with medcode."""
        if path is None:
            raw = json.loads(resources.files("nlp").joinpath("resources", "ranker.json").read_text())
            return cls(raw["weights"], raw["bias"], source="nlp/resources/ranker.json")
        raw = json.loads(path.read_text())
        return cls(raw["weights"], raw["bias"], source=str(path))

    def save(self, path: Path, **card: object) -> None:
        path.write_text(json.dumps({"weights": self.weights, "bias": self.bias, **card}, indent=2))

    def score(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[f] * features.get(f, 0.0) for f in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
