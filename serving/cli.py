"""The `medcode` command line: suggest, batch, eval, index, tune.

Errors a user can meet print one line (`error E001: The note is empty.`) and exit non-zero.
Note text never reaches a log line or an error message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings

app = typer.Typer(help="medcode: ranked ICD-10-CM / ICD-10-PCS suggestions with evidence.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
index_app = typer.Typer(help="Build or inspect the code-set index.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure accuracy on a coded corpus.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
err = Console(stderr=True)

TopOpt = Annotated[Optional[int], typer.Option("--top", min=1, help="How many suggestions per note (default 50).")]
NegatedOpt = Annotated[Optional[str], typer.Option("--negated", help="drop or flag negated / family codes.")]


def fail(error: MedcodeError) -> typer.Exit:
    """Print one clear line for a known error and give the exit to raise."""
    err.print(f"error {error.code.value}: {error}", markup=False, highlight=False)
    return typer.Exit(code=2)


def _coder():
    from nlp.coder import Coder

    return Coder.load()


def _check_negated(value: str | None) -> None:
    if value not in (None, "drop", "flag"):
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="--negated must be 'drop' or 'flag'.")


@app.command()
def suggest(
    file: Annotated[str, typer.Argument(help="A note as a UTF-8 text file, or - for standard input.")],
    top: TopOpt = None,
    system: Annotated[Optional[list[str]], typer.Option("--system", help="Only these systems.")] = None,
    negated: NegatedOpt = None,
) -> None:
    """Print the suggestions for one note as JSON."""
    from nlp.coder import check_note, decode_note

    try:
        _check_negated(negated)
        raw = sys.stdin.buffer.read() if file == "-" else _read_file(Path(file))
        text = decode_note(raw)
        check_note(text, limit=get_settings().max_note_chars)
        suggestions = _coder().suggest(text, top=top, systems=system, negated=negated)
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps({"suggestions": [s.model_dump() for s in suggestions]}, ensure_ascii=False, indent=2))


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"No such file: {path}")
    return path.read_bytes()


@app.command()
def batch(
    input: Annotated[Path, typer.Argument(help="A directory of .txt notes, or a JSONL file of {id, text}.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write one JSON line per note.")],
    top: TopOpt = None,
    negated: NegatedOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip ids already in OUT; append the rest.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
) -> None:
    """Code many notes; bad notes go to OUT.errors.jsonl and the rest goes on."""
    from serving.batch import run_batch

    try:
        _check_negated(negated)
        summary = run_batch(input, out, coder_factory=_coder, top=top, negated=negated, resume=resume,
                            batch_size=batch_size, console=err)
    except MedcodeError as e:
        raise fail(e) from None
    err.print(f"{summary.done} notes coded, {summary.failed} failed, {summary.skipped} skipped "
              f"in {summary.seconds:.1f} s ({summary.rate:.2f} notes/s) -> {out}")
    if summary.failed and not summary.done and not summary.skipped:
        raise typer.Exit(code=1)


@index_app.command("build")
def index_build(force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False) -> None:
    """Encode the code sets into the faiss index (minutes; rebuilt only when inputs change)."""
    from serving.indexing import build_index

    try:
        path, built = build_index(get_settings(), force=force, console=err)
    except MedcodeError as e:
        raise fail(e) from None
    err.print(f"index {'built' if built else 'up to date'}: {path}")


@index_app.command("status")
def index_status() -> None:
    """Print the index manifest: releases, encoder, when built."""
    manifest = get_settings().data_dir / "index" / "manifest.json"
    if not manifest.exists():
        raise fail(MedcodeError(ErrorCode.INDEX_MISSING, path=manifest.parent))
    print(manifest.read_text())


@eval_app.command("codiesp")
def eval_codiesp(
    split: Annotated[str, typer.Option("--split", help="train or dev")] = "dev",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N notes.")] = None,
) -> None:
    """Print MAP for diagnoses and procedures on CodiEsp (English)."""
    from codesets.usage import read_codiesp
    from training.evaluate import evaluate

    settings = get_settings()
    split_dir = settings.corpus_dir / split
    if split not in ("train", "dev") or not split_dir.exists():
        raise fail(MedcodeError(ErrorCode.CORPUS_MISSING, path=split_dir))
    notes = read_codiesp(split_dir, split=split)[:limit]
    try:
        report = evaluate(_coder(), notes, split=split)
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps({
        "split": split, "notes": report.notes,
        "map_diagnoses": round(report.diagnoses.map, 4), "map_procedures": round(report.procedures.map, 4),
        "documents": {"diagnoses": report.diagnoses.documents, "procedures": report.procedures.documents},
        "seconds": round(report.seconds, 1), "notes_per_second": round(report.notes / report.seconds, 2),
    }, indent=2))


@app.command()
def tune(folds: Annotated[int, typer.Option("--folds", min=2)] = 5) -> None:
    """Fit the ranker on CodiEsp train, out of fold; writes data/models/ranker/ (loaded by default)."""
    from training.tune import tune_ranker

    try:
        path = tune_ranker(get_settings(), folds=folds, console=err)
    except MedcodeError as e:
        raise fail(e) from None
    err.print(f"ranker written: {path}")


if __name__ == "__main__":
    app()
