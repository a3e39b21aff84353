"""The lexical channel: code-set terms matched in a note, exactly or by word coverage.

Terms and notes are cut into the same normalized words (`codesets.text`), so "oedemas" in a note
meets "Edema" in the tabular list. Two matchers:

* exact: a run of note words equal to a whole term, at every length that matches;
* coverage: within one clause, the IDF-weighted share of a term's words that the clause holds,
  so "CT of the abdomen" meets "Computerized Tomography (CT Scan) of Abdomen".

A literal mention therefore never loses to embedding noise.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, overload

import numpy as np

from codesets.text import STOPWORDS, WORD_FORMS_DIGEST, clauses, words
from medcode.types import System

#: Changes whenever matching would: a lexicon built under another version is stale.
VERSION = "2-" + WORD_FORMS_DIGEST


@dataclass(frozen=True, slots=True)
class Term:
    """A searchable text of one code."""

    code: str
    system: System
    text: str
    kind: str  # "description", "synonym", "usage"
    #: For usage terms: the share of coded notes holding the term that carry the code.
    precision: float = 1.0

    def __reduce__(self) -> tuple[type[Term], tuple[Any, ...]]:
        # A constructor call: cheaper to unpickle than the dataclass default, which calls `fields()`.
        return Term, (self.code, self.system, self.text, self.kind, self.precision)


_TERM_FIELDS = tuple(f.name for f in fields(Term))


class TermTable(Sequence[Term]):
    """Terms kept as columns of plain values, each `Term` made when first asked for.

    A lexicon holds ~470k terms and a note touches a few thousand: unpickling the columns takes a
    fraction of a second where unpickling 470k dataclasses took seconds of every start-up.
    """

    def __init__(self, terms: Iterable[Term]) -> None:
        rows = [tuple(getattr(t, name) for name in _TERM_FIELDS) for t in terms]
        columns = tuple(zip(*rows, strict=True)) if rows else ((),) * len(_TERM_FIELDS)
        self._columns: tuple[tuple[Any, ...], ...] = columns
        self._made: dict[int, Term] = {}

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, i: int) -> Term: ...
    @overload
    def __getitem__(self, i: slice) -> list[Term]: ...
    def __getitem__(self, i: int | slice) -> Term | list[Term]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        term = self._made.get(i)
        if term is None:
            if not -len(self) <= i < len(self):
                raise IndexError(i)
            term = self._made.setdefault(i, Term(*(column[i] for column in self._columns)))
        return term

    def __getstate__(self) -> tuple[tuple[Any, ...], ...]:
        return self._columns

    def __setstate__(self, columns: tuple[tuple[Any, ...], ...]) -> None:
        self._columns = columns
        self._made = {}


class Hit(NamedTuple):
    """A term found in a note (a named tuple: a note makes ~700, and a tuple is made ~4x faster than a
    frozen dataclass)."""

    term: Term
    start: int
    end: int
    match: str  # "exact" or "coverage"
    score: float  # 1.0 for exact; the IDF-weighted coverage otherwise


class Lexicon:
    """All terms of the loaded code sets, indexed for exact and coverage matching."""

    def __init__(self, terms: Iterable[Term], *, max_words: int = 10) -> None:
        kept: list[Term] = []
        self._exact: dict[tuple[str, ...], list[int]] = defaultdict(list)
        postings: dict[str, list[int]] = defaultdict(list)
        self._content: list[tuple[str, ...]] = []
        for term in terms:
            toks = tuple(w for w, _, _ in words(term.text))
            if not toks or len(toks) > max_words:
                continue
            i = len(kept)
            kept.append(term)
            self._exact[toks].append(i)
            content = tuple(dict.fromkeys(t for t in toks if t not in STOPWORDS))
            self._content.append(content)
            for t in content:
                postings[t].append(i)
        #: A lexicon pickled before `TermTable` holds a plain list here; both read the same.
        self.terms: Sequence[Term] = TermTable(kept)
        n = max(len(self.terms), 1)
        self.idf = {t: math.log(n / len(p)) for t, p in postings.items()}
        self._post_arrays = {t: np.asarray(p, dtype=np.int64) for t, p in postings.items()}
        self._total = np.array([sum(self.idf[t] for t in c) or 1.0 for c in self._content])

    def __len__(self) -> int:
        return len(self.terms)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_reach", None)  # derived on first use
        state.pop("_local", None)  # coverage's work space, per thread
        return state

    def _scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's work space for `coverage`: a float row and an index row over all terms (~7 MB),
        made on first use; the float row is all zeros between calls."""
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        rows: tuple[np.ndarray, np.ndarray] | None = getattr(local, "rows", None)
        if rows is None:
            n = len(self._total)
            rows = local.rows = (np.zeros(n), np.zeros(n, dtype=np.int64))
        return rows

    def _longest_from(self) -> dict[str, int]:
        """Per word, the most words of a term that starts with it (built on first use, ~0.1 s)."""
        reach: dict[str, int] | None = self.__dict__.get("_reach")
        if reach is None:
            reach = {}
            for key in self._exact:
                if len(key) > reach.get(key[0], 0):
                    reach[key[0]] = len(key)
            self.__dict__["_reach"] = reach
        return reach

    def exact(self, text: str, start: int = 0, end: int | None = None) -> list[Hit]:
        """Whole terms spelled out in text[start:end], longest first at each position."""
        toks = words(text[start:end])
        seq = [w for w, _, _ in toks]
        hits: list[Hit] = []
        # Only the lengths some term starting with the word has: most words start none, or short ones.
        reach = self._longest_from()
        for i in range(len(seq)):
            for n in range(min(reach.get(seq[i], 0), len(seq) - i), 0, -1):
                found = self._exact.get(tuple(seq[i : i + n]))
                if found:
                    s, e = toks[i][1] + start, toks[i + n - 1][2] + start
                    hits.extend(Hit(self.terms[j], s, e, "exact", 1.0) for j in found)
        return hits

    def coverage(self, text: str, start: int = 0, end: int | None = None, *, threshold: float = 0.6,
                 min_idf: float = 2.0, limit: int = 200) -> list[Hit]:
        """Terms most of whose (IDF-weighted) words occur in one clause of text[start:end]."""
        hits: list[Hit] = []
        for cs, ce in clauses(text, start, end):
            where: dict[str, tuple[int, int]] = {}
            for w, s, e in words(text[cs:ce]):
                if w not in STOPWORDS:
                    where.setdefault(w, (s + cs, e + cs))
            # A frequent word alone ("pain", "left") proposes nothing, but still counts once proposed.
            keys = [w for w in where if w in self._post_arrays]
            if not any(self.idf[w] >= min_idf for w in keys):
                continue
            # Only terms a strong word touches can be proposed: a few thousand of the ~470k.
            strong = [self._post_arrays[w] for w in keys if self.idf[w] >= min_idf]
            total, slot = self._scratch()
            reached = strong[0] if len(strong) == 1 else np.concatenate(strong)
            # One entry per term, without sorting: the last position of each term is where it stays.
            order = np.arange(len(reached))
            slot[reached] = order
            touched = reached[slot[reached] == order]
            # Each word's IDF is added into a scratch row over all terms, word by word in clause order, so a
            # term's coverage is the same float whichever words reach it. A frequent word's posting (tens of
            # thousands of terms) is only looked up for the touched terms, not written whole.
            for w in keys:
                posting, idf = self._post_arrays[w], self.idf[w]
                if idf >= min_idf:
                    total[posting] += idf
                else:
                    at = np.searchsorted(posting, touched)  # postings are sorted term numbers
                    np.minimum(at, len(posting) - 1, out=at)
                    total[touched[posting[at] == touched]] += idf
            weight = total[touched]
            total[touched] = 0.0  # every term written is a touched one
            cov = weight / self._total[touched]
            keep = cov >= threshold
            cand, cand_cov = touched[keep], cov[keep]
            top = np.lexsort((cand, -cand_cov))[:limit]
            for j, score in zip(cand[top].tolist(), cand_cov[top].tolist(), strict=True):
                first, last = ce, cs  # the span from the first to the last of the term's words found
                for t in self._content[j]:
                    at = where.get(t)
                    if at is not None:
                        first, last = min(first, at[0]), max(last, at[1])
                hits.append(Hit(self.terms[j], first, last, "coverage", score))
        return hits
