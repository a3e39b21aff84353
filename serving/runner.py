"""The one loaded Coder, behind a queue: concurrent requests are coded together by one thread.

One thread owns the engine (spaCy and torch are not meant to be driven from many threads at once);
notes that arrive within `batch_window_ms` of each other and ask for the same options go through
one `suggest_many` call, which shares the encoder's batches.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from medcode.types import Suggestion

Options = tuple[int | None, tuple[str, ...] | None, str | None]


class Runner(Protocol):
    """What the routes and the job worker code notes through: `CoderRunner` or `serving.pool.EnginePool`."""

    def suggest_many(self, texts: Sequence[str], *, top: int | None = None, systems: Sequence[str] | None = None,
                     negated: str | None = None, timeout: float | None = 300.0) -> list[list[Suggestion]]: ...

    def suggest(self, text: str, **options: Any) -> list[Suggestion]: ...

    def close(self) -> None: ...


@dataclass
class _Work:
    texts: list[str]
    options: Options
    future: Future[list[list[Suggestion]]] = field(default_factory=Future)


class CoderRunner:
    """Runs `coder.suggest_many` on one thread, batching work that arrives together."""

    def __init__(self, coder: Any, *, window_ms: float = 2.0, max_batch: int = 16) -> None:
        self.coder = coder
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self._queue: queue.Queue[_Work | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="medcode-coder", daemon=True)
        self._thread.start()

    def suggest_many(self, texts: Sequence[str], *, top: int | None = None, systems: Sequence[str] | None = None,
                     negated: str | None = None, timeout: float | None = 300.0) -> list[list[Suggestion]]:
        """Suggestions for each note (blocks the calling thread, not the engine's)."""
        work = _Work(list(texts), (top, tuple(systems) if systems else None, negated))
        self._queue.put(work)
        return work.future.result(timeout=timeout)

    def suggest(self, text: str, **options: Any) -> list[Suggestion]:
        """Suggestions for one note."""
        return self.suggest_many([text], **options)[0]

    def close(self) -> None:
        """Stop the thread once the queued work is done."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.texts)
            deadline = time.monotonic() + self.window
            stop = False
            while size < self.max_batch:
                try:
                    more = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.texts)
            by_options: dict[Options, list[_Work]] = {}
            for work in batch:
                by_options.setdefault(work.options, []).append(work)
            for options, works in by_options.items():
                self._run(options, works)
            if stop:
                return

    def _run(self, options: Options, works: list[_Work]) -> None:
        top, systems, negated = options
        try:
            results = self.coder.suggest_many([t for w in works for t in w.texts], top=top,
                                              systems=list(systems) if systems else None, negated=negated)
        except Exception as error:  # noqa: BLE001 - handed to the waiting request, which reports it
            if len(works) == 1:
                works[0].future.set_exception(error)
            else:  # one bad note must not fail its neighbours: code each piece of work on its own
                for work in works:
                    self._run(options, [work])
            return
        start = 0
        for work in works:
            work.future.set_result(results[start : start + len(work.texts)])
            start += len(work.texts)
