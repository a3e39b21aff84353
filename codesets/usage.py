"""How coders use the codes: frequencies and the phrases that go with each code, mined from coded notes.

A coded corpus (CodiEsp train by default, a site's own decisions later) tells two things the code
sets do not: how often each code is assigned (the prior), and which phrases of a note make coders
assign it ("chest X-ray" -> BW03ZZZ, "edemas" -> R60.9). Mined phrases become lexicon terms of
kind "usage" carrying their precision, so each still points at its evidence in the note.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from codesets.lexicon import Term
from codesets.text import STOPWORDS, clauses, words
from codesets.types import normalize_code
from medcode.types import System

PCS_PREFIX = 4  # CodiEsp coders wrote 4 characters where they could not tell all 7
#: The code prefixes `Usage.prefix_priors` counts under: chapter or section, category, and two finer levels.
PREFIX_SIZES = (1, 3, 4, 5)


def family(system: str, code: str) -> str:
    """The code's family: its ICD-10-CM category (3 characters) or its PCS 4-character prefix."""
    return code[:3] if system == "ICD-10-CM" else code[:PCS_PREFIX]


@dataclass(frozen=True, slots=True)
class CodedNote:
    """A note with the codes coders gave it, keyed `(system, code)`."""

    id: str
    text: str
    codes: frozenset[tuple[System, str]]


@dataclass
class Usage:
    """Code frequencies and mined phrase -> code rules."""

    n_notes: dict[System, int] = field(default_factory=dict)
    counts: dict[tuple[System, str], int] = field(default_factory=dict)
    rules: list[Term] = field(default_factory=list)
    source: str = ""

    #: Code counts summed per (system, first characters), built on first use (see `prefix_priors`).
    _under: dict[tuple[System, str], int] | None = field(default=None, init=False, repr=False, compare=False)

    def prior(self, system: System, code: str) -> float:
        """The share of notes (of that system) carrying `code`, smoothed; codes never seen get a floor."""
        n = self.n_notes.get(system, 0)
        return (self.counts.get((system, normalize_code(code)), 0) + 0.1) / (n + 1.0)

    def prefix_priors(self, system: System, code: str) -> tuple[float, ...]:
        """For each of `PREFIX_SIZES`, the codings per note (of that system) of any code starting with the
        code's first that many characters, smoothed: how much coders use the code's neighbourhood (chapter,
        category, subcategory), which speaks for a code they were seldom or never seen to assign."""
        if self._under is None:
            under: dict[tuple[System, str], int] = defaultdict(int)
            for (s, c), count in self.counts.items():
                for size in PREFIX_SIZES:
                    if len(c) >= size:
                        under[(s, c[:size])] += count
            self._under = dict(under)
        n = self.n_notes.get(system, 0) + 1.0
        bare = normalize_code(code)
        return tuple((self._under.get((system, bare[:size]), 0) + 0.1) / n for size in PREFIX_SIZES)

    def save(self, path: Path) -> None:
        rules = [[t.code, t.system, t.text, t.precision, t.kind] for t in self.rules]
        counts = [[s, c, n] for (s, c), n in sorted(self.counts.items())]
        path.write_text(json.dumps({"source": self.source, "n_notes": self.n_notes, "counts": counts,
                                    "rules": rules}))

    @classmethod
    def load(cls, path: Path) -> Usage:
        raw = json.loads(path.read_text())
        return cls(
            n_notes=raw["n_notes"],
            counts={(s, c): n for s, c, n in raw["counts"]},
            rules=[Term(c, s, t, k, p) for c, s, t, p, k in raw["rules"]],
            source=raw["source"],
        )


def _ngrams(text: str, max_n: int) -> dict[tuple[str, ...], str]:
    """Word n-grams within clauses, not starting or ending with a stop word, with a surface form."""
    out: dict[tuple[str, ...], str] = {}
    for cs, ce in clauses(text):
        toks = words(text[cs:ce])
        for i in range(len(toks)):
            if toks[i][0] in STOPWORDS or toks[i][0].isdigit():
                continue
            for n in range(1, max_n + 1):
                if i + n > len(toks):
                    break
                last = toks[i + n - 1][0]
                if last in STOPWORDS or last.isdigit():
                    continue
                key = tuple(w for w, _, _ in toks[i : i + n])
                out.setdefault(key, text[cs + toks[i][1] : cs + toks[i + n - 1][2]])
    return out


def mine(notes: Iterable[CodedNote], *, max_n: int = 4, min_support: int = 2, min_precision: float = 0.2,
         cooccurrence: tuple[int, float] = (2, 0.4), related: Callable[[System, str], frozenset[str]] | None = None,
         source: str = "") -> Usage:
    """Count codes and keep the n-grams whose presence predicts a code (support and precision floors).

    related: the normalized words of a code's own texts. A phrase sharing one of them ("edemas" for
    R60.9) is a rule of kind "usage"; a phrase that merely co-occurs ("upper quadrant" with R59.9)
    is kept only when it is at least as strong as `cooccurrence` (support, precision) and is of kind
    "cooccurrence", so the ranker and the coder can tell the two apart.
    """
    df: Counter[tuple[str, ...]] = Counter()
    co: dict[tuple[str, ...], Counter[tuple[System, str]]] = defaultdict(Counter)
    counts: Counter[tuple[System, str]] = Counter()
    n_notes: Counter[System] = Counter()
    surface: dict[tuple[str, ...], str] = {}
    for note in notes:
        grams = _ngrams(note.text, max_n)
        codes = {(s, normalize_code(c)) for s, c in note.codes}
        counts.update(codes)
        n_notes.update({s for s, _ in codes})
        # A phrase also votes for the PCS 4-character prefix: "abdominal CT" stands for BW20 whether
        # the coder wrote BW20 or completed it to BW20ZZZ, so the two codings pool their evidence.
        labels = codes | {(s, c[:PCS_PREFIX]) for s, c in codes if s == "ICD-10-PCS"}
        for g, form in grams.items():
            df[g] += 1
            surface.setdefault(g, form)
            co[g].update(labels)
    rules: list[Term] = []
    for g in sorted(co):
        for (system, code), k in sorted(co[g].items()):
            if k < min_support:
                continue
            # +1 in the denominator: a phrase seen twice with a code is not a certainty.
            precision = k / (df[g] + 1.0)
            if precision < min_precision:
                continue
            own = related(system, code) if related else frozenset(g)
            if own.intersection(w for w in g if w not in STOPWORDS):
                rules.append(Term(code, system, surface[g], "usage", round(precision, 4)))
            elif k >= max(min_support, cooccurrence[0]) and precision >= max(min_precision, cooccurrence[1]):
                rules.append(Term(code, system, surface[g], "cooccurrence", round(precision, 4)))
    return Usage(n_notes=dict(n_notes), counts=dict(counts), rules=rules, source=source)


def read_codiesp(split_dir: Path, *, split: str | None) -> list[CodedNote]:
    """CodiEsp's layout: `text_files_en/*.txt` and `{split}D.tsv` / `{split}P.tsv` (id, code); with no
    `split`, every `*D.tsv` and `*P.tsv` of the folder (a site's own coded notes, named as it likes)."""
    codes: dict[str, set[tuple[System, str]]] = defaultdict(set)
    for suffix, system in (("D", "ICD-10-CM"), ("P", "ICD-10-PCS")):
        tables = [split_dir / f"{split}{suffix}.tsv"] if split else sorted(split_dir.glob(f"*{suffix}.tsv"))
        for tsv in (t for t in tables if t.exists()):
            with tsv.open(encoding="utf-8") as fh:
                for row in csv.reader(fh, delimiter="\t"):
                    if len(row) >= 2:
                        codes[row[0]].add((system, normalize_code(row[1])))  # type: ignore[arg-type]
    notes = []
    for f in sorted((split_dir / "text_files_en").glob("*.txt")):
        notes.append(CodedNote(f.stem, f.read_text(encoding="utf-8"), frozenset(codes.get(f.stem, set()))))
    return notes
