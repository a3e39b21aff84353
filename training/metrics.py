"""CodiEsp metrics: mean average precision of the ranked codes, diagnoses and procedures apart.

CodiEsp's definition: per document, the precision at each rank that holds a gold code, summed and
divided by the number of gold codes; then the mean over documents that have gold codes. A gold
procedure of 4 characters matches that prefix, so each predicted PCS code also enters the ranking
as its 4-character prefix, as CodiEsp's coders wrote them: before the full code where, in the
coded corpus, coders mostly wrote that prefix alone (BW20, CT of the abdomen), after it otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from codesets.types import normalize_code
from codesets.usage import PCS_PREFIX, CodedNote, Usage
from medcode.types import ICD10_SYSTEMS, Suggestion, System
from nlp.evidence import CodeCandidates

if TYPE_CHECKING:
    from codesets.types import CodeSet


def codiesp_form(system: System, code: str) -> str:
    """A code as CodiEsp writes it: lower case, CM with its dot (`r50.9`), PCS bare."""
    key = normalize_code(code).lower()
    return f"{key[:3]}.{key[3:]}" if system == "ICD-10-CM" and len(key) > 3 else key


#: Characters of a full ICD-10-PCS code.
PCS_CODE = 7

#: A PCS code's 4-character prefix enters the ranking with at least this share of its family's
#: probability, even where train never shows coders writing it: CodiEsp's coders often did. Chosen
#: out of fold on CodiEsp train, not on dev (train MAP P: floor 0 0.429, 0.05 0.431, 0.1 0.432,
#: 0.2 0.430, 0.3 0.424, 0.5 0.382).
PCS_PREFIX_FLOOR = 0.1


def truncation_rates(usage: Usage, pcs: CodeSet | None = None) -> dict[System, dict[str, float]]:
    """Per system, for each shorter form coders wrote (a PCS 4-character prefix; an ICD-10-CM category
    or subcategory), the share of the codings under it that coders wrote as that form alone.

    With the loaded PCS release (`pcs`), also each full PCS code coders wrote that the release no longer
    has (CodiEsp was coded on an older one: 3E0T3CZ, 5A1D00Z), with its share of its family's codings:
    a legacy form, which enters for its family's current codes as a shorter form does."""
    counts = {system: {code: n for (s, code), n in usage.counts.items() if s == system}
              for system in ICD10_SYSTEMS}
    pcs_short: dict[str, int] = defaultdict(int)
    pcs_total: dict[str, int] = defaultdict(int)
    for code, n in counts["ICD-10-PCS"].items():
        pcs_total[code[:PCS_PREFIX]] += n
        if len(code) <= PCS_PREFIX:
            pcs_short[code[:PCS_PREFIX]] += n
    legacy = {code: n / pcs_total[code[:PCS_PREFIX]] for code, n in counts["ICD-10-PCS"].items()
              if pcs is not None and len(code) == PCS_CODE and pcs.get(code) is None}
    cm_under: dict[str, int] = defaultdict(int)
    for code, n in counts["ICD-10-CM"].items():
        for size in range(3, len(code) + 1):
            cm_under[code[:size]] += n
    cm = {code: n / cm_under[code] for code, n in counts["ICD-10-CM"].items()}
    return {"ICD-10-PCS": {**{p: pcs_short[p] / pcs_total[p] for p in pcs_total}, **legacy}, "ICD-10-CM": cm}


def engine_rates(coder: object) -> dict[System, dict[str, float]]:
    """`truncation_rates` of a Coder: its usage statistics and its PCS release."""
    return truncation_rates(coder.index.usage, coder.codesets.get("ICD-10-PCS"))  # type: ignore[attr-defined]


def _shorter_forms(system: System, key: str, legacy: Mapping[str, list[str]]) -> list[str]:
    """The shorter forms a coder may have written for the code `key` (`legacy`: the legacy PCS forms
    per family)."""
    if system == "ICD-10-PCS":
        family = key[:PCS_PREFIX]
        return ([family] if len(key) > PCS_PREFIX else []) + [f for f in legacy.get(family, ()) if f != key]
    return [key[:n] for n in range(3, len(key))]


def ranked_codes(groups: Iterable[CodeCandidates], system: System,
                 truncation: Mapping[str, float] | None = None) -> list[str]:
    """The ranked CodiEsp-form codes of one system, by expected gain.

    A code of score p (the probability a coder assigns it) enters as itself with p·(1 − r) and brings
    each shorter form a coder may have written instead (PCS 4-character prefix, CM category; a legacy
    PCS code of its family, see `truncation_rates`) with r·(the summed p of the codes under that form,
    at most 1), where r is the share of coders' codings under the form written as the form alone
    (`truncation`, mined from train; a PCS prefix at least `PCS_PREFIX_FLOOR`; a PCS code keeps
    1 − the sum of its family's form shares). Ties keep the engine's order.
    """
    rates = truncation or {}
    pcs = system == "ICD-10-PCS"
    legacy: dict[str, list[str]] = defaultdict(list)
    for form in rates:
        if pcs and len(form) == PCS_CODE:
            legacy[form[:PCS_PREFIX]].append(form)
    items: list[tuple[float, int, str]] = []
    mass: dict[str, float] = defaultdict(float)
    shorter_rate: dict[str, float] = {}
    for g in groups:
        if g.system != system:
            continue
        key = normalize_code(g.code)
        shorter = {f: max(rates.get(f, 0.0), PCS_PREFIX_FLOOR if pcs and len(f) == PCS_PREFIX else 0.0)
                   for f in _shorter_forms(system, key, legacy)}
        shorter = {f: r for f, r in shorter.items() if r > 0}
        # A PCS family's forms share one count (its codings), so the code keeps what they leave; a CM
        # code's forms are nested (category, subcategory), each a share of its own codings.
        taken = sum(shorter.values()) if pcs else max(shorter.values(), default=0.0)
        items.append((g.score * max(0.0, 1.0 - taken), len(items), key))
        for f, r in shorter.items():
            mass[f] += g.score
            shorter_rate[f] = r
    items += [(min(mass[f], 1.0) * r, len(items) + i, f) for i, (f, r) in enumerate(shorter_rate.items())]
    out: list[str] = []
    seen: set[str] = set()
    for _, _, key in sorted(items, key=lambda t: (-t[0], t[1])):
        form = codiesp_form(system, key)
        if form not in seen:
            seen.add(form)
            out.append(form)
    return out



def suggestion_forms(suggestions: Iterable[Suggestion], rates: Mapping[System, Mapping[str, float]]
                     ) -> dict[str, list[str]]:
    """A note's suggestions as CodiEsp ranks them: per system, its codes in the CodiEsp form, each shorter
    form coders may have written entering by expected gain (`ranked_codes`, `rates` from `engine_rates`)."""
    listed = list(suggestions)
    out: dict[str, list[str]] = {}
    for key, system in (("diagnoses", "ICD-10-CM"), ("procedures", "ICD-10-PCS")):
        ranked = [Ranked(s.system, normalize_code(s.code), s.score) for s in listed if s.system == system]
        out[key] = ranked_codes(ranked, system, rates.get(system))
    return out


def average_precision(ranked: Sequence[str], gold: set[str]) -> float:
    """Sum of precision at each rank holding a gold code, over the number of gold codes."""
    if not gold:
        return 0.0
    hits, total = 0, 0.0
    for i, code in enumerate(ranked, start=1):
        if code in gold:
            hits += 1
            total += hits / i
    return total / len(gold)


@dataclass(frozen=True)
class Score:
    """MAP of one system over the documents that have gold codes of it."""

    system: System
    map: float
    documents: int


def score(notes: Sequence[CodedNote], rankings: Sequence[list[CodeCandidates]], system: System,
          truncation: Mapping[str, float] | None = None) -> Score:
    """MAP for `system` of `rankings`, one per note, against the notes' gold codes (`truncation`:
    the system's rates from `truncation_rates`)."""
    aps = []
    for note, groups in zip(notes, rankings, strict=True):
        gold = {codiesp_form(s, c) for s, c in note.codes if s == system}
        if gold:
            aps.append(average_precision(ranked_codes(groups, system, truncation), gold))
    return Score(system, sum(aps) / len(aps) if aps else 0.0, len(aps))


@dataclass
class Ranked:
    """A scored code without its candidates: what MAP needs, rebuilt from cached feature rows."""

    system: System
    code: str
    score: float


def ranked_scores(n_notes: int, note: Sequence[int], code: Sequence[str], scores: Sequence[float],
                  system: System) -> list[list[Ranked]]:
    """Per note (0..n_notes-1), its codes of `system` sorted best first, as the engine sorts them."""
    out: list[list[Ranked]] = [[] for _ in range(n_notes)]
    for i, c, s in zip(note, code, scores, strict=True):
        out[int(i)].append(Ranked(system, str(c), float(s)))
    for ranked in out:
        ranked.sort(key=lambda r: (-r.score, r.code))
    return out


@dataclass
class SystemMetrics:
    """The figures of one system on one run."""

    documents: int = 0
    map: float = 0.0
    map_at_10: float = 0.0
    precision: dict[int, float] = field(default_factory=dict)
    recall: dict[int, float] = field(default_factory=dict)
    f1: dict[int, float] = field(default_factory=dict)
    #: group -> [gold codes, found in the top 10, found among all candidates]
    by_group: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class RunSummary:
    """One evaluated engine: what it was and its figures per system (JSON-serializable)."""

    label: str
    engine: str
    notes: int
    systems: dict[str, SystemMetrics]

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> RunSummary:
        systems = {}
        for name, m in raw["systems"].items():  # type: ignore[union-attr]
            m = dict(m)
            for key in ("precision", "recall", "f1"):
                m[key] = {int(k): v for k, v in m[key].items()}
            systems[name] = SystemMetrics(**m)
        return cls(str(raw["label"]), str(raw["engine"]), int(raw["notes"]), systems)  # type: ignore[arg-type]
