"""Batch coding: a directory of notes or a JSONL file in, one JSON line per note out, resumable.

A bad note (empty, not UTF-8, too large, a broken JSONL line) is reported on stderr and in
`OUT.errors.jsonl` by id and error code, never by content, and the rest goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from nlp.note import check_note, decode_note


@dataclass
class BatchSummary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


Item = tuple[str, str | MedcodeError]


def errors_path(out: Path) -> Path:
    """`notes.jsonl` -> `notes.errors.jsonl`."""
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".errors.jsonl")


def _decode(raw: bytes) -> str | MedcodeError:
    """The text, or the error that spoils it, so one bad file does not stop the listing."""
    try:
        return decode_note(raw)
    except MedcodeError as error:
        return error


def read_items(source: Path) -> tuple[int, Iterator[Item]]:
    """How many notes `source` holds, and the notes as (id, text or the error that spoils it)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix == ".txt" and p.is_file())
        return len(files), ((f.stem, _decode(f.read_bytes())) for f in files)
    if source.is_file():
        with source.open("rb") as fh:
            total = sum(1 for line in fh if line.strip())
        return total, _jsonl_items(source)
    raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"No such file or directory: {source}")


def _jsonl_items(source: Path) -> Iterator[Item]:
    with source.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                yield f"line {lineno}", MedcodeError(ErrorCode.BAD_INPUT, detail=f"line {lineno}: not a JSON object")
                continue
            rid = record.get("id") if isinstance(record, dict) else None
            if not isinstance(rid, (str, int)) or isinstance(rid, bool):
                yield f"line {lineno}", MedcodeError(ErrorCode.BAD_INPUT,
                                                     detail=f"line {lineno}: needs an \"id\" (string or number)")
                continue
            text = record.get("text")
            if not isinstance(text, str):
                yield str(rid), MedcodeError(ErrorCode.BAD_INPUT, detail=f"line {lineno}: needs a \"text\" string")
                continue
            yield str(rid), text


def result_record(rid: str, suggestions: list[Any]) -> dict[str, Any]:
    """One output line of a coded note."""
    return {"id": rid, "suggestions": [s.model_dump() for s in suggestions]}


def error_record(rid: str, error: MedcodeError) -> dict[str, Any]:
    """One line of the errors file: the note's id and the error's code, never the note's text."""
    return {"id": rid, "error": error.as_dict()}


def code_notes(coder: Any, notes: list[tuple[str, str]], *, top: int | None = None,
               negated: str | None = None) -> list[dict[str, Any]]:
    """The output lines of checked notes (id, text), coded together: what the local and the Ray batch write."""
    results = coder.suggest_many([t for _, t in notes], top=top, negated=negated)
    return [result_record(rid, suggestions) for (rid, _), suggestions in zip(notes, results, strict=True)]


def done_ids(out: Path) -> set[str]:
    """Ids already coded or already reported as bad, in `out` and its errors file."""
    ids: set[str] = set()
    for path in (out, errors_path(out)):
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    ids.add(str(json.loads(line)["id"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by a crash: that note is coded again
    return ids


def progress_bar(console: Console) -> Progress:
    """The batch's progress bar (notes done of all, time left), shown on a terminal only."""
    return Progress(TextColumn("coding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                    transient=True, disable=not console.is_terminal)


def run_batch(source: Path, out: Path, *, coder_factory: Callable[[], Any], top: int | None = None,
              negated: str | None = None, resume: bool = False, batch_size: int = 16,
              console: Console | None = None) -> BatchSummary:
    """Code every note of `source` into `out` (JSONL); see the module docstring for errors."""
    console = console or Console(stderr=True)
    total, items = read_items(source)
    limit = get_settings().max_note_chars
    skip = done_ids(out) if resume else set()
    coder = coder_factory()
    summary = BatchSummary()
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    mode = "a" if resume else "w"
    with out.open(mode, encoding="utf-8") as good, errors_path(out).open(mode, encoding="utf-8") as bad, \
            progress_bar(console) as bar:
        task = bar.add_task("notes", total=total)

        def report(rid: str, error: MedcodeError) -> None:
            summary.failed += 1
            console.print(f"skipped {rid}: error {error.code.value}: {error}", markup=False, highlight=False)
            bad.write(json.dumps(error_record(rid, error)) + "\n")

        pending: list[tuple[str, str]] = []

        def flush() -> None:
            if not pending:
                return
            for record in code_notes(coder, pending, top=top, negated=negated):
                good.write(json.dumps(record, ensure_ascii=False) + "\n")
            good.flush()
            bad.flush()
            summary.done += len(pending)
            bar.advance(task, len(pending))
            pending.clear()

        for rid, text in items:
            if rid in skip:
                summary.skipped += 1
                bar.advance(task)
                continue
            try:
                if isinstance(text, MedcodeError):
                    raise text
                pending.append((rid, check_note(text, limit=limit)))
            except MedcodeError as error:
                report(rid, error)
                bar.advance(task)
                continue
            if len(pending) >= batch_size:
                flush()
        flush()
    summary.seconds = time.perf_counter() - started
    return summary
