"""Type-ahead over the loaded code sets: by code prefix, or by the words of descriptions and inclusion terms
(the last word may be a prefix: "acute myocardial inf"). The phrases the lexicon mines from CodiEsp are left
out: they are noisy for a search box ("acquired pneumonia" -> B20).

Words are compared as typed and as the lexicon normalizes them ("esophageal" meets "esophagus",
"tumours" meets "tumor"); a query's abbreviations ("chf", nlp/resources/abbreviations.json) and the
words coders use for tabular ones ("cancer": malignant neoplasm, codesets/resources/search_terms.json)
are searched as their long forms too."""

from __future__ import annotations

import bisect
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files

import numpy as np

from codesets.text import normalize_word
from codesets.types import Code, CodeSet, normalize_code
from medcode.types import System
from nlp.rules import load_resource
from serving.schemas import CodeHit

WORD = re.compile(r"[a-z0-9]+")
CODE_LIKE = re.compile(r"^[A-Za-z0-9][0-9A-Za-z]{0,2}(\.?[0-9A-Za-z]{0,4})$")
MAX_PREFIX_WORDS = 200
#: At most this many rewritten forms of one query are searched besides the query itself.
MAX_VARIANTS = 4


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@cache
def long_forms() -> dict[str, tuple[str, ...]]:
    """Lower-case short form -> the long forms a query word may stand for (abbreviations and coders' words)."""
    found: dict[str, list[str]] = defaultdict(list)
    data = load_resource("abbreviations.json")
    for short, long in data["abbreviations"].items():
        found[short.lower()].append(long)
    for short, meanings in data.get("ambiguous", {}).items():
        found[short.lower()].extend(meanings)
    terms = json.loads(files("codesets").joinpath("resources", "search_terms.json").read_text("utf-8"))["terms"]
    for short, long in terms.items():
        found[short.lower()].insert(0, long)
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}


def variants(query: str) -> list[str]:
    """The query's rewritten forms: each abbreviation or coder's word (one or two words long) replaced."""
    words = _words(query)
    forms: list[str] = []
    table = long_forms()
    for size in (2, 1):
        for i in range(len(words) - size + 1):
            for long in table.get(" ".join(words[i : i + size]), ()):
                forms.append(" ".join([*words[:i], long, *words[i + size:]]))
    trailing = " " if query.endswith(" ") else ""
    return [f + trailing for f in dict.fromkeys(forms)][:MAX_VARIANTS]


class CodeSearch:
    """Words of code texts → codes, built once and then read by many threads at once."""

    def __init__(self, codesets: Iterable[CodeSet], usage: Mapping[tuple[System, str], int] | None = None) -> None:
        self.codesets: dict[System, CodeSet] = {cs.system: cs for cs in codesets}
        self._usage = usage or {}
        self._texts: list[tuple[Code, str]] = []
        postings: dict[str, list[int]] = defaultdict(list)

        def index(code: Code, text: str) -> None:
            i = len(self._texts)
            self._texts.append((code, text))
            for w in {*(raw := _words(text)), *(normalize_word(w) for w in raw)}:
                postings[w].append(i)

        for cs in self.codesets.values():
            for code in cs:
                for text in (code.description, *code.synonyms[:8]):
                    index(code, text)
        # Sorted int32 arrays: a tenth of the memory of Python sets, and fast to intersect.
        self._postings = {w: np.asarray(p, dtype=np.int32) for w, p in postings.items()}
        self._vocabulary = sorted(self._postings)
        for cs in self.codesets.values():
            cs.with_prefix("A")  # builds the code-prefix index now, not on the first request

    def _matching(self, word: str, *, prefix: bool) -> np.ndarray:
        if not prefix:
            exact = self._postings.get(word, np.zeros(0, dtype=np.int32))
            folded = self._postings.get(normalize_word(word), exact)
            return exact if folded is exact else np.union1d(exact, folded)
        lo = bisect.bisect_left(self._vocabulary, word)
        found = [self._postings[w] for w in self._vocabulary[lo : lo + MAX_PREFIX_WORDS] if w.startswith(word)]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int32)

    def search(self, query: str, *, system: System | None = None, limit: int = 20) -> list[CodeHit]:
        """The best matches of `query`: the code itself, codes under it, then codes whose texts hold its words."""
        hits: dict[tuple[str, str], CodeHit] = {}
        systems = [system] if system else list(self.codesets)
        if CODE_LIKE.match(query.strip()):
            key = normalize_code(query)
            for s in systems:
                cs = self.codesets.get(s)
                if cs is None:
                    continue
                exact = cs.get(key)
                for c in ([exact] if exact else []) + cs.with_prefix(key)[:limit]:
                    if len(hits) < limit:
                        hits.setdefault((c.system, c.key), self._hit(c, c.code))
        # A known short form is meant as its long form: "afib" is atrial fibrillation before "afibrinogenemia".
        for form in [*variants(query), query]:
            if len(hits) < limit:
                self._by_words(form, systems, limit, hits)
        return list(hits.values())

    def _by_words(self, query: str, systems: list[System], limit: int,
                  hits: dict[tuple[str, str], CodeHit]) -> None:
        words = _words(query)
        if not words:
            return
        ids: np.ndarray | None = None
        for n, w in enumerate(words):
            found = self._matching(w, prefix=n == len(words) - 1 and not query.endswith(" "))
            ids = found if ids is None else np.intersect1d(ids, found, assume_unique=True)
            if not len(ids):
                return
        candidates = [self._texts[i] for i in ids.tolist()] if ids is not None else []
        # Codes coders use most first, then descriptions before inclusion terms, billable codes, short texts.
        candidates = sorted((ct for ct in candidates if ct[0].system in systems), key=lambda ct: (
            -self._usage.get((ct[0].system, ct[0].key), 0), ct[1] != ct[0].description, not ct[0].billable,
            len(ct[1]), ct[0].key))
        for code, text in candidates:
            if len(hits) >= limit:
                break
            hits.setdefault((code.system, code.key), self._hit(code, text))

    @staticmethod
    def _hit(code: Code, matched: str) -> CodeHit:
        return CodeHit(code=code.code, system=code.system, description=code.description, billable=code.billable,
                       matched=matched)
