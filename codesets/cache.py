"""Pickle caches of built code sets under `data_dir/codesets/`, written once, loaded with the GC paused."""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codesets.types import Code
from medcode.settings import get_settings

#: Bump when the pickled layout of `Code` changes: caches written under another layout are rebuilt.
CACHE_LAYOUT = 2


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC off while a cache loads: its hundreds of thousands of new objects otherwise set
    off collections that walk them all again and again (about half the load time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_pickle(path: Path) -> Any:
    """Unpickle a cache medcode wrote, with the GC paused."""
    # Only medcode writes these files, under the user's own data dir; unpickling them is as trusted as our code.
    with gc_paused(), path.open("rb") as f:
        return pickle.load(f)


def cached_codes(stem: str, build: Callable[[], list[Code]]) -> list[Code]:
    """The codes pickled under `data_dir/codesets/{stem}.v{CACHE_LAYOUT}.pkl`, built and written there when absent.

    `stem` must carry a fingerprint of every input of `build`, so a changed source never meets an old cache.
    """
    path = get_settings().data_dir / "codesets" / f"{stem}.v{CACHE_LAYOUT}.pkl"
    if path.is_file():
        cached: list[Code] = load_pickle(path)
        return cached
    codes = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent or interrupted writer never leaves a half file behind.
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as f:
        pickle.dump(codes, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
    return codes


def files_digest(*parts: bytes) -> str:
    """The first 12 hex digits of the sha256 of `parts`: the fingerprint in a cache file name."""
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:12]
