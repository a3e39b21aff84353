"""The words a code is known by: its description's and synonyms' normalized content words."""

from __future__ import annotations

from codesets.text import STOPWORDS, term_words
from codesets.types import CodeSet, normalize_code
from medcode.types import System

#: A PCS prefix (BW20) is known by the words of the first codes under it.
_PREFIX_SAMPLE = 50


class CodeWords:
    """`words(system, code)`: content words of a code, or of the codes under a PCS prefix."""

    def __init__(self, codesets: dict[System, CodeSet]) -> None:
        self.codesets = codesets
        self._cache: dict[tuple[System, str], frozenset[str]] = {}

    def _texts(self, system: System, key: str) -> list[str]:
        codeset = self.codesets.get(system)
        if codeset is None:
            return []
        record = codeset.get(key)
        if record is not None:
            return [record.description, *record.synonyms]
        if system != "ICD-10-PCS" or len(key) >= 7:
            return []
        return [t for c in codeset.with_prefix(key)[:_PREFIX_SAMPLE] for t in (c.description, *c.synonyms)]

    def __call__(self, system: System, code: str) -> frozenset[str]:
        key = (system, normalize_code(code))
        if key not in self._cache:
            self._cache[key] = frozenset(w for t in self._texts(*key) for w in term_words(t) if w not in STOPWORDS)
        return self._cache[key]
