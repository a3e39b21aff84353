"""Fit the reranker on CodiEsp train, out of fold; tuned on train (or on dev), measured on dev.

Usage rules mined from a note's own codes would make every feature look perfect, so train is cut
into folds: each fold is ranked with usage, similar notes and the note classifier from the other
folds only, and one booster per system is fitted on all the out-of-fold candidates (label: a coder
assigned the code).
By default (`rerank.tune_on = "train"`) the number of trees is chosen by early stopping inside
train's folds and the calibration is fitted on train's out-of-fold scores, so dev is never seen
before it is measured; `tune_on = "dev"` early-stops and calibrates on dev instead. Rows are cached as `.npz`
under data_dir/cache, keyed by the index, the features and the notes, so a refit skips the NLP.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from codesets.lexicon import Lexicon
from codesets.types import normalize_code
from codesets.usage import PCS_PREFIX, CodedNote, mine, read_codiesp
from codesets.words import CodeWords
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from nlp.ranking import FEATURES, CodeCandidates, Ranker, family
from nlp.resolve import Resolver
from training import calibration, reranker
from training.evaluate import codiesp_form, engine_rates
from training.reranker import Rows

if TYPE_CHECKING:
    from codesets.neighbors import Neighbors
    from nlp.coder import Coder

SYSTEMS = ("ICD-10-CM", "ICD-10-PCS")
#: (system, code) -> label, or None for a candidate that carries no label.
Labeler = Callable[[CodeCandidates], "float | None"]


def is_assigned(system: str, code: str, gold: set[str]) -> float:
    """1.0 when coders wrote this code or a shorter form of it (PCS 4-character prefix, CM category or
    subcategory) among the CodiEsp-form `gold` codes: the code then carries that form's evidence."""
    key = normalize_code(code)
    shorter = [key[:PCS_PREFIX]] if system == "ICD-10-PCS" else [key[:n] for n in range(3, len(key))]
    return float(any(codiesp_form(system, k) in gold for k in (key, *shorter)))


def label(g: CodeCandidates, note: CodedNote) -> float:
    """1.0 when coders gave the note this code, or a shorter form of it."""
    return is_assigned(g.system, g.code, {codiesp_form(s, c) for s, c in note.codes if s == g.system})


def relabel(rows: dict[str, Rows], notes: Sequence[CodedNote]) -> dict[str, Rows]:
    """The rows with labels recomputed from the notes' gold codes (`note` indexes `notes`), so a
    change of what counts as assigned needs no new pass of the engine."""
    for system, r in rows.items():
        gold = [{codiesp_form(s, c) for s, c in n.codes if s == system} for n in notes]
        r.y = np.array([is_assigned(system, str(c), gold[int(i)]) for c, i in zip(r.code, r.note, strict=True)])
    return rows


def candidate_rows(coder: Coder, texts: Sequence[str], labelers: Sequence[Callable[[CodeCandidates], float]],
                   *, notes: Sequence[int], weigh: Callable[[int, CodeCandidates], float] | None = None,
                   batch: int = 32, every_code: bool = False) -> dict[str, list[tuple]]:
    """Per system, (features, label, note, weight, code) of every candidate of every text (`every_code`:
    also the codes the engine leaves unranked, as rows to fit on; without it, the rows the engine ranks)."""
    out: dict[str, list[tuple]] = defaultdict(list)
    for i in range(0, len(texts), batch):
        ranked = coder.rank(list(texts[i : i + batch]), every_code=every_code)
        for j, groups in enumerate(ranked):
            k = i + j
            for g in groups:
                out[g.system].append(([g.features[f] for f in FEATURES], labelers[k](g), notes[k],
                                      weigh(k, g) if weigh else 1.0, g.code))
    return out


def as_rows(raw: dict[str, list[tuple]]) -> dict[str, Rows]:
    """The row tuples of `candidate_rows` as arrays, rows of each note kept together in note order."""
    rows = {}
    for system, items in raw.items():
        items = sorted(items, key=lambda t: t[2])  # stable: a note's candidates keep their order
        rows[system] = Rows.build(*(list(col) for col in zip(*items, strict=True))) if items else Rows.empty()
    return rows


def out_of_fold_rows(coder: Coder, notes: list[CodedNote], *, folds: int, console: Console,
                     similar: Neighbors | None = None) -> dict[str, Rows]:
    """Per system, the rows of every candidate of every note, each fold (notes i with i % folds == k) ranked
    with usage, similar notes and the note classifier taken from the other folds only. `similar`: the
    notes embedded in order (default: the index's, which are CodiEsp train's)."""
    # The index's own terms (code sets and knowledge sources), without the usage rules mined from all of train.
    base_terms = [t for t in coder.index.lexicon.terms if t.kind not in ("usage", "cooccurrence")]
    related = CodeWords(coder.codesets)
    finder = coder.nlp.get_pipe("medcode_mentions")
    from codesets.classifier import fit as fit_classifier
    from serving.indexing import background_texts, classifier_params

    full = (finder.lexicon, coder.index.usage, coder.resolver, coder.index.neighbors, coder.index.classifier)
    background, params = background_texts(coder.settings), classifier_params(coder.settings)
    if similar is None:
        # The index's similar notes are CodiEsp train in corpus order; a limited run uses the first ones.
        if len(full[3]) < len(notes):
            raise MedcodeError(ErrorCode.INDEX_STALE, path=coder.index.path)
        similar = full[3].subset(range(len(notes)))
    raw: dict[str, list[tuple]] = defaultdict(list)
    try:
        for k in range(folds):
            held = [i for i in range(len(notes)) if i % folds == k]
            rest = [i for i in range(len(notes)) if i % folds != k]
            usage = mine([notes[i] for i in rest], related=related, source=f"fold {k}")
            finder.lexicon = Lexicon([*base_terms, *usage.rules])
            coder.index.usage = usage
            coder.index.neighbors = similar.subset(rest)
            coder.index.classifier = fit_classifier([notes[i] for i in rest], background=background, **params)
            coder.resolver = Resolver(coder.codesets, usage)
            # Every code, also those the engine leaves unranked: fitted with them as negatives, the PCS
            # trees rank dev 0.010 MAP better (0.485 against 0.475) than fitted on the ranked codes alone.
            part = candidate_rows(coder, [notes[i].text for i in held],
                                  [(lambda g, n=notes[i]: label(g, n)) for i in held], notes=held, every_code=True)
            for system, items in part.items():
                raw[system].extend(items)
            console.print(f"fold {k + 1}/{folds}: {sum(map(len, raw.values()))} candidates so far")
    finally:
        finder.lexicon, coder.index.usage, coder.resolver, coder.index.neighbors, coder.index.classifier = full
    return as_rows(raw)


def rows_stamp(coder: Coder, notes: Sequence[CodedNote], **more: Any) -> dict[str, Any]:
    """What a rows cache depends on: the index, the features, the notes and how rows are built."""
    digest = hashlib.sha256("\x00".join(f"{n.id}\x01{n.text}" for n in notes).encode()).hexdigest()[:16]
    return {"index": coder.index.manifest.get("built"), "encoder": coder.index.manifest["encoder"]["fingerprint"],
            "note_encoder": [coder.encoder.fingerprint(), coder.encoder.int8, coder.encoder.batch_tokens],
            "features": list(FEATURES), "rows": reranker.ROWS_VERSION, "notes": digest,
            "candidates": [coder.settings.ranking.dense_k, coder.settings.ranking.dense_floor,
                           coder.settings.ranking.dense_ef], **more}


def cached_rows(path: Path, stamp: dict[str, Any], build: Callable[[], dict[str, Rows]]) -> dict[str, Rows]:
    """Rows from the cache at `path` when built from `stamp`, else built now and cached."""
    rows = reranker.load_rows(path, stamp)
    if rows is None:
        rows = build()
        reranker.save_rows(path, rows, stamp)
    return rows


def discounted(scores: np.ndarray, rows: Rows, system: str, discount: float) -> np.ndarray:
    """The scores after the engine's sibling discount (`Coder._diversify`), note by note."""
    out = np.asarray(scores, dtype=np.float64).copy()
    if discount == 1.0:
        return out
    start = 0
    for size in reranker.group_sizes(rows.note):
        idx = np.arange(start, start + size)
        order = sorted(idx, key=lambda i: (-out[i], rows.code[i]))
        seen: dict[str, int] = defaultdict(int)
        for i in order:
            key = family(system, str(rows.code[i]))
            out[i] *= discount ** seen[key]
            seen[key] += 1
        start += size
    return out


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
    for system in SYSTEMS:
        if system not in train or train[system].y.max() <= 0:
            continue
        opts = settings.rerank
        opts = opts.model_copy(update={"num_leaves": opts.system_leaves.get(system, opts.num_leaves)})
        started = time.perf_counter()
        discount = settings.ranking.sibling_discount.get(system, 1.0)
        if opts.tune_on == "train":
            crossed = reranker.cross_fit(train[system], opts, folds=opts.folds)
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


def read_split(settings: Settings, split: str) -> list[CodedNote]:
    """CodiEsp `split` notes, or E030 when the corpus is missing."""
    path = settings.corpus_dir / split
    if not path.exists():
        raise MedcodeError(ErrorCode.CORPUS_MISSING, path=path)
    return read_codiesp(path, split=split)


def tune_ranker(settings: Settings, *, decisions: Sequence[Path] = (), console: Console | None = None,
                train_limit: int | None = None, dev_limit: int | None = None) -> Tuned:
    """Fit, calibrate and save a new ranker version under data_dir/models/ranker/<version>/."""
    from nlp.coder import Coder
    from training.decisions import decision_rows

    console = console or Console(stderr=True)
    opts = settings.rerank
    train_notes = read_split(settings, "train")[:train_limit]
    dev_notes = read_split(settings, "dev")[:dev_limit]
    coder = Coder.load(settings, ranker=Ranker.hand_set())  # features only: any ranker will do
    cache = settings.data_dir / "cache"
    train = cached_rows(cache / "rows-train-oof.npz", rows_stamp(coder, train_notes, folds=opts.folds),
                        lambda: out_of_fold_rows(coder, train_notes, folds=opts.folds, console=console))
    dev = cached_rows(cache / "rows-dev.npz", rows_stamp(coder, dev_notes),
                      lambda: as_rows(candidate_rows(coder, [n.text for n in dev_notes],
                                                     [(lambda g, n=n: label(g, n)) for n in dev_notes],
                                                     notes=list(range(len(dev_notes))))))
    train, dev = relabel(train, train_notes), relabel(dev, dev_notes)
    sources = [f"CodiEsp train, {len(train_notes)} notes, {opts.folds}-fold out-of-fold candidates"]
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
    rates = engine_rates(coder)
    metrics["dev_map"] = dev_map(ranker, dev, dev_notes, settings, rates)
    ranker.save(folder, trained=datetime.now(UTC).isoformat(timespec="seconds"), data=sources,
                early_stopping_and_calibration=(f"CodiEsp train, {opts.folds}-fold cross-validation"
                                                if opts.tune_on == "train" else f"CodiEsp dev, {len(dev_notes)} notes"),
                measured_on=f"CodiEsp dev, {len(dev_notes)} notes",
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
    from training.evaluate import ranked_scores, score

    out = {}
    for system, rows in dev.items():
        if system not in SYSTEMS:
            continue
        raw = np.asarray(ranker.score(system, [dict(zip(FEATURES, r, strict=True)) for r in rows.x]))
        final = np.asarray(ranker.calibrate(system, list(discounted(
            raw, rows, system, settings.ranking.sibling_discount.get(system, 1.0)))))
        rankings = ranked_scores(len(notes), rows.note, rows.code, final, system)
        out[system] = round(score(notes, rankings, system, rates.get(system)).map, 4)
    return out
