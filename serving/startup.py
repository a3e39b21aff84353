"""What a process that codes notes does once its Coder has loaded: warm it up, then settle the GC."""

from __future__ import annotations

import gc
from typing import Any

#: A note coded once before the first request, so its first-call costs (torch, spaCy) fall on start-up.
WARM_UP_NOTE = "Warm-up: hypertension."

#: Allocations (less deallocations) between young-generation collections once an engine has loaded.
#: A note allocates ~100k short-lived objects, which at Python's default 700 set off ~150
#: collections a note: about 4% of an engine's time (3.5 of 85 ms a note), nearly all gone at 50,000.
ENGINE_GC_THRESHOLD = (50_000, 20, 100)


def warm_up(coder: Any) -> None:
    """Code `WARM_UP_NOTE` once through `coder` (a Coder or a runner: anything with `suggest`)."""
    coder.suggest(WARM_UP_NOTE)


def settle_gc() -> None:
    """After a Coder has loaded: freeze what is loaded and collect young objects less often.

    The loaded index is ~1.6 M long-lived objects; left to the collector, each full collection walks
    them all and stalls the note that set it off for ~0.5 s. Frozen, they are never walked again."""
    gc.freeze()
    gc.set_threshold(*ENGINE_GC_THRESHOLD)
