"""`medcode batch --ray`: the local batch's inputs and output lines, coded by Coder actors on a Ray cluster.

Ray Data reads the notes as blocks, `map_batches` hands them to a pool of `serving.cluster.NoteCoder`
actors (one Coder each, one per CPU of the cluster or `--workers`), and the driver alone writes what comes
back, as it comes. A worker that dies takes no written line with it: Ray runs its block again on another
actor, and only finished blocks reach the driver, so no note is lost or written twice. `--resume` skips the
ids already written (coded or reported bad), whatever the number of workers was.

Inputs: a folder of `.txt`, JSONL of `{id, text}` (both read by `serving.batch.read_items`), or Parquet with
`id` and `text` columns; the driver reads them and puts them into the object store as blocks of one actor
batch each. (Ray Data's own Parquet read stalled on a cluster whose CPUs the actors all hold.)
Outputs: JSONL, or Parquet when OUT ends in `.parquet` or is a folder (`id`, `result`: the JSON line);
errors always go to `OUT.errors.jsonl`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from nlp.note import Item, json_limits
from serving.batch import (
    BatchSummary,
    cut_torn_tail,
    done_ids,
    error_record,
    errors_path,
    ids_in,
    progress_bar,
    read_items,
)
from serving.proposals import context_from
from serving.cluster import NoteCoder, check_nodes, connect, driver_stamp, pool_size, unwrap_error


#: How long the actors may take to load their Coder (~10 s on a quiet core, minutes on a busy one).
ACTOR_START_S = 900


@dataclass
class ClusterSummary(BatchSummary):
    workers: int = 0
    nodes: set[str] = field(default_factory=set)
    #: The largest peak resident memory any worker reported, MiB.
    worker_peak_mib: float = 0.0


def is_parquet(source: Path) -> bool:
    """A Parquet file, or a folder of them (a folder of `.txt` notes is not)."""
    return source.suffix == ".parquet" or (source.is_dir() and any(source.glob("*.parquet")))


def writes_parquet(out: Path) -> bool:
    """OUT ends in `.parquet` or is a folder: Parquet; else JSONL."""
    return out.suffix == ".parquet" or out.is_dir()


def _check_columns(source: Path) -> None:
    import pyarrow.parquet as pq

    names = set(pq.read_schema(next(iter(sorted(source.glob("*.parquet")))) if source.is_dir() else source).names)
    if not {"id", "text"} <= names:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"{source}: Parquet needs \"id\" and \"text\" columns "
                           f"(it has {', '.join(sorted(names))})")


def _quiet(ray: Any) -> None:
    """Ray Data's own progress bars and logging off: the driver shows medcode's bar."""
    import logging

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_operator_progress_bars = False
    context.print_on_execution_start = False
    # Every actor loaded before the first block goes out: the blocks then spread over all of them (else the
    # first actor up takes them all), and an actor that refuses to start (E023) stops the batch at once.
    context.wait_for_min_actors_s = ACTOR_START_S


class ParquetParts:
    """Parquet output written as parts, each complete or absent, so a killed run leaves no torn file.

    A folder OUT holds the parts themselves; `OUT.parquet` is assembled from `OUT.parquet.parts/` at the end.
    """

    def __init__(self, out: Path, *, resume: bool) -> None:
        import shutil

        self.out = out
        self.folder = out if out.suffix != ".parquet" else out.with_name(out.name + ".parts")
        if not resume:
            shutil.rmtree(self.folder, ignore_errors=True)
            if out.suffix == ".parquet":
                out.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.seq = len(list(self.folder.glob("part-*.parquet")))
        self.ids: list[str] = []
        self.lines: list[str] = []

    def done_ids(self) -> set[str]:
        import pyarrow.parquet as pq

        files = sorted(self.folder.glob("part-*.parquet"))
        if self.out.suffix == ".parquet" and self.out.exists():
            files.append(self.out)
        return {i for f in files for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()}

    def write(self, rid: str, line: str) -> None:
        self.ids.append(rid)
        self.lines.append(line)

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.ids:
            return
        part = self.folder / f"part-{self.seq:06d}.parquet"
        tmp = part.with_suffix(".tmp")
        pq.write_table(pa.table({"id": self.ids, "result": self.lines}), tmp)
        tmp.rename(part)
        self.seq += 1
        self.ids, self.lines = [], []

    def close(self) -> None:
        import shutil

        import pyarrow.parquet as pq

        self.flush()
        if self.out.suffix != ".parquet":
            return
        files = sorted(self.folder.glob("part-*.parquet"))
        if self.out.exists():
            files.insert(0, self.out)
        if files:
            tmp = self.out.with_name(self.out.name + ".tmp")
            with pq.ParquetWriter(tmp, pq.read_schema(files[0])) as writer:
                for f in files:
                    writer.write_table(pq.read_table(f))
            tmp.rename(self.out)
        shutil.rmtree(self.folder, ignore_errors=True)


class JsonlOut:
    """JSONL output, appended to on `--resume` after any torn last line is cut."""

    def __init__(self, out: Path, *, resume: bool) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            cut_torn_tail(out)
        self.fh = out.open("a" if resume else "w", encoding="utf-8")
        self.out = out

    def done_ids(self) -> set[str]:
        return done_ids(self.out)

    def write(self, rid: str, line: str) -> None:
        self.fh.write(line + "\n")

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def _parquet_items(source: Path) -> tuple[int, Iterator[Item]]:
    """The notes of a Parquet file or folder as (id, text); a text that is not a string is the worker's to report."""
    import pyarrow.parquet as pq

    table = pq.read_table(source, columns=["id", "text"])
    ids = [str(i) for i in table.column("id").to_pylist()]
    return len(ids), (Item(i, t) for i, t in zip(ids, table.column("text").to_pylist(), strict=True))


def _blocks(items: Iterator[tuple[str, Any, str | None]], size: int) -> Iterator[Any]:
    """Arrow tables of `size` notes: id, text and the encounter as JSON (null when the line had none)."""
    import pyarrow as pa

    def table(rows: list[tuple[str, Any, str | None]]) -> Any:
        return pa.table(dict(zip(("id", "text", "encounter"), map(list, zip(*rows, strict=True)), strict=True)))

    rows: list[tuple[str, Any, str | None]] = []
    for item in items:
        rows.append(item)
        if len(rows) == size:
            yield table(rows)
            rows = []
    if rows:
        yield table(rows)


def run_ray_batch(source: Path, out: Path, *, address: str, workers: int = 0, top: int | None = None,
                  negated: str | None = None, resume: bool = False, batch_size: int = 16,
                  console: Console | None = None) -> ClusterSummary:
    """Code every note of `source` into `out` on the cluster at `address`; see the module docstring."""
    console = console or Console(stderr=True)
    if not source.exists():
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"No such file or directory: {source}")
    if is_parquet(source):
        _check_columns(source)
    ray = connect(address)
    _quiet(ray)
    stamp = driver_stamp()
    check_nodes(ray, stamp)
    summary = ClusterSummary(workers=pool_size(ray, workers))
    started = time.perf_counter()
    writer: ParquetParts | JsonlOut = (ParquetParts(out, resume=resume) if writes_parquet(out)
                                       else JsonlOut(out, resume=resume))
    bad_path = errors_path(out)
    skip: set[str] = set()
    if resume:
        cut_torn_tail(bad_path)
        skip = writer.done_ids() | ids_in(bad_path)
    with bad_path.open("a" if resume else "w", encoding="utf-8") as bad, progress_bar(console) as bar:

        def report(rid: str, line: str) -> None:
            summary.failed += 1
            error = json.loads(line)["error"]
            console.print(f"skipped {rid}: error {error['code']}: {error['message']}", markup=False, highlight=False)
            bad.write(line + "\n")

        settings = get_settings()
        total, items = (_parquet_items(source) if is_parquet(source)
                        else read_items(source, limit=settings.max_note_chars, json_limits=json_limits(settings)))
        task = bar.add_task("notes", total=total)
        good: list[tuple[str, Any, str | None]] = []
        for rid, text, encounter in items:
            if rid in skip:
                summary.skipped += 1
                continue
            try:
                if isinstance(text, MedcodeError):
                    raise text
                context_from(encounter, f"{rid}: encounter")  # a bad one is reported here, not on a worker
            except MedcodeError as error:
                report(rid, json.dumps(error_record(rid, error)))
                continue
            good.append((rid, text, None if encounter is None else json.dumps(encounter)))
        bad.flush()
        # A block per actor call: every actor gets work, and a dead worker's retry is one batch.
        dataset = ray.data.from_arrow(list(_blocks(iter(good), batch_size))) if good else None
        bar.advance(task, summary.skipped + summary.failed)
        if dataset is not None:
            coded = dataset.map_batches(
                NoteCoder, fn_constructor_kwargs={"driver_stamp": stamp, "top": top, "negated": negated},
                batch_size=batch_size, batch_format="numpy", num_cpus=1,
                # Two blocks in flight per actor: the next is there when one ends, and no actor hoards blocks.
                compute=ray.data.ActorPoolStrategy(size=summary.workers, max_tasks_in_flight_per_actor=2))
            try:
                for block in coded.iter_batches(batch_size=None, batch_format="numpy"):
                    for rid, ok, line in zip(block["id"], block["ok"], block["line"], strict=True):
                        if ok:
                            writer.write(str(rid), str(line))
                            summary.done += 1
                        else:
                            report(str(rid), str(line))
                    writer.flush()
                    bad.flush()
                    summary.nodes.update(str(n) for n in block["node"])
                    summary.worker_peak_mib = max(summary.worker_peak_mib, float(block["rss_mib"].max()))
                    bar.advance(task, len(block["id"]))
            except Exception as error:  # noqa: BLE001 - a known error from a worker is reported as itself
                found = unwrap_error(error)
                if isinstance(found, MedcodeError):
                    raise found from None
                raise MedcodeError(ErrorCode.CLUSTER, detail=f"the batch failed: {type(error).__name__}") from error
            finally:
                writer.close()
        else:
            writer.close()
    summary.seconds = time.perf_counter() - started
    return summary
