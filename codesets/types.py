"""The record of one code and the set of codes of one release."""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from medcode.types import System


def normalize_code(code: str) -> str:
    """The lookup key of a code: upper case, no dot, no spaces (`i50.23` -> `I5023`)."""
    return code.strip().replace(".", "").replace(" ", "").upper()


def display_code(system: System, code: str) -> str:
    """The canonical display form of a code: ICD-10-CM with its dot (I50.23), the others upper case."""
    key = normalize_code(code)
    if system == "ICD-10-CM" and len(key) > 3:
        return f"{key[:3]}.{key[3:]}"
    return key


@dataclass(frozen=True, slots=True)
class Code:
    """One code of one release. Tuples, not lists, so records are hashable and immutable."""

    code: str  # display form: ICD-10-CM with its dot (I50.23), PCS 7 characters, CPT/HCPCS as given
    system: System
    description: str
    billable: bool = True
    #: Other names a note may use: inclusion terms, derived variants, paraphrases.
    synonyms: tuple[str, ...] = ()
    parent: str | None = None
    chapter: str | None = None
    block: str | None = None
    excludes1: tuple[str, ...] = ()
    excludes2: tuple[str, ...] = ()
    code_first: tuple[str, ...] = ()
    use_additional: tuple[str, ...] = ()
    code_also: tuple[str, ...] = ()
    #: Allowed 7th characters and their meaning, for categories that require one.
    seventh: tuple[tuple[str, str], ...] = ()
    #: ICD-10-PCS axes in order: (axis name, value meaning), e.g. ("root operation", "Resection").
    axes: tuple[tuple[str, str], ...] = ()
    long_description: str | None = None

    @property
    def key(self) -> str:
        return normalize_code(self.code)

    def __reduce__(self) -> tuple[type[Code], tuple[Any, ...]]:
        # Pickled as a constructor call: the dataclass default (`__setstate__` calling `fields()` per
        # record) took seconds of start-up for the ~180k cached records.
        return Code, tuple(getattr(self, name) for name in _CODE_FIELDS)


_CODE_FIELDS = tuple(f.name for f in fields(Code))


class CodeSet:
    """All codes of one system and release, looked up with or without the dot, in any case."""

    def __init__(self, system: System, release: str, codes: Iterable[Code], source: str = "") -> None:
        self.system: System = system
        self.release = release
        self.source = source
        self._codes: dict[str, Code] = {c.key: c for c in codes}
        self._children: dict[str, list[str]] | None = None
        self._by_prefix: dict[str, list[str]] | None = None
        self._under: dict[int, dict[str, int]] = {}

    def __len__(self) -> int:
        return len(self._codes)

    def __iter__(self) -> Iterator[Code]:
        return iter(self._codes.values())

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and normalize_code(code) in self._codes

    def get(self, code: str) -> Code | None:
        """The record for `code`, or None."""
        return self._codes.get(normalize_code(code))

    def __getitem__(self, code: str) -> Code:
        found = self.get(code)
        if found is None:
            raise MedcodeError(ErrorCode.UNKNOWN_CODE, system=self.system, code=code)
        return found

    def children(self, code: str) -> list[Code]:
        """Direct children of `code` in the hierarchy (empty for PCS, CPT and leaves)."""
        if self._children is None:
            index: dict[str, list[str]] = {}
            for c in self._codes.values():
                if c.parent:
                    index.setdefault(normalize_code(c.parent), []).append(c.key)
            self._children = index
        return [self._codes[k] for k in self._children.get(normalize_code(code), [])]

    def with_prefix(self, prefix: str) -> list[Code]:
        """Codes that start with `prefix` and are longer than it (a PCS table or a CM category's
        descendants), in code order; the index behind it is built on first use."""
        if self._by_prefix is None:
            index: dict[str, list[str]] = {}
            for key in sorted(self._codes):
                for n in range(1, len(key)):
                    index.setdefault(key[:n], []).append(key)
            self._by_prefix = index
        return [self._codes[k] for k in self._by_prefix.get(normalize_code(prefix), [])]

    def count_under(self, prefix: str) -> int:
        """How many codes `with_prefix(prefix)` holds, from counts kept per prefix length (built on first
        use for that length: far smaller than the index of every prefix behind `with_prefix`)."""
        key = normalize_code(prefix)
        counts = self._under.get(len(key))
        if counts is None:
            counts = self._under[len(key)] = {}
            for code in self._codes:
                if len(code) > len(key):
                    counts[code[: len(key)]] = counts.get(code[: len(key)], 0) + 1
        return counts.get(key, 0)

    @property
    def tag(self) -> str:
        """The release stamp, e.g. `ICD-10-CM 2026-04`."""
        return f"{self.system} {self.release}"

    def fingerprint(self) -> str:
        """A digest of every code and its searchable text; an index built from it is stale when it changes."""
        h = hashlib.sha256(self.tag.encode())
        for c in sorted(self._codes.values(), key=lambda c: c.key):
            h.update("\x1f".join((c.code, c.description, *c.synonyms)).encode())
        return h.hexdigest()[:16]


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


#: Allocations (less deallocations) between young-generation collections once an engine has loaded.
#: A note allocates ~100k short-lived objects, which at Python's default 700 set off ~150
#: collections a note: about 4% of an engine's time (3.5 of 85 ms a note), nearly all gone at 50,000.
ENGINE_GC_THRESHOLD = (50_000, 20, 100)


def settle_gc() -> None:
    """After a Coder has loaded: freeze what is loaded and collect young objects less often.

    The loaded index is ~1.6 M long-lived objects; left to the collector, each full collection walks
    them all and stalls the note that set it off for ~0.5 s. Frozen, they are never walked again."""
    gc.freeze()
    gc.set_threshold(*ENGINE_GC_THRESHOLD)


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
