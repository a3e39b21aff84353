"""CodiEsp evaluation: run the engine over a split and score it (`medcode eval codiesp`, its report).

The metrics themselves (CodiEsp's MAP, the CodiEsp form of ranked codes) are in `training.metrics`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console

from codesets.usage import CodedNote
from medcode.settings import Settings
from nlp.evidence import CodeCandidates
from training.metrics import Ranked, RunSummary, Score, engine_rates, ranked_scores, score

if TYPE_CHECKING:
    from nlp.coder import Coder


@dataclass(frozen=True)
class Report:
    """What `medcode eval codiesp` prints."""

    split: str
    notes: int
    diagnoses: Score
    procedures: Score
    seconds: float


@contextmanager
def held_out(coder: Coder, split: str | None, *, limit: int | None = None) -> Iterator[Coder]:
    """`coder` as if fitted without CodiEsp `split`: when its index learnt from that split, usage, similar
    notes and the note classifier are refitted from the index's other splits (`limit`: their first notes
    only), and the ranker fitted on those (newest under data_dir, else shipped) scores. Otherwise `coder`."""
    from nlp.ranker import Ranker
    from training.rows import learnt_splits, read_split, refitted_on

    learnt = learnt_splits(coder)
    if split is None or split not in learnt:
        yield coder
        return
    rest = [s for s in learnt if s != split]
    parts = {s: read_split(coder.settings, s)[:limit] for s in rest}
    ranker = Ranker.load(Ranker.newest(coder.settings.data_dir, rest) or Ranker.shipped(rest),
                         clip=coder.settings.ranking.score_clip, threads=coder.settings.threads)
    view = dataclasses.replace(coder, ranker=ranker)
    with refitted_on(view, parts):
        yield view


def fitted_splits(coder: Coder) -> str:
    """The CodiEsp splits the ranker `coder` runs was fitted on, for a report."""
    from nlp.ranker import fitted_on

    source = Path(coder.ranker.source)
    return "+".join(fitted_on(source)) if (source / "card.json").exists() else coder.ranker.source


def evaluate(coder: object, notes: Sequence[CodedNote], *, split: str, batch: int = 32) -> Report:
    """Run the engine over `notes` and score it; `coder` is an `nlp.coder.Coder`."""
    start = time.perf_counter()
    rankings: list[list[CodeCandidates]] = []
    for i in range(0, len(notes), batch):
        rankings.extend(coder.rank([n.text for n in notes[i : i + batch]]))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    rates = engine_rates(coder)
    return Report(split, len(notes), score(notes, rankings, "ICD-10-CM", rates["ICD-10-CM"]),
                  score(notes, rankings, "ICD-10-PCS", rates["ICD-10-PCS"]), elapsed)


def baseline_summary(settings: Settings, *, dev_limit: int | None = None) -> RunSummary | None:
    """The dev figures of the untrained engine (base encoder, hand-set ranking), from feature rows;
    None when the index was built with another encoder (then there is no baseline to measure here)."""
    from codesets.encoder import Encoder
    from codesets.encoder_models import base_encoder_path
    from nlp.coder import Coder
    from nlp.features import FEATURES
    from nlp.ranker import Ranker
    from training.report import summarize
    from training.rows import cached_rows, discounted, note_rows, read_split, rows_stamp

    base = settings.model_copy(update={"index": settings.index.model_copy(update={"encoder": str(base_encoder_path())})})
    index_manifest = json.loads((settings.data_dir / "index" / "manifest.json").read_text())
    if Encoder(base_encoder_path()).fingerprint() != index_manifest["encoder"]["fingerprint"]:
        return None
    notes = read_split(settings, "dev")[:dev_limit]
    with held_out(Coder.load(base, ranker=Ranker.hand_set()), "dev") as coder:
        rows = cached_rows(settings.data_dir / "cache" / "rows-dev-held-out.npz", rows_stamp(coder, notes),
                           lambda: note_rows(coder, notes))
        rates = engine_rates(coder)
    hand = Ranker.hand_set()
    rankings: list[list[Ranked]] = [[] for _ in notes]
    for system, r in rows.items():
        raw = hand.score(system, [dict(zip(FEATURES, x, strict=True)) for x in r.x])
        final = discounted(np.asarray(raw), r, system, settings.ranking.sibling_discount.get(system, 1.0))
        for i, ranked in enumerate(ranked_scores(len(notes), r.note, r.code, final, system)):
            rankings[i].extend(ranked)
    return summarize("before", "base encoder, hand-set ranking", notes, rankings, coder.codesets, rates)


def engine_name(coder: object) -> str:
    """The encoder and ranker a Coder runs, for a report's header."""
    encoder = getattr(coder, "encoder", None)
    ranker = getattr(coder, "ranker", None)
    return f"encoder {getattr(encoder, 'name', '?')}, ranker {getattr(ranker, 'source', '?')}"


def report_codiesp(settings: Settings, out: Path, *, split: str = "dev", limit: int | None = None,
                   before: Path | None = None, coder: object | None = None, console: Console | None = None) -> Path:
    """Evaluate the engine as loaded (newest artefacts) on a CodiEsp split and write the report to `out`.

    `before`: a baseline summary JSON (written by `medcode train`); when missing, the hand-set
    ranking on the same index is measured live, so the report always compares two engines."""
    from nlp.coder import Coder
    from nlp.ranker import Ranker
    from training.report import frequent_misses, summarize, write_report
    from training.rows import read_split

    console = console or Console(stderr=True)
    notes = read_split(settings, split)[:limit]
    runs: list[RunSummary] = []
    if before is not None and before.exists():
        runs.append(RunSummary.from_json(json.loads(before.read_text())))
    after = coder or Coder.load(settings)
    with held_out(after, split) as view:  # type: ignore[arg-type]
        return _report(view, notes, runs, out, split, console)


def _report(after: Coder, notes: Sequence[CodedNote], runs: list[RunSummary], out: Path, split: str,
            console: Console) -> Path:
    from nlp.ranker import Ranker
    from training.report import frequent_misses, summarize, write_report

    rates = engine_rates(after)
    if not runs:
        hand = dataclasses.replace(after, ranker=Ranker.hand_set())  # type: ignore[type-var]
        rankings = _rank_all(hand, notes)
        runs.append(summarize("before", f"hand-set ranking; {engine_name(hand)}", notes, rankings,
                              after.codesets, rates))  # type: ignore[attr-defined]
    rankings = _rank_all(after, notes)
    runs.append(summarize("after", engine_name(after), notes, rankings, after.codesets, rates))  # type: ignore[attr-defined]
    misses = frequent_misses(notes, rankings, after.codesets, rates)  # type: ignore[attr-defined]
    card = getattr(getattr(after, "ranker", None), "card", {}) or {}
    extra = []
    if card.get("metrics"):
        extra = ["## Ranker card", "", "```json", json.dumps({k: card.get(k) for k in (
            "trained", "data", "objective", "metrics")}, indent=2), "```"]
    path = write_report(out, runs, misses, split=split, extra=extra)
    console.print(f"report written: {path}")
    return path


def _rank_all(coder: object, notes: Sequence[CodedNote], batch: int = 32) -> list[list[CodeCandidates]]:
    rankings: list[list[CodeCandidates]] = []
    for i in range(0, len(notes), batch):
        rankings.extend(coder.rank([n.text for n in notes[i : i + batch]]))  # type: ignore[attr-defined]
    return rankings
