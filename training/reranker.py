"""The learned reranker: gradient-boosted trees over the candidate features, one model per system.

Trained on out-of-fold candidate rows of CodiEsp train (and a site's coder decisions), grouped by
note, with a ranking objective (lambdarank by default: it orders each note's candidates, which is
what MAP scores), early-stopped within train's folds (`cross_fit`) or on CodiEsp dev. Candidates a coder would not assign sink to the
bottom of a note's list and, once calibrated, below the engine's `min_score`: that is how the
ranker learns which candidates to drop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medcode.settings import RerankSettings
from nlp.features import FEATURES
from nlp.ranker import Ranker

#: What the candidate-row caches are keyed on besides their own inputs: change it when the way rows
#: are built changes.
ROWS_VERSION = 3


@dataclass
class Rows:
    """One system's candidate rows: features, label (a coder assigned the code), note, weight, code."""

    x: np.ndarray
    y: np.ndarray
    note: np.ndarray
    weight: np.ndarray
    code: np.ndarray

    @classmethod
    def empty(cls) -> Rows:
        return cls(np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0),
                   np.zeros(0, dtype="<U8"))

    @classmethod
    def build(cls, x: list[list[float]], y: list[float], note: list[int], weight: list[float],
              code: list[str]) -> Rows:
        return cls(np.asarray(x, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(y, dtype=np.float64),
                   np.asarray(note, dtype=np.int64), np.asarray(weight, dtype=np.float64),
                   np.asarray(code, dtype="<U8"))

    def __len__(self) -> int:
        return len(self.y)

    def where(self, mask: np.ndarray) -> Rows:
        """The rows `mask` selects."""
        return Rows(self.x[mask], self.y[mask], self.note[mask], self.weight[mask], self.code[mask])

    def __add__(self, other: Rows) -> Rows:
        """Both row sets; `other`'s notes renumbered after ours so groups never merge."""
        shift = int(self.note.max()) + 1 if len(self) else 0
        return Rows(np.vstack([self.x, other.x]), np.concatenate([self.y, other.y]),
                    np.concatenate([self.note, other.note + shift]), np.concatenate([self.weight, other.weight]),
                    np.concatenate([self.code, other.code]))


def group_sizes(note: np.ndarray) -> list[int]:
    """Sizes of the runs of equal note ids (a note's rows are contiguous)."""
    if len(note) == 0:
        return []
    cuts = np.flatnonzero(np.diff(note)) + 1
    return np.diff(np.concatenate([[0], cuts, [len(note)]])).tolist()


def save_rows(path: Path, rows: dict[str, Rows], stamp: dict[str, Any]) -> None:
    """Cache candidate rows (`.npz`) with the stamp of what they were built from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"stamp": np.array(json.dumps(stamp, sort_keys=True))}
    for system, r in rows.items():
        for name in ("x", "y", "note", "weight", "code"):
            arrays[f"{system}|{name}"] = getattr(r, name)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_rows(path: Path, stamp: dict[str, Any]) -> dict[str, Rows] | None:
    """The cached rows at `path` if they were built from `stamp`, else None."""
    if not path.exists():
        return None
    with np.load(path) as data:
        if str(data["stamp"]) != json.dumps(stamp, sort_keys=True):
            return None
        systems = sorted({k.split("|")[0] for k in data.files if "|" in k})
        return {s: Rows(*(data[f"{s}|{n}"] for n in ("x", "y", "note", "weight", "code"))) for s in systems}


def booster_params(settings: RerankSettings, *, member: int | None = None) -> dict[str, Any]:
    """LightGBM parameters: fixed seed and threads, so a refit gives the same model; `member` (of an
    ensemble, see `fit_members`) samples rows and features with its own seed."""
    params: dict[str, Any] = {
        "objective": settings.objective, "learning_rate": settings.learning_rate, "num_leaves": settings.num_leaves,
        "min_child_samples": settings.min_child_samples, "seed": 0, "deterministic": True, "force_row_wise": True,
        "num_threads": 2, "verbose": -1,
    }
    if member is not None:
        params.update(seed=member, bagging_fraction=settings.bagging_fraction, bagging_freq=1,
                      feature_fraction=settings.feature_fraction)
    if settings.objective == "binary":
        params["metric"] = "binary_logloss"
    else:
        # MAP over each note's first 20 candidates: the ranks CodiEsp's MAP mostly turns on.
        params.update(metric="map", eval_at=[20])
    return params


@dataclass(frozen=True)
class Fit:
    """A fitted booster and how it was stopped."""

    booster: Any
    trees: int
    dev_metric: float | None
    params: dict[str, Any]


def dataset(rows: Rows, settings: RerankSettings, reference: Any = None) -> Any:
    """`rows` as a LightGBM dataset: grouped by note for a ranking objective, features by name."""
    import lightgbm as lgb

    group = group_sizes(rows.note) if settings.objective != "binary" else None
    return lgb.Dataset(rows.x, rows.y, weight=rows.weight, group=group, feature_name=list(FEATURES),
                       reference=reference, free_raw_data=False)


def fit(train: Rows, dev: Rows | None, settings: RerankSettings, *, trees: int | None = None,
        refit: bool = True) -> Fit:
    """Fit one system's booster on `train`, early-stopped on `dev` when given (else `trees`, else
    `max_trees`); `refit=False` keeps the trees grown past the best size (for scoring at other sizes)."""
    import lightgbm as lgb

    if len(train) == 0 or train.y.min() == train.y.max():
        raise ValueError("the reranker needs candidates both assigned and not assigned by coders")
    params = booster_params(settings)
    train_set = dataset(train, settings)
    if dev is not None and len(dev) and dev.y.max() > 0:
        dev_set = dataset(dev, settings, train_set)
        booster = lgb.train(params, train_set, settings.max_trees, valid_sets=[dev_set], valid_names=["dev"],
                            callbacks=[lgb.early_stopping(settings.early_stopping, verbose=False)])
        trees = booster.best_iteration or settings.max_trees
        best = booster.best_score.get("dev", {})
        metric = float(next(iter(best.values()))) if best else None
        if refit:
            # Keep only the trees early stopping chose: the saved model is what was measured.
            booster = lgb.train(params, train_set, trees)
    else:
        trees = trees or settings.max_trees
        booster = lgb.train(params, train_set, trees)
        metric = None
    return Fit(booster, trees, metric, params)


class TooFewPositives(ValueError):
    """No fold of a system's training rows holds both assigned and unassigned candidates."""


@dataclass(frozen=True)
class CrossFit:
    """Trees chosen by early stopping within train's folds, and train's out-of-fold scores at that size."""

    trees: int
    fold_trees: list[int]
    fold_metrics: list[float | None]
    oof: np.ndarray


def cross_fit(train: Rows, settings: RerankSettings, *, folds: int) -> CrossFit:
    """Early-stop one booster per fold (fit on the other folds, stopped on this one), take the mean
    best size, and score every row with the booster that did not see its note: dev stays unseen."""
    fold_of = train.note % folds
    fitted: list[tuple[np.ndarray, Fit]] = []
    for k in range(folds):
        held = fold_of == k
        if not held.any() or held.all() or train.y[held].max() <= 0 or train.y[~held].max() <= 0:
            continue
        fitted.append((held, fit(train.where(~held), train.where(held), settings, refit=False)))
    if not fitted:
        raise TooFewPositives("no fold of train has both assigned and unassigned candidates")
    trees = max(1, round(float(np.mean([f.trees for _, f in fitted]))))
    oof = np.full(len(train), np.nan)  # NaN where a fold was skipped
    for held, f in fitted:
        # Each fold's booster grew past its own best size; score it at the chosen one.
        raw = f.booster.predict(train.x[held], num_iteration=min(trees, f.booster.current_iteration()))
        oof[held] = Ranker.squash(raw, settings.objective)
    return CrossFit(trees, [f.trees for _, f in fitted], [f.dev_metric for _, f in fitted], oof)


def fit_members(train: Rows, settings: RerankSettings, *, trees: int) -> list[Any]:
    """`settings.members` boosters of `trees` trees on `train`, each on its own sample of rows and
    features (one booster on everything when `members` is 1)."""
    if settings.members <= 1:
        return [fit(train, None, settings, trees=trees).booster]
    import lightgbm as lgb

    data = dataset(train, settings)
    return [lgb.train(booster_params(settings, member=m), data, trees) for m in range(settings.members)]


def members_oof(train: Rows, settings: RerankSettings, *, trees: int, folds: int) -> np.ndarray:
    """Train's out-of-fold scores of an ensemble (`fit_members` on the other folds), as the engine
    averages them: what its calibration is fitted on."""
    fold_of = train.note % folds
    oof = np.full(len(train), np.nan)
    for k in range(folds):
        held = fold_of == k
        if not held.any() or train.y[~held].max() <= 0:
            continue
        members = fit_members(train.where(~held), settings, trees=trees)
        oof[held] = Ranker.averaged(members, train.x[held], settings.objective)
    return oof
