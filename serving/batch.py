"""Batch coding: a directory of notes or a JSONL file in, one JSON line per note out, resumable.

Each output line holds the note's suggestions and its claim-ready coding; a JSONL line may carry an
`encounter` object (setting, date of service, patient) that the coding follows.

A bad note (empty, not UTF-8, too large, a broken JSONL line) is reported on stderr and in
`OUT.errors.jsonl` by id and error code, never by content, and the rest goes on; so is a note the
engine fails on (its batch is coded again one note at a time, so its batch-mates are not lost).

A crash cannot spoil the output: each line is written whole by one write, straight to the OS, and
`--resume` first cuts a torn last line (a kill mid-write) from both files, so that note is coded again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from nlp.note import Item, JsonLimits, check_note, decode_note, json_limits, read_jsonl
from serving.proposals import CodingContext, Proposal, context_from, propose_many
from training.metrics import engine_rates, suggestion_forms


@dataclass
class BatchSummary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


def errors_path(out: Path) -> Path:
    """`notes.jsonl` -> `notes.errors.jsonl`."""
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".errors.jsonl")


def _file_item(path: Path, limit: int) -> Item:
    """A folder's note as (its stem, the checked text or the error that spoils it)."""
    try:
        return Item(path.stem, check_note(decode_note(path.read_bytes()), limit=limit))
    except MedcodeError as error:
        return Item(path.stem, error)


def read_items(source: Path, *, limit: int, json_limits: JsonLimits) -> tuple[int, Iterator[Item]]:
    """How many notes `source` holds, and the notes as (id, checked text or the error that spoils it)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix == ".txt" and p.is_file())
        return len(files), (_file_item(f, limit) for f in files)
    if source.is_file():
        with source.open("rb") as fh:
            total = sum(1 for line in fh if line.strip())

        def lines() -> Iterator[Item]:
            with source.open("rb") as fh:
                yield from read_jsonl(fh, limit=limit, json_limits=json_limits)

        return total, lines()
    raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"No such file or directory: {source}")


def cut_torn_tail(path: Path) -> int:
    """Cut what follows the last newline of `path` (a line a crash left half-written); the bytes cut."""
    if not path.exists():
        return 0
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        keep = size
        while keep > 0:
            step = min(keep, 1 << 16)
            fh.seek(keep - step)
            block = fh.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = keep - step + newline + 1
                break
            keep -= step
        if keep < size:
            fh.truncate(keep)
            os.fsync(fh.fileno())
        return size - keep


def done_ids(out: Path) -> set[str]:
    """Ids already coded or already reported as bad, in `out` and its errors file (whole lines only)."""
    return ids_in(out, errors_path(out))


def ids_in(*paths: Path) -> set[str]:
    """The ids of the whole JSON lines of `paths` (missing files hold none)."""
    ids: set[str] = set()
    for path in paths:
        if path.exists():
            with path.open("rb") as fh:
                for line in fh:
                    try:
                        ids.add(str(json.loads(line)["id"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # not a line this program wrote whole: that note is coded again
    return ids


def error_record(rid: str, error: MedcodeError) -> dict[str, Any]:
    """One line of the errors file: the note's id and the error's code, never the note's text."""
    return {"id": rid, "error": error.as_dict()}


def progress_bar(console: Console) -> Progress:
    """The batch's progress bar (notes done of all, time left), shown on a terminal only."""
    return Progress(TextColumn("coding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                    transient=True, disable=not console.is_terminal)


def code_notes(coder: Any, notes: list[tuple[str, str, CodingContext]], *, top: int | None = None,
               negated: str | None = None, rates: dict[Any, Any] | None = None) -> list[dict[str, Any]]:
    """The output lines of checked notes (id, text, coding context), coded together: what the local and the Ray
    batch write. A note the engine fails on comes back as its error line (`"error"` in it); `rates`
    (`engine_rates`) adds the CodiEsp form of each note's codes."""
    return [error_record(rid, found) if isinstance(found, MedcodeError) else result_record(rid, found, rates)
            for rid, found in _code(coder, notes, top=top, negated=negated)]


def result_record(rid: str, proposal: Proposal, rates: dict[Any, Any] | None = None) -> dict[str, Any]:
    """One output line of a coded note: its suggestions and coding (and, with `rates`, its CodiEsp forms)."""
    record = {"id": rid, **proposal.as_dict()}
    if rates is not None:
        record["codiesp"] = suggestion_forms(proposal.suggestions, rates)
    return record


class _Lines:
    """An append-only JSONL file written a whole line at a time: one write, then flushed to the OS."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o644)

    def write(self, record: dict[str, Any]) -> None:
        data = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        while data:  # a kill between two writes leaves a torn tail, which --resume cuts
            data = data[os.write(self._fd, data):]

    def close(self) -> None:
        os.close(self._fd)


def run_batch(source: Path, out: Path, *, coder_factory: Callable[[], Any], top: int | None = None,
              negated: str | None = None, resume: bool = False, batch_size: int = 16, codiesp_form: bool = False,
              console: Console | None = None) -> BatchSummary:
    """Code every note of `source` into `out` (JSONL); see the module docstring for errors. `codiesp_form`
    adds each note's codes as CodiEsp ranks them (`{"codiesp": {"diagnoses": [...], "procedures": [...]}}`:
    lower case, CM with its dot, the shorter forms coders may have written entering by expected gain), so
    the output can be scored on CodiEsp as `medcode eval codiesp` scores the engine."""
    console = console or Console(stderr=True)
    settings = get_settings()
    total, items = read_items(source, limit=settings.max_note_chars, json_limits=json_limits(settings))
    out.parent.mkdir(parents=True, exist_ok=True)
    if resume:
        for path in (out, errors_path(out)):
            if cut := cut_torn_tail(path):
                console.print(f"cut a torn last line ({cut} bytes) from {path}; its note is coded again",
                              markup=False, highlight=False)
    skip = done_ids(out) if resume else set()
    coder = coder_factory()
    rates = engine_rates(coder) if codiesp_form else None
    summary = BatchSummary()
    started = time.perf_counter()
    good, bad = _Lines(out, append=resume), _Lines(errors_path(out), append=resume)
    try:
        with progress_bar(console) as bar:
            task = bar.add_task("notes", total=total)

            def report(rid: str, error: MedcodeError) -> None:
                summary.failed += 1
                console.print(f"skipped {rid}: error {error.code.value}: {error}", markup=False, highlight=False)
                bad.write(error_record(rid, error))

            pending: list[tuple[str, str, CodingContext]] = []

            def flush() -> None:
                for rid, found in _code(coder, pending, top=top, negated=negated):
                    if isinstance(found, MedcodeError):
                        report(rid, found)
                    else:
                        good.write(result_record(rid, found, rates))
                        summary.done += 1
                bar.advance(task, len(pending))
                pending.clear()

            for rid, text, encounter in items:
                if rid in skip:
                    summary.skipped += 1
                    bar.advance(task)
                    continue
                try:
                    if isinstance(text, MedcodeError):
                        raise text
                    pending.append((rid, text, context_from(encounter, f"{rid}: encounter")))
                except MedcodeError as error:
                    report(rid, error)
                    bar.advance(task)
                    continue
                if len(pending) >= batch_size:
                    flush()
            flush()
    finally:
        good.close()
        bad.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _code(coder: Any, pending: list[tuple[str, str, CodingContext]], **options: Any) -> list[tuple[str, Any]]:
    """Each note's suggestions and coding; should the batch fail, its notes one at a time, so only a bad one fails."""
    if not pending:
        return []
    try:
        found = propose_many(coder, [t for _, t, _ in pending], [c for _, _, c in pending], **options)
    except Exception as error:  # noqa: BLE001 - reported by type and id, never by message: it may quote the note
        if len(pending) > 1:
            return [result for item in pending for result in _code(coder, [item], **options)]
        if not isinstance(error, MedcodeError):
            error = MedcodeError(ErrorCode.INTERNAL, incident=f"{type(error).__name__} coding note {pending[0][0]}")
        return [(pending[0][0], error)]
    return [(rid, proposal) for (rid, _, _), proposal in zip(pending, found, strict=True)]
