"""Assertion status of every mention: present, negated, possible, historical, family or hypothetical.

A ConText engine (Chapman et al.; medspaCy's algorithm and rule format): cue phrases from
`resources/context_rules_medspacy.json` (medspaCy's default English rules) and
`resources/context_rules.json` (ours) reach forward or backward within their sentence, up to a
terminating cue ("but", "however", ";") or a cue of the same kind. The cues that reach a span, and
the section it sits in, resolve into one `Span._.assertion`. We match cues with our own token index
instead of medspaCy's `ConText`, whose spaCy `Matcher` with set predicates cost ~8 ms a note.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from medcode.types import Assertion
from nlp.rules import load_resource
from nlp.sections import section_lookup

#: When several apply, the first wins.
PRECEDENCE: tuple[Assertion, ...] = ("family", "negated", "hypothetical", "possible", "historical", "present")
_RANK = {assertion: rank for rank, assertion in enumerate(PRECEDENCE)}
#: ConText categories → our assertions.
CATEGORY_ASSERTION: Mapping[str, Assertion] = {
    "FAMILY": "family",
    "NEGATED_EXISTENCE": "negated",
    "HYPOTHETICAL": "hypothetical",
    "POSSIBLE_EXISTENCE": "possible",
    "HISTORICAL": "historical",
}
DEFAULT_SECTION_ASSERTIONS: Mapping[str, Assertion] = {
    "family_history": "family",
    "past_medical_history": "historical",
    "past_surgical_history": "historical",
}
DEFAULT_RULES: tuple[str, ...] = ("context_rules_medspacy.json", "context_rules.json")
_DIRECTIONS = frozenset({"FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"})
_OPS = frozenset({"1", "?", "*", "+"})


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """One token of a cue pattern: `attr` is "lower", "orth" or "like_num"; `values` None for like_num."""

    attr: str
    values: frozenset[str] | None
    op: str = "1"

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], literal: str) -> "TokenSpec":
        op = spec.get("OP", "1")
        keys = set(spec) - {"OP"}
        if op not in _OPS or len(keys) != 1 or not keys <= {"LOWER", "ORTH", "TEXT", "LIKE_NUM"}:
            raise ValueError(f"context rule {literal!r}: unsupported token pattern {dict(spec)}")
        (key,) = keys
        value = spec[key]
        if key == "LIKE_NUM":
            return cls("like_num", None, op)
        values = value["IN"] if isinstance(value, dict) else [value]
        if key == "LOWER":
            return cls("lower", frozenset(v.lower() for v in values), op)
        return cls("orth", frozenset(values), op)


@dataclass(frozen=True, slots=True)
class ContextRule:
    """A cue: medspaCy's ConTextRule fields that our rules use."""

    category: str
    literal: str
    direction: str
    pattern: tuple[TokenSpec, ...]
    max_scope: int | None = None
    terminated_by: frozenset[str] = frozenset()
    allowed_types: frozenset[str] | None = None
    excluded_types: frozenset[str] | None = None

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any], tokenize: Any) -> "ContextRule":
        literal = rule["literal"]
        direction = rule["direction"].upper()
        if direction not in _DIRECTIONS:
            raise ValueError(f"context rule {literal!r}: unknown direction {direction!r}")
        if rule.get("pattern"):
            pattern = tuple(TokenSpec.from_dict(spec, literal) for spec in rule["pattern"])
        else:  # medspaCy matches a literal on the LOWER of its tokens
            pattern = tuple(
                TokenSpec("lower", frozenset([t.lower_])) for t in tokenize(literal) if not t.is_space
            )

        def upper_set(key: str) -> frozenset[str] | None:
            return frozenset(v.upper() for v in rule[key]) if rule.get(key) else None

        return cls(
            category=rule["category"].upper(),
            literal=literal,
            direction=direction,
            pattern=pattern,
            max_scope=rule.get("max_scope"),
            terminated_by=upper_set("terminated_by") or frozenset(),
            allowed_types=upper_set("allowed_types"),
            excluded_types=upper_set("excluded_types"),
        )


class CueMatcher:
    """Finds cues by indexing rules on the words they can start with (spaces skipped)."""

    def __init__(self, rules: Sequence[ContextRule]) -> None:
        self.rules = tuple(rules)
        self.by_lower: dict[str, list[int]] = {}
        self.by_orth: dict[str, list[int]] = {}
        self.anywhere: list[int] = []
        for r, rule in enumerate(self.rules):
            for spec in rule.pattern:
                if spec.values is None:
                    self.anywhere.append(r)
                    break
                index = self.by_lower if spec.attr == "lower" else self.by_orth
                for value in spec.values:
                    index.setdefault(value, []).append(r)
                if spec.op in ("1", "+"):
                    break
            else:
                self.anywhere.append(r)

    def _ends(self, pattern: tuple[TokenSpec, ...], k: int, i: int, toks: "_Tokens") -> Iterator[int]:
        if k == len(pattern):
            yield i
            return
        spec = pattern[k]
        if spec.op in ("?", "*"):
            yield from self._ends(pattern, k + 1, i, toks)
        if i < len(toks.lower) and toks.accepts(spec, i):
            yield from self._ends(pattern, k + 1, i + 1, toks)
            if spec.op in ("*", "+"):
                yield from self._ends(pattern, k, i + 1, toks)

    def __call__(self, toks: "_Tokens") -> list[tuple[int, int, int]]:
        """(rule, start, end) in positions of `toks`, overlaps pruned to the longest."""
        found = []
        for i, (lower, orth) in enumerate(zip(toks.lower, toks.orth)):
            candidates = set(self.anywhere)
            candidates.update(self.by_lower.get(lower, ()))
            candidates.update(self.by_orth.get(orth, ()))
            for r in candidates:
                end = max(self._ends(self.rules[r].pattern, 0, i, toks), default=i)
                if end > i:
                    found.append((r, i, end))
        found.sort(key=lambda m: (m[1] - m[2], m[1]))
        kept: list[tuple[int, int, int]] = []
        taken = [False] * (len(toks.lower) + 1)
        for r, start, end in found:
            if not any(taken[start:end]) or any(k[1] == start and k[2] == end for k in kept):
                kept.append((r, start, end))
                for j in range(start, end):
                    taken[j] = True
        return kept


class _Tokens:
    """The doc's non-space tokens, the view cues are matched on."""

    __slots__ = ("index", "lower", "orth", "like_num")

    def __init__(self, doc: Doc) -> None:
        words = [t for t in doc if not t.is_space]
        self.index = [t.i for t in words]
        self.lower = [t.lower_ for t in words]
        self.orth = [t.text for t in words]
        self.like_num = [t.like_num for t in words]

    def accepts(self, spec: TokenSpec, i: int) -> bool:
        if spec.values is None:
            return self.like_num[i]
        return (self.lower[i] if spec.attr == "lower" else self.orth[i]) in spec.values


@dataclass(slots=True)
class _Cue:
    rule: ContextRule
    start: int  # doc token indices
    end: int
    scope_start: int
    scope_end: int

    def limit_by(self, other: "_Cue") -> None:
        """Stop this cue's scope at `other` if it terminates it (medspaCy's limit_scope)."""
        if self.rule.direction in ("TERMINATE", "PSEUDO") or other.rule.direction == "PSEUDO":
            return
        if not (
            other.rule.direction == "TERMINATE"
            or other.rule.category == self.rule.category
            or other.rule.category in self.rule.terminated_by
        ):
            return
        if self.rule.direction in ("FORWARD", "BIDIRECTIONAL") and other.start >= self.end:
            self.scope_end = min(self.scope_end, other.start)
        if self.rule.direction in ("BACKWARD", "BIDIRECTIONAL") and other.end <= self.start:
            self.scope_start = max(self.scope_start, other.end)

    def reaches(self, span: Span, *, inside: bool = False) -> bool:
        """Whether this cue modifies `span`; a cue within the span counts only if `inside`."""
        rule = self.rule
        if rule.direction in ("TERMINATE", "PSEUDO") or rule.category not in CATEGORY_ASSERTION:
            return False
        if not inside and self.start < span.end and span.start < self.end:
            return False  # a term that contains a cue ("lack of coordination") is not modified by it
        label = span.label_.upper()
        if rule.allowed_types is not None and label not in rule.allowed_types:
            return False
        if rule.excluded_types is not None and label in rule.excluded_types:
            return False
        return self.scope_start < span.end and span.start < self.scope_end


def _strongest(assertions: Iterable[tuple[Assertion, str]]) -> tuple[Assertion, str | None]:
    best = min(assertions, key=lambda a: _RANK[a[0]], default=None)
    return best if best is not None else ("present", None)


@Language.factory(
    "medcode_context",
    default_config={
        "rules": list(DEFAULT_RULES),
        "span_groups": ["mentions"],
        "cues_inside": ["clauses"],
        "section_assertions": dict(DEFAULT_SECTION_ASSERTIONS),
    },
    requires=["token.is_sent_start"],
    assigns=["span._.assertion", "span._.assertion_cue"],
)
def make_context(
    nlp: Language,
    name: str,
    *,
    rules: list[str],
    span_groups: list[str],
    cues_inside: list[str],
    section_assertions: dict[str, str],
) -> "Context":
    return Context(
        nlp, rules=rules, span_groups=span_groups, cues_inside=cues_inside, section_assertions=section_assertions
    )


class Context:
    """Sets `Span._.assertion` (and `Span._.assertion_cue`, the deciding cue's text or
    "section:<category>") on every span of the configured span groups.

    rules: files under nlp/resources in medspaCy's ConText format (plus "version").
    span_groups: the `doc.spans` keys whose spans get an assertion; missing groups are skipped.
    cues_inside: groups of clause-like spans ("Patient denies chest pain") whose own cues count;
        elsewhere a cue inside a span does not modify it (a term such as "lack of coordination").
    section_assertions: section category → the assertion a span there gets when no stronger cue
        applies (precedence: family > negated > hypothetical > possible > historical > present).
    """

    def __init__(
        self,
        nlp: Language,
        *,
        rules: Sequence[str] = DEFAULT_RULES,
        span_groups: Sequence[str] = ("mentions",),
        cues_inside: Sequence[str] = ("clauses",),
        section_assertions: Mapping[str, str] = DEFAULT_SECTION_ASSERTIONS,
    ) -> None:
        bad = {v for v in section_assertions.values() if v not in _RANK}
        if bad:
            raise ValueError(f"section_assertions: unknown assertion(s) {sorted(bad)}; known: {PRECEDENCE}")
        self.span_groups = tuple(span_groups)
        self.cues_inside = frozenset(cues_inside)
        self.section_assertions: dict[str, Assertion] = dict(section_assertions)  # type: ignore[arg-type]
        self.rules = tuple(
            ContextRule.from_dict(rule, nlp.tokenizer)
            for file in rules
            for rule in load_resource(file)["context_rules"]
        )
        self.matcher = CueMatcher(self.rules)
        if not Span.has_extension("assertion"):
            Span.set_extension("assertion", default="present")
        if not Span.has_extension("assertion_cue"):
            Span.set_extension("assertion_cue", default=None)

    def cues(self, doc: Doc) -> tuple[dict[int, list[_Cue]], list[int]]:
        """The cues of the doc with their scopes, by sentence start token; and each token's sentence start."""
        n = len(doc)
        bounds = [(s.start, s.end) for s in doc.sents] if doc.has_annotation("SENT_START") else [(0, n)]
        sent_of = [0] * n
        for start, end in bounds:
            for i in range(start, end):
                sent_of[i] = start
        sent_end = {start: end for start, end in bounds}
        toks = _Tokens(doc)
        by_sentence: dict[int, list[_Cue]] = {}
        for r, start, end in self.matcher(toks):
            rule = self.rules[r]
            first, last = toks.index[start], toks.index[end - 1] + 1
            s_start = sent_of[first]
            s_end = sent_end[s_start]
            if last > s_end:
                continue  # cues do not straddle sentences
            reach = rule.max_scope or n
            cue = _Cue(rule, first, last, max(s_start, first - reach), min(s_end, last + reach))
            if rule.direction == "FORWARD":
                cue.scope_start = last
            elif rule.direction == "BACKWARD":
                cue.scope_end = first
            by_sentence.setdefault(s_start, []).append(cue)
        for cues in by_sentence.values():
            for a in cues:
                for b in cues:
                    if a is not b:
                        a.limit_by(b)
        return by_sentence, sent_of

    def __call__(self, doc: Doc) -> Doc:
        groups = [g for g in self.span_groups if g in doc.spans and len(doc.spans[g])]
        if not groups:
            return doc
        by_sentence, sent_of = self.cues(doc)
        section_of = section_lookup(doc) if Span.has_extension("section") else None
        for group in groups:
            inside = group in self.cues_inside
            for span in doc.spans[group]:
                sentence = sent_of[span.start]
                found = [
                    (CATEGORY_ASSERTION[cue.rule.category], doc[cue.start : cue.end].text)
                    for cue in by_sentence.get(sentence, ())
                    if cue.reaches(span, inside=inside)
                ]
                section = section_of(span) if section_of else None
                if section in self.section_assertions:
                    found.append((self.section_assertions[section], f"section:{section}"))
                span._.assertion, span._.assertion_cue = _strongest(found)
        return doc
