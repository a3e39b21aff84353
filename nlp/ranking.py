"""Ranking: merge every channel's candidates per code, describe each code by features, score it.

The score comes from gradient-boosted trees fitted on CodiEsp train by `medcode tune` (shipped in
`nlp/resources/ranker/`), and reads as the probability-like confidence that a coder assigns the code.
"""

from __future__ import annotations

import json
import math
import operator
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from codesets.lexicon import STOPWORDS, words
from codesets.usage import PCS_PREFIX, Usage, family
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import Assertion, Candidate, System

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
#: Assertions under which a code is not the patient's current problem.
NOT_PATIENT: frozenset[Assertion] = frozenset({"negated", "family"})
_NEGATED: frozenset[Assertion] = frozenset({"negated"})
_FAMILY: frozenset[Assertion] = frozenset({"family"})
_UNCERTAIN: frozenset[Assertion] = frozenset({"possible", "hypothetical"})


FEATURE_DECIMALS = 4
#: Evidence weaker than this share of a code's strongest is not shown, nor does it set the assertion.
EVIDENCE_FLOOR = 0.5


def _rounded(value: float) -> float:
    """`value` to FEATURE_DECIMALS decimals. Most features are 0.0, which `round` (slow: it goes through
    the decimal digits) would return unchanged."""
    return round(value, FEATURE_DECIMALS) if value else value


def strength(c: Candidate) -> float:
    """How directly one candidate names its code: a spelled-out term beats a co-occurring phrase."""
    if c.channel == "exact":
        return 1.0
    if c.channel == "fuzzy":
        return 0.9 * c.similarity
    if c.channel == "usage":
        return c.similarity
    if c.channel == "cooccurrence":
        return 0.3 * c.similarity
    return max(0.0, c.similarity - 0.3)


@dataclass
class CodeCandidates:
    """All candidates of one code in one note, and the features the ranker reads."""

    system: System
    code: str  # normalized key (no dot)
    candidates: list[Candidate] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    #: False for a code the engine would not rank (`worth_ranking`), kept only because `Coder.rank` was
    #: asked for every code.
    ranked: bool = True
    #: `strengths()`, kept: the features, the assertion and the evidence all read it.
    _strengths: list[float] | None = field(default=None, init=False, repr=False, compare=False)

    def strengths(self) -> list[float]:
        """`strength` of each candidate, in candidate order (computed once the candidates are gathered)."""
        known = self._strengths
        if known is None or len(known) != len(self.candidates):
            known = self._strengths = [strength(c) for c in self.candidates]
        return known

    def _near_best(self) -> list[tuple[float, int]]:
        """(strength, position) of the candidates near the best one's strength, in candidate order."""
        strengths = self.strengths()
        floor = EVIDENCE_FLOOR * max(strengths, default=0.0)
        return [(s, i) for i, s in enumerate(strengths) if s >= floor]

    def evidence(self) -> list[Candidate]:
        """The candidates worth showing, strongest first: those near the best one's strength."""
        cands = self.candidates
        # The position breaks ties, so the order is the one a stable sort of the candidates gives.
        ranked = sorted(self._near_best(), key=lambda t: (-t[0], cands[t[1]].mention.start, cands[t[1]].mention.end,
                                                          t[1]))
        return [cands[i] for _, i in ranked]

    @property
    def assertion(self) -> Assertion:
        """The assertion of the shown evidence: present beats possible beats historical … beats family.

        Weak evidence does not count, so a co-occurring phrase elsewhere cannot make a denied
        "chest pain" present.
        """
        order: tuple[Assertion, ...] = ("present", "possible", "historical", "hypothetical", "negated", "family")
        seen = self.evidence_assertions()
        return next((a for a in order if a in seen), "present")

    def evidence_assertions(self) -> set[Assertion]:
        """The assertions of `evidence()`, without sorting it."""
        if len(self.candidates) == 1:  # most codes of a note: its one candidate is its evidence (strength >= 0)
            return {self.candidates[0].mention.assertion}
        strengths = self.strengths()
        floor = EVIDENCE_FLOOR * max(strengths, default=0.0)
        return {c.mention.assertion for c, s in zip(self.candidates, strengths) if s >= floor}


def group(candidates: Iterable[Candidate]) -> list[CodeCandidates]:
    """Candidates gathered per (system, code), in first-seen order."""
    by_code: dict[tuple[System, str], list[Candidate]] = {}
    for c in candidates:
        key = (c.system, c.code)
        found = by_code.get(key)
        if found is None:
            by_code[key] = [c]
        else:
            found.append(c)
    return [CodeCandidates(system, code, found) for (system, code), found in by_code.items()]


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
        "dense": _rounded(max(0.0, best.get("dense", 0.0) - 0.5)),
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


class Ranker:
    """Per-system gradient-boosted trees over `FEATURES` (one booster, or several whose scores are
    averaged), a calibration map per system, and a logistic fallback (the hand-set ranking) for
    systems without trees.

    Saved as a self-describing folder: `card.json` (features, objective, calibration, fallback
    weights, what it was fitted on) beside the LightGBM model files of each system. `score` orders codes;
    `calibrate` turns a (sibling-discounted) score into the probability that a coder accepts the code.
    """

    def __init__(self, boosters: dict[str, Any | list[Any]], *, fallback: dict[str, float], fallback_bias: float,
                 card: dict[str, Any] | None = None, source: str = "",
                 calibration: dict[str, tuple[list[float], list[float]]] | None = None) -> None:
        unknown = set(fallback) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown ranker features: {sorted(unknown)}")
        self.boosters: dict[str, list[Any]] = {s: b if isinstance(b, list) else [b] for s, b in boosters.items()}
        self.fallback = {f: float(fallback.get(f, 0.0)) for f in FEATURES}
        self.fallback_bias = float(fallback_bias)
        self.card = card or {}
        self.source = source
        self.objective = str(self.card.get("objective", "binary"))
        self.calibration = calibration or {}
        # The features the trees were fitted on, by name: a ranker keeps working when features are added.
        self.features: tuple[str, ...] = tuple(self.card.get("features", FEATURES))
        self._row = operator.itemgetter(*self.features)

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        """The ranker saved in folder `path`, else the one shipped with medcode."""
        import lightgbm as lgb

        folder = path or cls.shipped()
        card = json.loads((folder / "card.json").read_text())
        if not set(card["features"]) <= set(FEATURES):
            raise MedcodeError(ErrorCode.RANKER_STALE, path=folder)
        boosters = {system: [lgb.Booster(model_file=str(folder / name)) for name in ([names] if isinstance(names, str)
                                                                                    else names)]
                    for system, names in card["models"].items()}
        calibration = {system: (c["x"], c["y"]) for system, c in card.get("calibration", {}).items()}
        return cls(boosters, fallback=card["fallback"]["weights"], fallback_bias=card["fallback"]["bias"], card=card,
                   source=str(folder), calibration=calibration)

    @classmethod
    def hand_set(cls) -> Ranker:
        """The hand-set logistic ranking the engine started from (no trees, no calibration): the baseline."""
        card = json.loads((cls.shipped() / "card.json").read_text())
        return cls({}, fallback=card["fallback"]["weights"], fallback_bias=card["fallback"]["bias"],
                   card={"objective": "hand-set"}, source="hand-set")

    @staticmethod
    def shipped() -> Path:
        """The folder of the ranker that comes with medcode."""
        return Path(str(resources.files("nlp").joinpath("resources", "ranker")))

    @staticmethod
    def newest(data_dir: Path) -> Path | None:
        """The newest ranker `medcode train` wrote under data_dir/models/ranker/<version>/ (names sort
        by date), else an unversioned one there (older `medcode tune`), else None."""
        root = data_dir / "models" / "ranker"
        found = sorted(p for p in root.glob("*") if (p / "card.json").exists()) if root.exists() else []
        if found:
            return found[-1]
        return root if (root / "card.json").exists() else None

    def save(self, folder: Path, **card: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        models = {}
        for system, members in self.boosters.items():
            slug = system.lower().replace("-", "")
            models[system] = [f"{slug}.txt" if i == 0 else f"{slug}-{i + 1}.txt" for i in range(len(members))]
            for booster, name in zip(members, models[system], strict=True):
                booster.save_model(str(folder / name))
        features = list(self.features) if self.boosters else list(FEATURES)
        body = {**self.card, **card, "objective": self.objective, "features": features, "models": models,
                "calibration": {s: {"x": list(x), "y": list(y)} for s, (x, y) in self.calibration.items()},
                "fallback": {"weights": self.fallback, "bias": self.fallback_bias}}
        (folder / "card.json").write_text(json.dumps(body, indent=2))

    def score(self, system: str, rows: list[dict[str, float]]) -> list[float]:
        """The ordering score in [0, 1] of each feature row of one system's codes (uncalibrated)."""
        if not rows:
            return []
        members = self.boosters.get(system)
        if members:
            try:  # every row carries every feature once the note features are added
                matrix = np.array([self._row(r) for r in rows], dtype=np.float64).reshape(len(rows), -1)
            except KeyError:
                matrix = np.array([[r.get(f, 0.0) for f in self.features] for r in rows], dtype=np.float64)
            return self.averaged(members, matrix, self.objective).tolist()
        out = []
        for r in rows:
            z = self.fallback_bias + sum(self.fallback[f] * r.get(f, 0.0) for f in FEATURES)
            out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
        return out

    @classmethod
    def averaged(cls, members: list[Any], matrix: np.ndarray, objective: str) -> np.ndarray:
        """The members' `squash`ed scores of each row of `matrix`, averaged: an ensemble's score."""
        scores = [cls.squash(b.predict(matrix, num_threads=1), objective) for b in members]
        return scores[0] if len(scores) == 1 else np.mean(scores, axis=0)

    @staticmethod
    def squash(raw: np.ndarray, objective: str) -> np.ndarray:
        """A booster's output as an ordering score in [0, 1]."""
        # A ranking objective's raw score is a margin: squash it, monotonically, into (0, 1).
        if objective == "binary":
            return np.asarray(raw, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -30.0, 30.0)))

    def calibrate(self, system: str, scores: list[float]) -> list[float]:
        """P(a coder accepts the code) for each score, by the system's calibration map (identity without one)."""
        curve = self.calibration.get(system)
        if curve is None or not scores:
            return scores
        return [float(v) for v in np.interp(np.asarray(scores, dtype=np.float64), curve[0], curve[1])]
