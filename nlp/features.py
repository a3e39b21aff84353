"""Features: what the ranker reads of each code in a note (`FEATURES`), from its candidates, its family,
the code itself, the whole note and the sides the note names.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from codesets.text import STOPWORDS, words
from codesets.types import CodeSet
from codesets.usage import Usage, family
from medcode.types import Assertion, System
from nlp.evidence import CodeCandidates

FEATURES: tuple[str, ...] = (
    "exact", "exact_description", "fuzzy", "usage", "usage_spans", "cooccurrence", "dense", "dense_rank",
    "prior", "billable", "prefix", "channels", "mentions", "negated_only", "family_only", "uncertain_only",
    "neighbors", "family_exact", "family_fuzzy", "family_usage", "family_dense", "family_size",
    # The note classifier (`codesets.classifier`): the note's words against the code's and its family's.
    "classifier", "classifier_family",
    # The code itself (`code_facts`, `Usage.prefix_priors`): its neighbourhood's use, depth and kind.
    "prior_1", "prior_3", "prior_4", "prior_5", "code_length", "chapter", "unspecified", "other_specified",
    "description_length", "family_codes",
    # Note-level context (`add_note_features`): where and how the code's evidence sits in its note.
    "first_position", "procedure_share", "note_candidates", "dense_gap", "usage_gap", "prior_percentile",
    "description_overlap", "history_share", "treatment_share", "findings_share", "strength",
    # Laterality (`Sides`): a code's side (right, left, bilateral) against the sides its evidence's sentences name.
    "sided", "side_match", "side_conflict", "side_note",
)
#: Sections whose mentions are the patient's past, what was done, and what was found.
_HISTORY = frozenset({"past_medical_history", "past_surgical_history", "family_history"})
_TREATMENT = frozenset({"procedures", "hospital_course", "assessment_and_plan"})
_FINDINGS = frozenset({"physical_exam", "labs", "imaging"})
#: The channels whose best value is also shared across a code's family (see `add_family_features`).
_FAMILY_OF = {"family_exact": "exact", "family_fuzzy": "fuzzy", "family_usage": "usage", "family_dense": "dense"}
_NEGATED: frozenset[Assertion] = frozenset({"negated"})
_FAMILY: frozenset[Assertion] = frozenset({"family"})
_UNCERTAIN: frozenset[Assertion] = frozenset({"possible", "hypothetical"})


FEATURE_DECIMALS = 4


def _rounded(value: float) -> float:
    """`value` to FEATURE_DECIMALS decimals. Most features are 0.0, which `round` (slow: it goes through
    the decimal digits) would return unchanged."""
    return round(value, FEATURE_DECIMALS) if value else value


def code_facts(system: System, code: str, description: str, *, usage: Usage, family_codes: int = 0) -> dict[str, float]:
    """Features of a code whatever the note says: how much coders use its chapter (or PCS section),
    category and subcategory (`usage`), how deep it sits, its chapter, whether it is its family's
    unspecified or "other" code, which coders choose differently, and how many codes its family has."""
    text = description.lower()
    p1, p3, p4, p5 = usage.prefix_priors(system, code)
    return {"prior_1": _rounded(math.log(p1)), "prior_3": _rounded(math.log(p3)),
            "prior_4": _rounded(math.log(p4)), "prior_5": _rounded(math.log(p5)),
            "code_length": float(len(code)), "chapter": float(ord(code[0])) if code else 0.0,
            "unspecified": float("unspecified" in text),
            "other_specified": float(text.startswith("other") or " other " in text),
            "description_length": float(len(description_words(description))),
            "family_codes": _rounded(math.log1p(family_codes))}


def featurize(group_: CodeCandidates, *, usage: Usage, billable: bool, prefix: bool,
              neighbors: dict[tuple[System, str], float] | None = None,
              classified: dict[tuple[System, str], float] | None = None,
              facts: dict[str, float] | None = None, prior: float | None = None) -> dict[str, float]:
    """The feature vector of one code in one note; `neighbors` weighs codes of similar coded notes,
    `classified` holds the note classifier's probabilities for the note (`NoteClassifier.weights`),
    `facts` is the code's `code_facts` under `usage` (computed here, without its description, when not given),
    `prior` its `prior` feature as `Proposed` counted it (computed here when not given)."""
    system, code = group_.system, group_.code
    best: dict[str, float] = {}  # per channel, at least 0.0
    usage_spans: set[tuple[int, int]] = set()
    spans: set[tuple[int, int]] = set()
    dense_rank = exact_description = 0.0
    for c in group_.candidates:
        channel, similarity, features = c.channel, c.similarity, c.features
        # max(best.get(channel, 0.0), similarity) spelled out: this loop runs for every candidate of a note.
        top = best.get(channel)
        if top is None:
            best[channel] = max(0.0, similarity)
        elif similarity > top:
            best[channel] = similarity
        span = (c.mention.start, c.mention.end)
        spans.add(span)
        if channel == "exact" and features.get("description"):
            exact_description = 1.0
        elif channel == "usage":
            usage_spans.add(span)
        elif channel == "dense":
            dense_rank = max(dense_rank, 1.0 / features.get("rank", 1.0))
    assertions = group_.evidence_assertions()
    near = similar_notes_weight(neighbors, system, code)
    # Rounded: the encoder's last digits depend on how texts were batched, and a tree split must not
    # flip on them (suggest_many(notes) has to agree with suggest(note) for each note). Flags and
    # counts are exact already.
    out = {
        "exact": _rounded(best.get("exact", 0.0)),
        "exact_description": exact_description,
        "fuzzy": _rounded(best.get("fuzzy", 0.0)),
        "usage": _rounded(best.get("usage", 0.0)),
        "usage_spans": _rounded(math.log1p(len(usage_spans))),
        "cooccurrence": _rounded(best.get("cooccurrence", 0.0)),
        "dense": _rounded(max(0.0, best.get("dense", 0.0) - group_.ranking.dense_offset)),
        "dense_rank": _rounded(dense_rank),
        "prior": prior if prior is not None else prior_feature(group_, usage),
        "billable": float(billable),
        "prefix": float(prefix),
        "channels": float(len(best)),
        "mentions": _rounded(math.log1p(len(spans))),
        "negated_only": float(assertions <= _NEGATED),
        "family_only": float(assertions <= _FAMILY),
        "uncertain_only": float(assertions <= _UNCERTAIN),
        "neighbors": _rounded(near),
        "classifier": _rounded(classified.get((system, code), 0.0)) if classified else 0.0,
        "classifier_family": _rounded(classified.get((system, family(system, code)), 0.0)) if classified else 0.0,
    }
    out.update(facts if facts is not None else code_facts(system, code, "", usage=usage))
    return out


def similar_notes_weight(neighbors: dict[tuple[System, str], float] | None, system: System, code: str) -> float:
    """How much the note's most similar coded notes carry the code (a PCS code also by its prefix)."""
    if not neighbors:
        return 0.0
    return max(neighbors.get((system, code), 0.0),
               neighbors.get((system, family(system, code)), 0.0) if system == "ICD-10-PCS" else 0.0)


def worth_ranking(group_: CodeCandidates, *, dense_floor: float,
                  neighbors: dict[tuple[System, str], float] | None = None) -> bool:
    """False for a code that only a loose dense match proposes (every candidate dense, none more
    similar than `dense_floor`) and that no similar coded note carries: about 45% of a note's codes,
    which coders almost never assign, not worth their features and trees."""
    for c in group_.candidates:
        if c.channel != "dense" or c.similarity > dense_floor:
            return True
    return similar_notes_weight(neighbors, group_.system, group_.code) > 0.0


def proposed_prior(group_: CodeCandidates, usage: Usage) -> float:
    """The code's prior: how often coders use it, or the shorter code a channel proposed (see
    `Resolver.resolve`), whichever is more (the `prior` feature, before its log)."""
    prior = usage.prior(group_.system, group_.code)
    for c in group_.candidates:
        if c.features:
            prior = max(prior, c.features.get("prior", 0.0))
    return prior


def prior_feature(group_: CodeCandidates, usage: Usage) -> float:
    """The `prior` feature: the log of `proposed_prior`, rounded."""
    return _rounded(math.log(proposed_prior(group_, usage)))


@dataclass(frozen=True)
class Proposed:
    """Every code proposed in one note, ranked or not, as the family and note features count them,
    so that leaving codes unranked (`worth_ranking`) does not change the features of the others."""

    family_sizes: dict[tuple[str, str], int]
    #: Per system, each proposed code's `prior` feature, sorted.
    priors: dict[str, list[float]]
    #: Each proposed code's `prior` feature, by (system, code): `featurize` reads it rather than compute it again.
    prior_of: dict[tuple[str, str], float]

    @classmethod
    def count(cls, groups: Iterable[CodeCandidates], usage: Usage) -> Proposed:
        sizes: dict[tuple[str, str], int] = defaultdict(int)
        priors: dict[str, list[float]] = defaultdict(list)
        prior_of: dict[tuple[str, str], float] = {}
        for g in groups:
            sizes[(g.system, family(g.system, g.code))] += 1
            prior_of[(g.system, g.code)] = value = prior_feature(g, usage)
            priors[g.system].append(value)
        for values in priors.values():
            values.sort()
        return cls(dict(sizes), dict(priors), prior_of)


def add_family_features(groups: list[CodeCandidates], proposed: Proposed | None = None) -> None:
    """Share evidence within families: "diabetes" found for E11.9 also speaks for E11.65, and a
    4-character PCS prefix (what CodiEsp's coders often wrote) gathers all its full codes
    (`proposed`: the note's codes as counted before some were left unranked; else `groups`)."""
    keys = [(g.system, family(g.system, g.code)) for g in groups]
    best: dict[tuple[str, str], dict[str, float]] = {}
    for g, key in zip(groups, keys, strict=True):
        features = g.features
        slot = best.get(key)
        if slot is None:
            best[key] = {name: max(0.0, features.get(channel, 0.0)) for name, channel in _FAMILY_OF.items()}
        else:
            for name, channel in _FAMILY_OF.items():
                slot[name] = max(slot[name], features.get(channel, 0.0))
    sizes = proposed.family_sizes if proposed else Counter(keys)
    family_size = {key: math.log1p(sizes[key]) for key in best}  # only the families ranked here
    for g, key in zip(groups, keys, strict=True):
        g.features.update(best[key])
        g.features["family_size"] = family_size[key]


def add_note_features(groups: list[CodeCandidates], text: str,
                      describe: Callable[[System, str], frozenset[str]], proposed: Proposed | None = None) -> None:
    """Features of a code against its whole note: where its first mention is, which sections and
    mention kinds carry it, how it compares with the note's other candidates of its system, and how
    much of its description's wording the note uses, whether its evidence's sentences name its side
    (`Sides`; `describe`: a code's normalized content words;
    `proposed`: the note's codes as counted before some were left unranked, else `groups`)."""
    tokens = words(text)
    note_words = frozenset(w for w, _, _ in tokens)
    sides = Sides.of(text, tokens)
    length = max(len(text), 1)
    per_system: dict[str, list[CodeCandidates]] = defaultdict(list)
    for g in groups:
        per_system[g.system].append(g)
    for mine in per_system.values():
        top_dense = max(g.features["dense"] for g in mine)
        top_usage = max(g.features["usage"] for g in mine)
        priors = proposed.priors[mine[0].system] if proposed else sorted(g.features["prior"] for g in mine)
        note_candidates = _rounded(math.log1p(len(priors)))
        for g in mine:
            spans = {(c.mention.start, c.mention.end): c.mention for c in g.candidates}.values()
            history = treatment = findings = procedures = 0
            first = math.inf  # the first mention's start
            for m in spans:
                section = m.section or ""
                history += section in _HISTORY
                treatment += section in _TREATMENT
                findings += section in _FINDINGS
                procedures += m.kind == "procedure"
                first = min(first, m.start)
            n = len(spans)
            described = describe(g.system, g.code)
            features = g.features
            features["first_position"] = _rounded(first / length)
            features["procedure_share"] = _rounded(procedures / n)
            features["note_candidates"] = note_candidates
            features["dense_gap"] = _rounded(features["dense"] - top_dense)
            features["usage_gap"] = _rounded(features["usage"] - top_usage)
            features["prior_percentile"] = _rounded(bisect_left(priors, features["prior"]) / len(priors))
            features["description_overlap"] = _rounded(len(described & note_words) / len(described)) if described else 0.0
            features["history_share"] = _rounded(history / n)
            features["treatment_share"] = _rounded(treatment / n)
            features["findings_share"] = _rounded(findings / n)
            features["strength"] = _rounded(max(g.strengths()))
            features.update(sides.features(code_side(described), (m.start for m in spans)))


#: Words that name a side, and the side each names ("both" is bilateral: "both kidneys").
_SIDE_WORDS = {"right": "right", "left": "left", "bilateral": "bilateral", "both": "bilateral"}
_SENTENCE_BREAK = re.compile(r"[.!?\n]\s")


@dataclass(frozen=True)
class Sides:
    """Where a note names sides: each sentence's sides, so a code's side can be checked against the
    sentences of its evidence (a left nephrectomy's note proposes the right kidney's codes too)."""

    breaks: list[int]
    per_sentence: list[frozenset[str]]
    note: Counter[str]

    @classmethod
    def of(cls, text: str, note_words: Iterable[tuple[str, int, int]]) -> Sides:
        """The sides of `text`, from its `words` (`note_words`)."""
        breaks = [m.end() for m in _SENTENCE_BREAK.finditer(text)]
        per: list[set[str]] = [set() for _ in range(len(breaks) + 1)]
        note: Counter[str] = Counter()
        for w, start, _ in note_words:
            side = _SIDE_WORDS.get(w)
            if side:
                per[bisect_right(breaks, start)].add(side)
                note[side] += 1
        return cls(breaks, [frozenset(p) for p in per], note)

    def around(self, start: int) -> frozenset[str]:
        """The sides named in the sentence holding character `start`."""
        return self.per_sentence[bisect_right(self.breaks, start)]

    def features(self, code_side: str | None, starts: Iterable[int]) -> dict[str, float]:
        """sided, side_match, side_conflict (shares of the evidence's sentences that name the code's
        side, or only another), side_note (the code's side's share of the note's side words; -1 unsided)."""
        if code_side is None:
            return {"sided": 0.0, "side_match": 0.0, "side_conflict": 0.0, "side_note": -1.0}
        match = conflict = n = 0
        for start in starts:
            seen = self.around(start)
            n += 1
            if code_side in seen or (code_side == "bilateral" and {"right", "left"} <= seen):
                match += 1
            elif seen:  # the sentence names a side, not this one
                conflict += 1
        total = sum(self.note.values())
        return {"sided": 1.0, "side_match": _rounded(match / n) if n else 0.0,
                "side_conflict": _rounded(conflict / n) if n else 0.0,
                "side_note": _rounded(self.note[code_side] / total) if total else -1.0}


def code_side(described: frozenset[str]) -> str | None:
    """The side a code's description words name, if one: right, left or bilateral."""
    named = [side for side in ("bilateral", "right", "left") if side in described]
    return named[0] if len(named) == 1 or (named and named[0] == "bilateral") else None


#: The features `add_note_features` sets.
NOTE_FEATURES = FEATURES[FEATURES.index("first_position"):]


def description_words(description: str) -> frozenset[str]:
    """The normalized content words of a code's description."""
    return frozenset(w for w, _, _ in words(description) if w not in STOPWORDS)


class CodeFacts:
    """A code's description words and `code_facts`, cached per engine: every note asks for the same codes.

    The facts are kept while the usage statistics stay the same object (training swaps them fold by fold).
    """

    def __init__(self, codesets: Mapping[System, CodeSet]) -> None:
        self.codesets = codesets
        self._described: dict[tuple[System, str], frozenset[str]] = {}
        self._facts: dict[tuple[System, str], dict[str, float]] = {}
        self._usage: Usage | None = None

    def words(self, system: System, code: str) -> frozenset[str]:
        """The code's `description_words` (none for a code outside the loaded code sets)."""
        key = (system, code)
        if key not in self._described:
            record = self.codesets[system].get(code) if system in self.codesets else None
            self._described[key] = description_words(record.description) if record else frozenset()
        return self._described[key]

    def facts(self, system: System, code: str, usage: Usage) -> dict[str, float]:
        """The code's `code_facts` under `usage`."""
        if self._usage is not usage:
            self._facts.clear()
            self._usage = usage
        key = (system, code)
        facts = self._facts.get(key)
        if facts is None:
            codeset = self.codesets.get(system)
            record = codeset.get(code) if codeset is not None else None
            family_codes = codeset.count_under(family(system, code)) if codeset is not None else 0
            facts = self._facts[key] = code_facts(system, code, record.description if record else "",
                                                  usage=usage, family_codes=family_codes)
        return facts
