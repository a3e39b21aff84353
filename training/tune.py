"""Fit the reranker out of fold on the CodiEsp splits the models learn from (`settings.corpus_splits`: train
and dev by default; train alone keeps dev held out to measure it, as earlier stops did).

One booster per system (or several, averaged) is fitted on all the out-of-fold candidate rows of
those notes (`training.rows`; label: a coder assigned the code).
By default (`rerank.tune_on = "train"`) the number of trees is chosen by early stopping inside
those notes' folds and the calibration is fitted on their out-of-fold scores; `tune_on = "dev"`
(train alone fitted) early-stops and calibrates on dev instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from codesets.usage import CodedNote
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from medcode.types import ICD10_SYSTEMS
from nlp.features import FEATURES
from nlp.ranker import Ranker
from training import calibration, reranker
from training.decisions import decision_rows
from training.metrics import engine_rates, ranked_scores, score
from training.reranker import Rows
from training.rows import (
    cached_rows,
    discounted,
    note_rows,
    oof_rows,
    read_split,
    refitted_on,
    relabel,
    rows_stamp,
    split_notes,
)

if TYPE_CHECKING:
    from nlp.coder import Coder


@dataclass(frozen=True)
class Tuned:
    """What `tune_ranker` wrote and measured."""

    path: Path
    metrics: dict[str, Any]
    reliability: Path | None


def fit_ranker(train: dict[str, Rows], dev: dict[str, Rows], settings: Settings, *,
               console: Console) -> tuple[Ranker, dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Boosters per system and their calibration, tuned as `settings.rerank.tune_on` says; also the
    metrics and the held-out (probability, label) pairs of dev for the reliability plot."""
    boosters, metrics, maps, curves = {}, {}, {}, {}
    for system in ICD10_SYSTEMS:
        if system not in train or train[system].y.max() <= 0:
            continue
        opts = settings.rerank
        opts = opts.model_copy(update={"num_leaves": opts.system_leaves.get(system, opts.num_leaves)})
        started = time.perf_counter()
        discount = settings.ranking.sibling_discount.get(system, 1.0)
        if opts.tune_on == "train":
            try:
                crossed = reranker.cross_fit(train[system], opts, folds=opts.folds)
            except reranker.TooFewPositives:
                # Too few assigned candidates to choose trees: the hand-set ranker keeps scoring this system.
                console.print(f"{system}: {int(train[system].y.sum())} assigned candidates in {len(train[system])} "
                              f"rows, too few for {opts.folds} folds; left to the hand-set ranker")
                continue
            members = reranker.fit_members(train[system], opts, trees=crossed.trees)
            scored = (crossed.oof if opts.members <= 1
                      else reranker.members_oof(train[system], opts, trees=crossed.trees, folds=opts.folds))
            seen = ~np.isnan(scored)
            oof = discounted(np.nan_to_num(scored), train[system], system, discount)[seen]
            curve = calibration.fit(oof, train[system].y[seen], method=opts.calibration)
            metrics[system] = {"trees": crossed.trees, "members": len(members), "num_leaves": opts.num_leaves,
                               "fold_trees": crossed.fold_trees,
                               "fold_metric": [round(m, 4) for m in crossed.fold_metrics if m is not None],
                               "ece_train_oof": round(calibration.ece(curve(oof), train[system].y[seen],
                                                                      bins=opts.ece_bins), 4)}
        else:
            fitted = reranker.fit(train[system], dev.get(system), opts)
            members = [fitted.booster]
            metrics[system] = {"trees": fitted.trees, "dev_metric": fitted.dev_metric}
            curve = None
        boosters[system] = members
        metrics[system].update(train_rows=len(train[system]), train_positives=int(train[system].y.sum()),
                               seconds=round(time.perf_counter() - started, 1), calibration=opts.calibration)
        one = Ranker({system: members}, fallback={}, fallback_bias=0.0, card={"objective": opts.objective})
        rows = dev.get(system)
        if rows is None or len(rows) == 0 or rows.y.max() <= 0:
            if curve is not None:
                maps[system] = (list(curve.x), list(curve.y))
            continue
        raw = np.asarray(one.score(system, [dict(zip(FEATURES, r, strict=True)) for r in rows.x]))
        final = discounted(raw, rows, system, discount)
        if curve is None:
            report, held = calibration.fit_and_measure(final, rows.y, rows.note, method=opts.calibration,
                                                       bins=opts.ece_bins)
            curve, where = report.calibration, "cross-fitted on dev"
        else:
            held, where = curve(final), "fitted on train, measured on dev"
        maps[system] = (list(curve.x), list(curve.y))
        curves[system] = (held, rows.y)
        # Most candidates are near-certain rejections, which flatters ECE: also measure it where a
        # coder looks, each note's first 10.
        top = top_of_note(final, rows.note, 10)
        metrics[system].update(ece_dev=round(calibration.ece(held, rows.y, bins=opts.ece_bins), 4),
                               ece_dev_top10=round(calibration.ece(held[top], rows.y[top], bins=opts.ece_bins), 4),
                               ece_uncalibrated=round(calibration.ece(final, rows.y, bins=opts.ece_bins), 4),
                               calibration_measured=where, dev_rows=len(rows), dev_positives=int(rows.y.sum()))
        console.print(f"{system}: {metrics[system]['trees']} trees, calibrated ECE on dev "
                      f"{metrics[system]['ece_dev']:.4f} ({where})")
    ranker = Ranker(boosters, fallback=Ranker.hand_set().fallback, fallback_bias=Ranker.hand_set().fallback_bias,
                    card={"objective": settings.rerank.objective})
    ranker.calibration = maps
    return ranker, metrics, curves


def top_of_note(scores: np.ndarray, note: np.ndarray, k: int) -> np.ndarray:
    """A mask of the rows among the `k` best scores of their note."""
    mask = np.zeros(len(scores), dtype=bool)
    start = 0
    for size in reranker.group_sizes(note):
        idx = np.arange(start, start + size)
        mask[idx[np.argsort(-scores[idx], kind="stable")[:k]]] = True
        start += size
    return mask


def version_folder(root: Path) -> Path:
    """A new folder under `root` named for the time (UTC), so names sort by date."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder, n = root / stamp, 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{n}"
    return folder


def tune_ranker(settings: Settings, *, decisions: Sequence[Path] = (), console: Console | None = None,
                train_limit: int | None = None, dev_limit: int | None = None) -> Tuned:
    """Fit, calibrate and save a new ranker version under data_dir/models/ranker/<version>/."""
    from nlp.coder import Coder

    console = console or Console(stderr=True)
    opts = settings.rerank
    parts = split_notes(settings, {"train": train_limit, "dev": dev_limit})
    if not parts:
        raise MedcodeError(ErrorCode.CORPUS_MISSING, path=settings.corpus_dir / "train")
    if opts.tune_on == "dev" and "dev" in parts:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="rerank.tune_on=dev needs dev held out of the fit: "
                           "set MEDCODE_CORPUS_SPLITS='[\"train\"]' (and build that index) or tune_on=train.")
    fit_notes = [n for notes in parts.values() for n in notes]
    fitted = "+".join(parts)
    # Dev measures the ranker only when it is not fitted on it; otherwise `medcode eval codiesp --cv K` does.
    dev_notes = [] if "dev" in parts else read_split(settings, "dev")[:dev_limit]
    coder = Coder.load(settings, ranker=Ranker.hand_set())  # features only: any ranker will do
    cache = settings.data_dir / "cache"
    train = relabel(oof_rows(coder, parts, folds=opts.folds, console=console), fit_notes)
    dev: dict[str, Rows] = {}
    dev_rates: dict[str, dict[str, float]] = {}
    if dev_notes:
        # Dev as `medcode eval` sees it: where the index learnt dev too, usage, similar notes and the classifier
        # are refitted without it, once, for dev's rows and for the CodiEsp forms its rankings bring (with the
        # index's own usage the card read 0.007 D / 0.027 P MAP above eval).
        with refitted_on(coder, parts):
            dev = relabel(cached_rows(cache / "rows-dev.npz", rows_stamp(coder, dev_notes, usage_from=fitted),
                                      lambda: note_rows(coder, dev_notes)), dev_notes)
            dev_rates = engine_rates(coder)
    sources = [f"CodiEsp {fitted}, {len(fit_notes)} notes, {opts.folds}-fold out-of-fold candidates"]
    for path in decisions:
        extra, summary = decision_rows(coder, path, weight=opts.decision_weight)
        sources.append(f"coder decisions {path.name}: {summary}")
        for system, rows in extra.items():
            train[system] = train[system] + rows if system in train else rows
    ranker, metrics, curves = fit_ranker(train, dev, settings, console=console)
    folder = version_folder(settings.data_dir / "models" / "ranker")
    title = ("Reliability on dev (calibrated on train, out of fold)" if opts.tune_on == "train"
             else "Reliability on dev (cross-fitted)")
    plot = calibration.reliability_plot({s: c for s, c in curves.items()}, folder / "reliability.png",
                                        bins=opts.ece_bins, title=title) if curves else None
    if dev_notes:
        metrics["dev_map"] = dev_map(ranker, dev, dev_notes, settings, dev_rates)
    ranker.save(folder, trained=datetime.now(UTC).isoformat(timespec="seconds"), data=sources,
                corpus_splits=list(parts),
                early_stopping_and_calibration=(f"CodiEsp {fitted}, {opts.folds}-fold cross-validation"
                                                if opts.tune_on == "train" else f"CodiEsp dev, {len(dev_notes)} notes"),
                measured_on=(f"CodiEsp dev, {len(dev_notes)} notes" if dev_notes else
                             "not on dev, which it is fitted on: `medcode eval codiesp --cv K` measures it"),
                params=reranker.booster_params(opts, member=0 if opts.members > 1 else None),
                members=opts.members, metrics=metrics,
                index=coder.index.manifest.get("codesets"), encoder=coder.index.manifest["encoder"],
                note_encoder={"name": coder.encoder.name, "fingerprint": coder.encoder.fingerprint(),
                              "int8": coder.encoder.int8},
                sibling_discount=settings.ranking.sibling_discount)
    return Tuned(folder, metrics, plot)


def dev_map(ranker: Ranker, dev: dict[str, Rows], notes: Sequence[CodedNote], settings: Settings,
            rates: dict[str, dict[str, float]]) -> dict[str, float]:
    """CodiEsp MAP of the fitted ranker on the cached dev rows (what `medcode eval` would print)."""
    out = {}
    for system, rows in dev.items():
        if system not in ICD10_SYSTEMS:
            continue
        raw = np.asarray(ranker.score(system, [dict(zip(FEATURES, r, strict=True)) for r in rows.x]))
        final = np.asarray(ranker.calibrate(system, list(discounted(
            raw, rows, system, settings.ranking.sibling_discount.get(system, 1.0)))))
        rankings = ranked_scores(len(notes), rows.note, rows.code, final, system)
        out[system] = round(score(notes, rankings, system, rates.get(system)).map, 4)
    return out
