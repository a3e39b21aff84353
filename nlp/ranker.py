"""The ranker: per-system gradient-boosted trees that score each code of a note, their calibration, and
the sibling discount that orders a note's codes for a coder.

The trees are fitted on CodiEsp train and dev by `medcode tune` (shipped in `nlp/resources/ranker/`, and
fitted on train alone in `nlp/resources/ranker/train/`); the
calibrated score reads as the probability that a coder assigns the code.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from codesets.usage import family
from medcode.errors import ErrorCode, MedcodeError
from nlp.evidence import DEFAULT_RANKING, CodeCandidates
from nlp.features import FEATURES


class Ranker:
    """Per-system gradient-boosted trees over `FEATURES` (one booster, or several whose scores are
    averaged), a calibration map per system, and a logistic fallback (the hand-set ranking) for
    systems without trees.

    Saved as a self-describing folder: `card.json` (features, objective, calibration, fallback
    weights, what it was fitted on) beside the LightGBM model files of each system. `score` orders codes;
    `calibrate` turns a (sibling-discounted) score into the probability that a coder accepts the code.
    """

    def __init__(self, boosters: dict[str, Any | list[Any]], *, fallback: dict[str, float], fallback_bias: float,
                 card: dict[str, Any] | None = None, source: str = "",
                 calibration: dict[str, tuple[list[float], list[float]]] | None = None,
                 clip: float = DEFAULT_RANKING.score_clip, threads: int = 1) -> None:
        """clip: margins are clipped to ±clip before the logistic squash (`RankingSettings.score_clip`);
        threads: LightGBM's threads when scoring (`Settings.threads`; 0: OpenMP's default, every core)."""
        unknown = set(fallback) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown ranker features: {sorted(unknown)}")
        self.boosters: dict[str, list[Any]] = {s: b if isinstance(b, list) else [b] for s, b in boosters.items()}
        self.fallback = {f: float(fallback.get(f, 0.0)) for f in FEATURES}
        self.fallback_bias = float(fallback_bias)
        self.card = card or {}
        self.source = source
        self.objective = str(self.card.get("objective", "binary"))
        self.calibration = calibration or {}
        self.clip = clip
        self.threads = threads
        # The features the trees were fitted on, by name: a ranker keeps working when features are added.
        self.features: tuple[str, ...] = tuple(self.card.get("features", FEATURES))
        self._row = operator.itemgetter(*self.features)

    @classmethod
    def load(cls, path: Path | None = None, *, clip: float = DEFAULT_RANKING.score_clip, threads: int = 1) -> Ranker:
        """The ranker saved in folder `path`, else the one shipped with medcode."""
        import lightgbm as lgb

        folder = path or cls.shipped()
        card = json.loads((folder / "card.json").read_text())
        if not set(card["features"]) <= set(FEATURES):
            raise MedcodeError(ErrorCode.RANKER_STALE, path=folder)
        boosters = {system: [lgb.Booster(model_file=str(folder / name)) for name in ([names] if isinstance(names, str)
                                                                                    else names)]
                    for system, names in card["models"].items()}
        calibration = {system: (c["x"], c["y"]) for system, c in card.get("calibration", {}).items()}
        return cls(boosters, fallback=card["fallback"]["weights"], fallback_bias=card["fallback"]["bias"], card=card,
                   source=str(folder), calibration=calibration, clip=clip, threads=threads)

    @classmethod
    def hand_set(cls) -> Ranker:
        """The hand-set logistic ranking the engine started from (no trees, no calibration): the baseline."""
        card = json.loads((cls.shipped() / "card.json").read_text())
        return cls({}, fallback=card["fallback"]["weights"], fallback_bias=card["fallback"]["bias"],
                   card={"objective": "hand-set"}, source="hand-set")

    @staticmethod
    def shipped(splits: Sequence[str] = ("train", "dev")) -> Path:
        """The folder of the ranker that comes with medcode for the CodiEsp `splits` it was fitted on: train
        and dev (what the engine runs), or train alone (what `medcode eval` measures dev with)."""
        root = Path(str(resources.files("nlp").joinpath("resources", "ranker")))
        return root / "train" if list(splits) == ["train"] else root

    @staticmethod
    def newest(data_dir: Path, splits: Sequence[str] | None = None) -> Path | None:
        """The newest ranker `medcode train` wrote under data_dir/models/ranker/<version>/ (names sort
        by date), else an unversioned one there (older `medcode tune`), else None. With `splits`, only
        one fitted on those CodiEsp splits (a card without them was fitted on train)."""
        root = data_dir / "models" / "ranker"
        found = sorted(p for p in root.glob("*") if (p / "card.json").exists()) if root.exists() else []
        if (root / "card.json").exists():
            found.insert(0, root)
        if splits is not None:
            found = [p for p in found if fitted_on(p) == list(splits)]
        return found[-1] if found else None

    def save(self, folder: Path, **card: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        models = {}
        for system, members in self.boosters.items():
            slug = system.lower().replace("-", "")
            models[system] = [f"{slug}.txt" if i == 0 else f"{slug}-{i + 1}.txt" for i in range(len(members))]
            for booster, name in zip(members, models[system], strict=True):
                booster.save_model(str(folder / name))
        features = list(self.features) if self.boosters else list(FEATURES)
        body = {**self.card, **card, "objective": self.objective, "features": features, "models": models,
                "calibration": {s: {"x": list(x), "y": list(y)} for s, (x, y) in self.calibration.items()},
                "fallback": {"weights": self.fallback, "bias": self.fallback_bias}}
        (folder / "card.json").write_text(json.dumps(body, indent=2))

    def score(self, system: str, rows: list[dict[str, float]]) -> list[float]:
        """The ordering score in [0, 1] of each feature row of one system's codes (uncalibrated)."""
        if not rows:
            return []
        members = self.boosters.get(system)
        if members:
            try:  # every row carries every feature once the note features are added
                matrix = np.array([self._row(r) for r in rows], dtype=np.float64).reshape(len(rows), -1)
            except KeyError:
                matrix = np.array([[r.get(f, 0.0) for f in self.features] for r in rows], dtype=np.float64)
            return self.averaged(members, matrix, self.objective, clip=self.clip, threads=self.threads).tolist()
        out = []
        for r in rows:
            z = self.fallback_bias + sum(self.fallback[f] * r.get(f, 0.0) for f in FEATURES)
            out.append(1.0 / (1.0 + math.exp(-max(-self.clip, min(self.clip, z)))))
        return out

    @classmethod
    def averaged(cls, members: list[Any], matrix: np.ndarray, objective: str, *,
                 clip: float = DEFAULT_RANKING.score_clip, threads: int = 1) -> np.ndarray:
        """The members' `squash`ed scores of each row of `matrix`, averaged: an ensemble's score. Rows are
        scored apart, so any number of `threads` gives the same scores."""
        scores = [cls.squash(b.predict(matrix, num_threads=threads), objective, clip=clip) for b in members]
        return scores[0] if len(scores) == 1 else np.mean(scores, axis=0)

    @staticmethod
    def squash(raw: np.ndarray, objective: str, *, clip: float = DEFAULT_RANKING.score_clip) -> np.ndarray:
        """A booster's output as an ordering score in [0, 1]."""
        # A ranking objective's raw score is a margin: squash it, monotonically, into (0, 1).
        if objective == "binary":
            return np.asarray(raw, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -clip, clip)))

    def calibrate(self, system: str, scores: list[float]) -> list[float]:
        """P(a coder accepts the code) for each score, by the system's calibration map (identity without one)."""
        curve = self.calibration.get(system)
        if curve is None or not scores:
            return scores
        return [float(v) for v in np.interp(np.asarray(scores, dtype=np.float64), curve[0], curve[1])]


def diversify(groups: list[CodeCandidates], ranker: Ranker, discount: Mapping[str, float]) -> list[CodeCandidates]:
    """Best first, each further code of a family (PCS 4-character prefix, CM category) discounted
    (`discount`: the factor per system), so one procedure does not fill the top ranks with its approach
    variants; then calibrated by `ranker`."""
    groups.sort(key=lambda g: (-g.score, g.system, g.code))
    seen: dict[tuple[str, str], int] = {}
    for g in groups:
        key = (g.system, family(g.system, g.code))
        g.score *= discount.get(g.system, 1.0) ** seen.get(key, 0)
        seen[key] = seen.get(key, 0) + 1
    # Calibrated after the discount, so the score shown is P(a coder accepts) as ranked.
    for system in {g.system for g in groups}:
        mine = [g for g in groups if g.system == system]
        for g, p in zip(mine, ranker.calibrate(system, [g.score for g in mine]), strict=True):
            g.score = p
    groups.sort(key=lambda g: (-g.score, g.system, g.code))
    return groups


def fitted_on(folder: Path) -> list[str]:
    """The CodiEsp splits the ranker saved in `folder` was fitted on (train, for cards older than the field)."""
    return list(json.loads((folder / "card.json").read_text()).get("corpus_splits", ["train"]))
