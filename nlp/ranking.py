"""Ranking: merge every channel's candidates per code, describe each code by features, score it.

The score comes from gradient-boosted trees fitted on CodiEsp train by `medcode tune` (shipped in
`nlp/resources/ranker/`), and reads as the probability-like confidence that a coder assigns the code.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from codesets.usage import PCS_PREFIX, Usage
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import Assertion, Candidate, System

FEATURES: tuple[str, ...] = (
    "exact", "exact_description", "fuzzy", "usage", "usage_spans", "cooccurrence", "dense", "dense_rank",
    "prior", "billable", "prefix", "channels", "mentions", "negated_only", "family_only", "uncertain_only",
    "neighbors", "family_exact", "family_fuzzy", "family_usage", "family_dense", "family_size",
)
#: The channels whose best value is also shared across a code's family (see `add_family_features`).
_FAMILY_OF = {"family_exact": "exact", "family_fuzzy": "fuzzy", "family_usage": "usage", "family_dense": "dense"}
#: Assertions under which a code is not the patient's current problem.
NOT_PATIENT: frozenset[Assertion] = frozenset({"negated", "family"})


FEATURE_DECIMALS = 4
#: Evidence weaker than this share of a code's strongest is not shown, nor does it set the assertion.
EVIDENCE_FLOOR = 0.5


def strength(c: Candidate) -> float:
    """How directly one candidate names its code: a spelled-out term beats a co-occurring phrase."""
    if c.channel == "exact":
        return 1.0
    if c.channel == "fuzzy":
        return 0.9 * c.similarity
    if c.channel == "usage":
        return c.similarity
    if c.channel == "cooccurrence":
        return 0.3 * c.similarity
    return max(0.0, c.similarity - 0.3)


@dataclass
class CodeCandidates:
    """All candidates of one code in one note, and the features the ranker reads."""

    system: System
    code: str  # normalized key (no dot)
    candidates: list[Candidate] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    def evidence(self) -> list[Candidate]:
        """The candidates worth showing, strongest first: those near the best one's strength."""
        ranked = sorted(self.candidates, key=lambda c: (-strength(c), c.mention.start, c.mention.end))
        floor = EVIDENCE_FLOOR * strength(ranked[0]) if ranked else 0.0
        return [c for c in ranked if strength(c) >= floor]

    @property
    def assertion(self) -> Assertion:
        """The assertion of the shown evidence: present beats possible beats historical … beats family.

        Weak evidence does not count, so a co-occurring phrase elsewhere cannot make a denied
        "chest pain" present.
        """
        order: tuple[Assertion, ...] = ("present", "possible", "historical", "hypothetical", "negated", "family")
        seen = {c.mention.assertion for c in self.evidence()}
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


def featurize(group_: CodeCandidates, *, usage: Usage, billable: bool, prefix: bool,
              neighbors: dict[tuple[System, str], float] | None = None) -> dict[str, float]:
    """The feature vector of one code in one note; `neighbors` weighs codes of similar coded notes."""
    near = neighbors or {}
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
    assertions = {c.mention.assertion for c in group_.evidence()}
    features = {
        "exact": best["exact"],
        "exact_description": best["exact_description"],
        "fuzzy": best["fuzzy"],
        "usage": best["usage"],
        "usage_spans": math.log1p(len(usage_spans)),
        "cooccurrence": best["cooccurrence"],
        "dense": max(0.0, best["dense"] - 0.5),
        "dense_rank": dense_rank,
        "prior": math.log(max(usage.prior(group_.system, group_.code),
                              *(c.features.get("prior", 0.0) for c in group_.candidates))),
        "billable": float(billable),
        "prefix": float(prefix),
        "channels": float(len({c.channel for c in group_.candidates})),
        "mentions": math.log1p(len(spans)),
        "negated_only": float(assertions <= {"negated"}),
        "family_only": float(assertions <= {"family"}),
        "uncertain_only": float(assertions <= {"possible", "hypothetical"}),
        "neighbors": max(near.get((group_.system, group_.code), 0.0),
                         near.get((group_.system, family(group_.system, group_.code)), 0.0)
                         if group_.system == "ICD-10-PCS" else 0.0),
    }
    # Rounded: the encoder's last digits depend on how texts were batched, and a tree split must not
    # flip on them (suggest_many(notes) has to agree with suggest(note) for each note).
    return {name: round(value, FEATURE_DECIMALS) for name, value in features.items()}


def family(system: str, code: str) -> str:
    """The code's family: its ICD-10-CM category (3 characters) or its PCS 4-character prefix."""
    return code[:3] if system == "ICD-10-CM" else code[:PCS_PREFIX]


def add_family_features(groups: list[CodeCandidates]) -> None:
    """Share evidence within families: "diabetes" found for E11.9 also speaks for E11.65, and a
    4-character PCS prefix (what CodiEsp's coders often wrote) gathers all its full codes."""
    best: dict[tuple[str, str], dict[str, float]] = {}
    size: dict[tuple[str, str], int] = defaultdict(int)
    for g in groups:
        key = (g.system, family(g.system, g.code))
        size[key] += 1
        slot = best.setdefault(key, {})
        for name, channel in _FAMILY_OF.items():
            slot[name] = max(slot.get(name, 0.0), g.features.get(channel, 0.0))
    for g in groups:
        key = (g.system, family(g.system, g.code))
        g.features.update(best[key])
        g.features["family_size"] = math.log1p(size[key])


class Ranker:
    """Per-system gradient-boosted trees over `FEATURES`; a logistic fallback for other systems.

    Saved as a self-describing folder: `card.json` (features, fallback weights, what it was fitted
    on) beside one LightGBM model file per system.
    """

    def __init__(self, boosters: dict[str, Any], *, fallback: dict[str, float], fallback_bias: float,
                 card: dict[str, Any] | None = None, source: str = "") -> None:
        unknown = set(fallback) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown ranker features: {sorted(unknown)}")
        self.boosters = boosters
        self.fallback = {f: float(fallback.get(f, 0.0)) for f in FEATURES}
        self.fallback_bias = float(fallback_bias)
        self.card = card or {}
        self.source = source

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        """The ranker saved in folder `path`, else the one shipped with medcode."""
        import lightgbm as lgb

        folder = path or cls.shipped()
        card = json.loads((folder / "card.json").read_text())
        if tuple(card["features"]) != FEATURES:
            raise MedcodeError(ErrorCode.RANKER_STALE, path=folder)
        boosters = {system: lgb.Booster(model_file=str(folder / name)) for system, name in card["models"].items()}
        return cls(boosters, fallback=card["fallback"]["weights"], fallback_bias=card["fallback"]["bias"], card=card,
                   source=str(folder))

    @staticmethod
    def shipped() -> Path:
        """The folder of the ranker that comes with medcode."""
        return Path(str(resources.files("nlp").joinpath("resources", "ranker")))

    def save(self, folder: Path, **card: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        models = {}
        for system, booster in self.boosters.items():
            name = system.lower().replace("-", "") + ".txt"
            booster.save_model(str(folder / name))
            models[system] = name
        body = {**self.card, **card, "features": list(FEATURES), "models": models,
                "fallback": {"weights": self.fallback, "bias": self.fallback_bias}}
        (folder / "card.json").write_text(json.dumps(body, indent=2))

    def score(self, system: str, rows: list[dict[str, float]]) -> list[float]:
        """The probability-like score of each feature row of one system's codes."""
        if not rows:
            return []
        booster = self.boosters.get(system)
        if booster is not None:
            matrix = np.array([[r.get(f, 0.0) for f in FEATURES] for r in rows], dtype=np.float64)
            return [float(v) for v in booster.predict(matrix, num_threads=1)]
        out = []
        for r in rows:
            z = self.fallback_bias + sum(self.fallback[f] * r.get(f, 0.0) for f in FEATURES)
            out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
        return out
