"""Training pairs for the encoder: texts that should land near a code's description, and near misses.

Every builder is pure (code sets, resources and coded notes in, pairs out) so each can be tested on
a handful of records. Sources:

* ``cm_synonym``: an ICD-10-CM inclusion term or synonym -> its code's description;
* ``pcs_paraphrase`` / ``pcs_axes``: an ICD-10-PCS plain-language paraphrase ("laparoscopic removal
  of gallbladder"), or its axis values in a row, -> the code's description;
* ``abbreviation``: a clinical abbreviation -> its expansion, and a description with the
  expansion written short ("COPD with (acute) exacerbation") -> the description;
* ``codiesp``: the clause of a coded CodiEsp *train* note that best overlaps a gold code's words
  -> that code's description (dev is the evaluation split and never feeds training).

Hard negatives come from the hierarchy: a sibling of the other laterality, the other episode of care
(7th character) or any sibling for ICD-10-CM; the code one axis away (approach first) for PCS.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from codesets.text import STOPWORDS, term_words
from codesets.neighbors import clause_texts
from codesets.types import Code, CodeSet, normalize_code
from codesets.usage import CodedNote

SOURCES = ("codiesp", "cm_synonym", "pcs_paraphrase", "pcs_axes", "abbreviation")
_LATERAL = {"left": "right", "right": "left"}
_WORD = re.compile(r"\w+")
_LATERAL_WORD = re.compile(r"\b(left|right)\b", re.IGNORECASE)
#: PCS character positions, most telling first, whose change makes a near-miss procedure:
#: approach (open vs laparoscopic), body part, device, qualifier.
_PCS_NEAR_AXES = (4, 3, 5, 6)


@dataclass(frozen=True, slots=True)
class Pair:
    """One training example: `anchor` should embed near `positive` and farther from `hard_negative`."""

    anchor: str
    positive: str
    hard_negative: str | None
    source: str
    #: The positive's code (normalized), so sampling can cap codes and a batch never holds one twice.
    code: str = ""


def _content(text: str) -> frozenset[str]:
    return frozenset(w for w in term_words(text) if w not in STOPWORDS)


def _swap_laterality(text: str) -> str:
    return _LATERAL_WORD.sub(lambda m: _LATERAL[m.group(1).lower()], text.lower())


def cm_negative(codeset: CodeSet, code: Code, rng: random.Random, *, avoid: Iterable[str] = ()) -> Code | None:
    """A near miss for an ICD-10-CM code: the other side, else another episode of care, else any sibling."""
    if not code.parent:
        return None
    skip = {code.key, *(normalize_code(a) for a in avoid)}
    siblings = [c for c in codeset.children(code.parent) if c.key not in skip]
    if not siblings:
        return None
    if _LATERAL_WORD.search(code.description):
        mirrored = _swap_laterality(code.description)
        for c in siblings:
            if c.description.lower() == mirrored:
                return c
    if len(code.key) == 7:
        episode = [c for c in siblings if c.key[:6] == code.key[:6]]
        if episode:
            return rng.choice(episode)
    return rng.choice(siblings)


class PcsNeighbours:
    """ICD-10-PCS codes one axis apart, found through wildcard keys (0FT44ZZ -> 0FT4*ZZ)."""

    def __init__(self, codeset: CodeSet) -> None:
        self.codeset = codeset
        self._by_key: dict[tuple[int, str], list[str]] = defaultdict(list)
        for c in codeset:
            if len(c.key) == 7:
                for p in _PCS_NEAR_AXES:
                    self._by_key[(p, c.key[:p] + c.key[p + 1 :])].append(c.key)

    def negative(self, code: Code, rng: random.Random, *, avoid_prefixes: Iterable[str] = ()) -> Code | None:
        """The code that differs from `code` in the most telling axis that has another value."""
        avoid = tuple(avoid_prefixes)
        for p in _PCS_NEAR_AXES:
            others = [k for k in self._by_key.get((p, code.key[:p] + code.key[p + 1 :]), [])
                      if k != code.key and not (avoid and k.startswith(avoid))]
            if others:
                return self.codeset.get(rng.choice(sorted(others)))
        return None


def cm_synonym_pairs(codeset: CodeSet, *, per_code: int = 2, seed: int = 0) -> list[Pair]:
    """Inclusion terms and synonyms -> description, skipping variants that add no word of their own."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for code in codeset:
        own = _content(code.description)
        novel = [s for s in code.synonyms if not _content(s) <= own]
        for synonym in novel[:per_code]:
            negative = cm_negative(codeset, code, rng)
            pairs.append(Pair(synonym, code.description, negative.description if negative else None,
                              "cm_synonym", code.key))
    return pairs


def pcs_axes_text(code: Code) -> str:
    """The axis values that name a procedure, in a row: "resection gallbladder percutaneous endoscopic"."""
    values = [meaning for name, meaning in code.axes[2:]
              if meaning and meaning != "None" and not meaning.startswith("No ") and name != "section"]
    return " ".join(values).lower()


def pcs_pairs(codeset: CodeSet, *, per_table: int = 40, seed: int = 0,
              neighbours: PcsNeighbours | None = None) -> list[Pair]:
    """Paraphrases and axis rows -> description, for a sample of each PCS table's codes."""
    rng = random.Random(seed)
    near = neighbours or PcsNeighbours(codeset)
    tables: dict[str, list[Code]] = defaultdict(list)
    for code in codeset:
        tables[code.key[:3]].append(code)
    pairs: list[Pair] = []
    for table in sorted(tables):
        members = sorted(tables[table], key=lambda c: c.key)
        for code in rng.sample(members, min(per_table, len(members))):
            negative = near.negative(code, rng)
            neg_text = negative.description if negative else None
            for paraphrase in code.synonyms[:2]:
                pairs.append(Pair(paraphrase, code.description, neg_text, "pcs_paraphrase", code.key))
            axes = pcs_axes_text(code)
            if axes and axes != code.description.lower():
                pairs.append(Pair(axes, code.description, neg_text, "pcs_axes", code.key))
    return pairs


def abbreviation_pairs(abbreviations: Mapping[str, str], descriptions: Iterable[tuple[str, str]], *,
                       per_abbreviation: int = 3, seed: int = 0) -> list[Pair]:
    """Abbreviation -> expansion, and (code, description) rows with the expansion written short -> description."""
    rng = random.Random(seed)
    by_expansion: dict[str, str] = {}
    for short, long_form in sorted(abbreviations.items()):
        # "ACEI" and "ACEi" expand alike: one pair, the upper-case spelling.
        if long_form.lower() not in by_expansion or short.isupper():
            by_expansion[long_form.lower()] = short
    rows = sorted(descriptions)
    # Word -> rows holding it, so each expansion is searched for only where its rarest word occurs.
    holders: dict[str, list[int]] = defaultdict(list)
    for i, (_, description) in enumerate(rows):
        for w in set(_WORD.findall(description.lower())):
            holders[w].append(i)
    pairs: list[Pair] = []
    for long_form, short in sorted(by_expansion.items()):
        pairs.append(Pair(short, long_form, None, "abbreviation", f"abbr:{short}"))
        needed = _WORD.findall(long_form)
        if not needed:
            continue
        pattern = re.compile(rf"\b{re.escape(long_form)}\b", re.IGNORECASE)
        candidates = min((holders.get(w, []) for w in needed), key=len)
        found = [(i, m.start()) for i in candidates if (m := pattern.search(rows[i][1]))]
        for i, at in rng.sample(found, min(per_abbreviation, len(found))):
            code, description = rows[i]
            shortened = description[:at] + short + description[at + len(long_form):]
            pairs.append(Pair(shortened, description, None, "abbreviation", normalize_code(code)))
    return pairs


def _idf(notes: Sequence[CodedNote]) -> dict[str, float]:
    """Inverse clause frequency over the notes: "patient" and "left" say little, "cholecystectomy" much."""
    df: Counter[str] = Counter()
    n = 0
    for note in notes:
        for clause in clause_texts(note.text):
            n += 1
            df.update(_content(clause))
    return {w: math.log((n + 1) / (k + 1)) + 1.0 for w, k in df.items()}


def _gold_records(codesets: Mapping[str, CodeSet], system: str, key: str, cap: int) -> list[Code]:
    codeset = codesets.get(system)
    if codeset is None:
        return []
    record = codeset.get(key)
    if record is not None:
        return [record]
    # CodiEsp writes many procedures as a 4-character PCS prefix: its codes are the candidates.
    return codeset.with_prefix(key)[:cap] if system == "ICD-10-PCS" else []


def codiesp_pairs(notes: Sequence[CodedNote], codesets: Mapping[str, CodeSet], *, min_coverage: float = 0.6,
                  prefix_cap: int = 400, seed: int = 0, neighbours: PcsNeighbours | None = None) -> list[Pair]:
    """For each gold code of each note, the clause that best covers its words -> the code's description.

    Coverage is the IDF-weighted share of a code text's content words found in the clause; the best
    (clause, code text) wins and must reach `min_coverage`. For a PCS prefix the best-covered code
    under it is the positive. Pass CodiEsp train only: dev is where the encoder is judged.
    """
    rng = random.Random(seed)
    idf = _idf(notes)
    near = neighbours or (PcsNeighbours(codesets["ICD-10-PCS"]) if "ICD-10-PCS" in codesets else None)
    pairs: list[Pair] = []
    for note in notes:
        pieces = [(c, _content(c)) for c in clause_texts(note.text)]
        gold = sorted(note.codes)
        pcs_gold = tuple(k for s, k in gold if s == "ICD-10-PCS")
        cm_gold = [k for s, k in gold if s == "ICD-10-CM"]
        for system, key in gold:
            best: tuple[float, str, Code] | None = None
            for record in _gold_records(codesets, system, key, prefix_cap):
                for text in (record.description, *record.synonyms):
                    words = _content(text)
                    total = sum(idf.get(w, 1.0) for w in words)
                    if not total:
                        continue
                    for clause, have in pieces:
                        score = sum(idf.get(w, 1.0) for w in words & have) / total
                        # Ties go to the shortest description: under a PCS prefix, the plainest code.
                        if best is None or (score, -len(record.description)) > (best[0], -len(best[2].description)):
                            best = (score, clause, record)
            if best is None or best[0] < min_coverage:
                continue
            _, clause, record = best
            if system == "ICD-10-PCS":
                negative = near.negative(record, rng, avoid_prefixes=pcs_gold) if near else None
            else:
                negative = cm_negative(codesets[system], record, rng, avoid=cm_gold)
            pairs.append(Pair(clause, record.description, negative.description if negative else None,
                              "codiesp", record.key))
    return pairs


def sample(pairs: Iterable[Pair], *, total: int, weights: Mapping[str, float],
           per_code: Mapping[str, int] | int = 2, seed: int = 0) -> list[Pair]:
    """`total` pairs drawn by source weight, at most `per_code` (per source, or one number) per code;
    a source short of its share leaves the rest to the others. Deterministic for a seed."""
    rng = random.Random(seed)
    by_source: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        by_source[p.source].append(p)
    pools: dict[str, list[Pair]] = {}
    for source in sorted(by_source):
        if weights.get(source, 0.0) <= 0:
            continue
        pool = sorted(by_source[source], key=lambda p: (p.code, p.anchor, p.positive))
        rng.shuffle(pool)
        cap = per_code if isinstance(per_code, int) else per_code.get(source, 2)
        seen: Counter[str] = Counter()
        kept = []
        for p in pool:
            if seen[p.code] < cap:
                seen[p.code] += 1
                kept.append(p)
        pools[source] = kept
    chosen: dict[str, int] = {s: 0 for s in pools}
    left = total
    open_ = [s for s in pools if pools[s]]
    while left > 0 and open_:
        weight = sum(weights[s] for s in open_)
        grant = {s: max(1, int(left * weights[s] / weight)) for s in open_}
        for s in open_:
            take = min(grant[s], len(pools[s]) - chosen[s], left)
            chosen[s] += take
            left -= take
        open_ = [s for s in open_ if chosen[s] < len(pools[s])]
    out = [p for s in sorted(pools) for p in pools[s][: chosen[s]]]
    rng.shuffle(out)
    return out


def batches(pairs: Sequence[Pair], batch_size: int, *, seed: int = 0) -> list[list[Pair]]:
    """Pairs cut into full batches in which no code and no positive text comes twice: in-batch
    negatives must really be negatives. A pair goes to the first open batch that can take it."""
    rng = random.Random(seed)
    order = list(pairs)
    rng.shuffle(order)
    out: list[list[Pair]] = []
    open_: list[tuple[list[Pair], set[str]]] = []
    for p in order:
        keys = {f"c:{p.code}", f"t:{p.positive.lower()}"}
        target = next((b for b in open_ if not b[1] & keys), None)
        if target is None:
            target = ([], set())
            open_.append(target)
        target[0].append(p)
        target[1].update(keys)
        if len(target[0]) == batch_size:
            out.append(target[0])
            open_.remove(target)
    return out
