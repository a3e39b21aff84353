"""Engine processes: several Coders, one per process, each note to the next free one.

Most of a note's work (spaCy, features, ranking) is Python and holds the GIL, so one process codes one
note at a time on one core. With `serving.engines` processes, that many notes are coded at once. Each
process loads its own Coder from disk (~1.5 GiB each). A process that dies fails the work it had in
hand and is started again; the others go on. Each process has pipes of its own, so one killed
mid-message cannot leave a lock held that the others wait on.

Long notes have a lane of their own: work holding a note over `serving.long_note_chars` runs on at most
all engines but one, and short work is handed out first, so a 196k-character note (16-20 s of one engine)
never leaves the short notes of other callers waiting behind it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from medcode.types import Suggestion

log = logging.getLogger("medcode.pool")
_spawn = multiprocessing.get_context("spawn")  # fork would copy the parent's threads' locks mid-use

Work = tuple[int, list[str], tuple[int | None, list[str] | None, str | None]]


def cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def engine_count(settings: Settings) -> int:
    """How many engine processes `serving.engines` asks for on this machine (0: one per core, at most 4)."""
    return settings.serving.engines if settings.serving.engines > 0 else max(1, min(cores(), 4))


def _exit_with(parent: int) -> None:
    """End this process once `parent` is gone: a server killed hard leaves no engines behind."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _serve(settings: Settings, threads: int, work: Connection, results: Connection, parent: int) -> None:
    """A child's life: load a Coder, say ready, then code what arrives on `work` until told to stop."""
    threading.Thread(target=_exit_with, args=(parent,), name="medcode-orphan-watch", daemon=True).start()
    # Before faiss, LightGBM and onnxruntime load: OpenMP threads beyond the process's share of cores
    # would spin against the other engines.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        from nlp.coder import Coder
        from serving.startup import settle_gc, warm_up

        coder = Coder.load(settings.model_copy(update={"threads": threads}))
        warm_up(coder)
        settle_gc()
    except MedcodeError as error:
        results.send(("failed", (error.code, error.params)))
        return
    except Exception as error:  # noqa: BLE001 - the parent reports it through /readyz
        results.send(("failed", f"{type(error).__name__} while loading"))
        return
    results.send(("ready", None))
    while (item := work.recv()) is not None:
        work_id, texts, (top, systems, negated) = item
        try:
            results.send(("done", (work_id, coder.suggest_many(texts, top=top, systems=systems, negated=negated))))
        except MedcodeError as error:
            results.send(("error", (work_id, (error.code, error.params))))
        except Exception as error:  # noqa: BLE001 - by type only: a message may quote the note
            results.send(("error", (work_id, type(error).__name__)))


@dataclass(eq=False)
class _Engine:
    proc: Any  # multiprocessing.Process
    work: Connection
    results: Connection
    ready: bool = False
    doing: int | None = None  # the work id in hand
    long: bool = False  # whether that work is in the long-note lane


@dataclass(eq=False)
class _Pending:
    item: Work
    long: bool = False
    future: Future[list[list[Suggestion]]] = field(default_factory=Future)


class EnginePool:
    """`suggest` / `suggest_many` like `CoderRunner`, spread over `processes` engine processes."""

    def __init__(self, settings: Settings, *, processes: int, timeout_s: float = 300.0) -> None:
        """Start the processes and wait until each has loaded its Coder (raises if one cannot)."""
        self.settings = settings
        self.processes = processes
        self.threads = max(1, cores() // processes)
        self.long_chars = settings.serving.long_note_chars
        self.long_lanes = max(1, processes - 1)
        self._lock = threading.Lock()
        self._engines: list[_Engine] = []
        self._backlog: deque[_Pending] = deque()
        self._long_backlog: deque[_Pending] = deque()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
        self._closed = False
        self._failed: tuple[ErrorCode, dict[str, Any]] | str | None = None
        self._all_ready = threading.Event()
        with self._lock:
            for _ in range(processes):
                self._start()
        self._loop_thread = threading.Thread(target=self._loop, name="medcode-pool", daemon=True)
        self._loop_thread.start()
        if not self._all_ready.wait(timeout_s) or self._failed:
            self.close()
            if isinstance(self._failed, tuple):  # as the engine raised it, so /readyz shows its code
                raise MedcodeError(self._failed[0], **self._failed[1])
            raise RuntimeError(f"an engine process failed to load: {self._failed}" if self._failed
                               else f"engine processes not ready after {timeout_s:.0f} s")

    @property
    def pids(self) -> list[int]:
        """The engine processes' ids (a replaced one gets a new id)."""
        return [e.proc.pid for e in self._engines]

    def suggest_many(self, texts: Sequence[str], *, top: int | None = None, systems: Sequence[str] | None = None,
                     negated: str | None = None, timeout: float | None = 300.0) -> list[list[Suggestion]]:
        """Suggestions for each note, coded by the next free process (blocks the calling thread)."""
        with self._lock:
            if self._closed:
                raise MedcodeError(ErrorCode.NOT_READY)
            pending = _Pending((self._next_id, list(texts), (top, list(systems) if systems else None, negated)),
                               long=max(map(len, texts), default=0) > self.long_chars)
            self._next_id += 1
            self._pending[pending.item[0]] = pending
            (self._long_backlog if pending.long else self._backlog).append(pending)
            self._dispatch()
        return pending.future.result(timeout=timeout)

    def suggest(self, text: str, **options: Any) -> list[Suggestion]:
        """Suggestions for one note."""
        return self.suggest_many([text], **options)[0]

    def close(self) -> None:
        """Stop the processes once they finish the note in hand."""
        with self._lock:
            self._closed = True
            engines = list(self._engines)
        for engine in engines:
            try:
                engine.work.send(None)
            except OSError:
                pass
        for engine in engines:
            engine.proc.join(timeout=30)
            if engine.proc.is_alive():
                engine.proc.kill()

    def _start(self) -> None:
        """A new engine process (under the lock)."""
        work_r, work_w = _spawn.Pipe(duplex=False)
        results_r, results_w = _spawn.Pipe(duplex=False)
        proc = _spawn.Process(target=_serve, args=(self.settings, self.threads, work_r, results_w, os.getpid()),
                              name="medcode-engine", daemon=True)
        proc.start()
        work_r.close()
        results_w.close()
        self._engines.append(_Engine(proc, work_w, results_r))

    def _dispatch(self) -> None:
        """Hand waiting work to free processes, short work first, long work to at most `long_lanes` (under
        the lock)."""
        long_running = sum(e.long for e in self._engines if e.doing is not None)
        for engine in self._engines:
            if not (self._backlog or self._long_backlog):
                return
            if not engine.ready or engine.doing is not None:
                continue
            if self._backlog:
                pending = self._backlog.popleft()
            elif long_running < self.long_lanes:
                pending = self._long_backlog.popleft()
                long_running += 1
            else:
                return
            engine.doing, engine.long = pending.item[0], pending.long
            engine.work.send(pending.item)

    def _loop(self) -> None:
        """Read results and readiness; notice processes that end and replace them."""
        while True:
            with self._lock:
                if self._closed:
                    return
                watched = {e.results: e for e in self._engines} | {e.proc.sentinel: e for e in self._engines}
            for ready in wait(list(watched), timeout=1.0):
                engine = watched[ready]
                if ready is engine.results:
                    try:
                        kind, detail = engine.results.recv()
                    except (EOFError, OSError):
                        continue  # the process is ending: its sentinel says so next
                    self._receive(engine, kind, detail)
                elif not engine.proc.is_alive():
                    self._replace(engine)

    def _receive(self, engine: _Engine, kind: str, detail: Any) -> None:
        with self._lock:
            if kind == "ready":
                engine.ready = True
                if all(e.ready for e in self._engines):
                    self._all_ready.set()
            elif kind == "failed":  # it exits next; one that cannot load would fail again, so none replaces it
                log.error("an engine process failed to load: %s", detail if isinstance(detail, str) else
                          detail[0].value)
                self._failed = detail
                self._all_ready.set()
            else:
                work_id, outcome = detail
                engine.doing = None
                pending = self._pending.pop(work_id, None)
                if pending is not None:
                    if kind == "done":
                        pending.future.set_result(outcome)
                    elif isinstance(outcome, tuple):
                        pending.future.set_exception(MedcodeError(outcome[0], **outcome[1]))
                    else:
                        log.error("engine error: %s", outcome)
                        pending.future.set_exception(RuntimeError(f"{outcome} in the engine"))
            self._dispatch()

    def _replace(self, engine: _Engine) -> None:
        with self._lock:
            if engine not in self._engines or self._closed:
                return
            self._engines.remove(engine)
            engine.work.close()
            engine.results.close()
            log.error("engine process %d exited (code %s)", engine.proc.pid, engine.proc.exitcode)
            if engine.doing is not None and (pending := self._pending.pop(engine.doing, None)):
                pending.future.set_exception(
                    MedcodeError(ErrorCode.INTERNAL, incident=f"engine process {engine.proc.pid} exited"))
            if self._failed is None:
                self._start()
