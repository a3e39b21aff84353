"""`medcode train`: everything the engine learns, from a clean clone, in one command.

Steps, each timed: the baseline figures (base encoder, hand-set ranking) → the encoder fine-tune
(`training.encoder.fine_tune`) → the index rebuild when the encoder changed → the query encoder distilled
from the index's encoder for note clauses (`training.distill`, unless one for it exists) → the reranker (out of
fold on the CodiEsp splits of `corpus_splits`, train and dev by default, plus coder decisions; its size and
calibration chosen within their folds, or on dev with `rerank.tune_on = "dev"`) → the evaluation report on
dev, measured against models fitted without dev (so with the default splits against the newest ranker fitted
on train alone: run with MEDCODE_CORPUS_SPLITS='["train"]' for a report on what this run fitted).
Artefacts go to versioned, self-describing folders under data_dir/models/, and the engine loads the newest
by default.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings


@dataclass(frozen=True)
class TrainOptions:
    """What `medcode train` does; the limits make tiny runs for tests and smoke checks."""

    skip_encoder: bool = False
    skip_distill: bool = False
    decisions: tuple[Path, ...] = ()
    report: Path | None = None
    train_limit: int | None = None
    dev_limit: int | None = None
    encoder_options: dict[str, Any] = field(default_factory=dict)
    distill_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """One timed step and what it produced."""

    name: str
    seconds: float = 0.0
    detail: str = ""


@dataclass
class TrainResult:
    """The steps run and where their artefacts are."""

    steps: list[Step] = field(default_factory=list)
    encoder: Path | None = None
    query_encoder: Path | None = None
    ranker: Path | None = None
    report: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def _run(result: TrainResult, name: str, console: Console, work: Callable[[], str]) -> None:
    """Run one step under a spinner, time it, and record it."""
    step = Step(name)
    started = time.perf_counter()
    console.rule(f"[bold]{name}")
    with console.status(f"{name} …"):
        try:
            step.detail = work()
        except MedcodeError:
            raise
        except (ImportError, ValueError, RuntimeError, OSError) as e:
            raise MedcodeError(ErrorCode.TRAINING_FAILED, step=name, detail=f"{type(e).__name__}: {e}") from e
    step.seconds = time.perf_counter() - started
    console.print(f"[green]✓[/green] {name}: {step.detail} [dim]({step.seconds:.1f} s)[/dim]")
    result.steps.append(step)


def baseline_path(settings: Settings, split: str = "dev") -> Path:
    """Where the figures of the untrained engine (base encoder, hand-set ranking) are kept."""
    return settings.data_dir / "models" / f"baseline-{split}.json"


def train(settings: Settings, options: TrainOptions = TrainOptions(), *, console: Console | None = None) -> TrainResult:
    """Run every step; returns what was written. Errors are MedcodeErrors naming the step."""
    from codesets.build import build_index

    console = console or Console(stderr=True)
    result = TrainResult()

    def baseline() -> str:
        from training.evaluate import baseline_summary

        summary = baseline_summary(settings, dev_limit=options.dev_limit)
        if summary is None:
            return "skipped: the index was not built with the base encoder"
        path = baseline_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary.to_json(), indent=2))
        return (f"MAP D {summary.systems['ICD-10-CM'].map:.3f}, P {summary.systems['ICD-10-PCS'].map:.3f} "
                f"-> {path.name}")

    def encoder() -> str:
        try:
            from training.encoder import fine_tune
        except ImportError as e:
            raise MedcodeError(ErrorCode.TRAINING_FAILED, step="encoder",
                               detail=f"training.encoder is not available ({e}); use --skip-encoder") from e
        def progress(step: int, total: int, loss: float) -> None:
            if step % 50 == 0 or step == total:
                console.print(f"  encoder step {step}/{total}, loss {loss:.4f}")

        result.encoder = Path(fine_tune(settings, progress=progress, **options.encoder_options))
        return f"-> {result.encoder}"

    def index() -> str:
        path, built = build_index(settings, console=console)
        return f"{'rebuilt' if built else 'up to date'}: {path}"

    def query_encoder() -> str:
        from training.distill import distill_from_settings, up_to_date

        current = up_to_date(settings)
        if current is not None and not options.distill_options:
            result.query_encoder = current
            return f"up to date: {current}"

        def progress(step: int, total: int, loss: float) -> None:
            if step % 200 == 0:
                console.print(f"  query encoder step {step}, loss {loss:.4f}")

        result.query_encoder = distill_from_settings(settings, progress=progress, **options.distill_options)
        return f"-> {result.query_encoder}"

    def ranker() -> str:
        from training.tune import tune_ranker

        tuned = tune_ranker(settings, decisions=options.decisions, console=console,
                            train_limit=options.train_limit, dev_limit=options.dev_limit)
        result.ranker, result.metrics = tuned.path, tuned.metrics
        ece = ", ".join(f"{s} {m['ece_dev']:.3f}" for s, m in tuned.metrics.items()
                        if isinstance(m, dict) and "ece_dev" in m)
        dev = tuned.metrics.get("dev_map", {})
        return (f"dev MAP (cached rows) D {dev.get('ICD-10-CM', 0):.3f}, P {dev.get('ICD-10-PCS', 0):.3f}; "
                f"calibrated ECE {ece} -> {tuned.path}")

    def report() -> str:
        from training.evaluate import report_codiesp

        assert options.report is not None  # the step runs only with a report folder
        path = report_codiesp(settings, options.report, split="dev", limit=options.dev_limit,
                              before=baseline_path(settings), console=console)
        result.report = path
        return f"-> {path}"

    started = time.perf_counter()
    if options.report is not None:
        _run(result, "baseline", console, baseline)
    if not options.skip_encoder:
        _run(result, "encoder", console, encoder)
        _run(result, "index", console, index)
    if not options.skip_distill:
        _run(result, "query encoder", console, query_encoder)
    _run(result, "ranker + calibration", console, ranker)
    if options.report is not None:
        _run(result, "report", console, report)
    console.rule(f"[bold]done in {time.perf_counter() - started:.1f} s")
    return result


def step_names(options: TrainOptions) -> Sequence[str]:
    """The steps `train` runs for `options`, in order."""
    names = ["baseline"] if options.report is not None else []
    names += [] if options.skip_encoder else ["encoder", "index"]
    names += [] if options.skip_distill else ["query encoder"]
    names += ["ranker + calibration"]
    return [*names, "report"] if options.report is not None else names
