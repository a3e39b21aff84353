"""The record of one code and the set of codes of one release."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from medcode.errors import ErrorCode, MedcodeError
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
