"""Code references inside ICD-10-CM tabular notes ("heart failure due to hypertension (I11.0)", "(O10-O11, O13-O16)"),
and the notes a code inherits from its category and subcategories."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from codesets.types import Code, CodeSet, normalize_code

_PARENS = re.compile(r"\(([^()]*)\)")
#: One reference: a code or its start (I11.0, I13.-, I97.13-), or a range of them (O10-O11, K85-K86.-).
_ITEM = re.compile(r"^(?P<lo>[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-|-(?P<hi>[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-)?)?$")


@dataclass(frozen=True, slots=True)
class CodeRef:
    """Codes from `lo` to `hi` inclusive, each bound read as a prefix (I13 covers I13.0 … I13.2)."""

    lo: str
    hi: str

    def matches(self, key: str) -> bool:
        """Whether the code with lookup key `key` falls in the reference."""
        return key[: len(self.lo)] >= self.lo and key[: len(self.hi)] <= self.hi

    def __str__(self) -> str:
        return self.lo if self.lo == self.hi else f"{self.lo}-{self.hi}"


@dataclass(frozen=True, slots=True)
class Note:
    """One tabular note line (an excluded condition, a code-first or use-additional instruction) and its references."""

    text: str
    refs: tuple[CodeRef, ...]
    owner: str  # the code (or category) the note is written at

    def matches(self, key: str) -> bool:
        # A loop, not any() over a generator: asked for every pair of a note's ~50 suggested codes.
        for r in self.refs:
            if r.matches(key):
                return True
        return False


def parse_refs(text: str) -> tuple[CodeRef, ...]:
    """The code references in the parentheses of a note line; none when it names no code."""
    refs: list[CodeRef] = []
    for group in _PARENS.findall(text):
        for item in group.split(","):
            match = _ITEM.match(item.strip().upper())
            if match:
                lo = normalize_code(match["lo"])
                refs.append(CodeRef(lo, normalize_code(match["hi"]) if match["hi"] else lo))
    return tuple(refs)


def lineage(codeset: CodeSet, code: Code) -> list[Code]:
    """`code` and its ancestors up to the category, nearest first."""
    chain = [code]
    while chain[-1].parent and (parent := codeset.get(chain[-1].parent)) is not None:
        chain.append(parent)
    return chain


@lru_cache(maxsize=4096)
def _notes(codeset: CodeSet, key: str, kind: str) -> tuple[tuple[Note, ...], ...]:
    code = codeset.get(key)
    if code is None:
        return ()
    groups = []
    for level in lineage(codeset, code):
        lines: tuple[str, ...] = getattr(level, kind)
        if lines:
            groups.append(tuple(Note(line, parse_refs(line), level.code) for line in lines))
    return tuple(groups)


def excludes1(codeset: CodeSet, key: str) -> list[Note]:
    """Every Excludes1 line that applies to a code, its own and its ancestors'."""
    return [note for group in _notes(codeset, key, "excludes1") for note in group]


def instructions(codeset: CodeSet, key: str, kind: str) -> tuple[tuple[Note, ...], ...]:
    """A code's `code_first` or `use_additional` notes, one group per level that has them (any one
    reference of a group satisfies it, since a note's lines are its alternatives)."""
    return _notes(codeset, key, kind)
