"""Mentions of findings and procedures: lexicon hits and phrase-like clauses, with character offsets.

No pretrained clinical NER exists offline, so mentions come from two places:

* the code-set lexicon (descriptions, inclusion terms, PCS paraphrases, phrases mined from coded
  notes), matched exactly or by word coverage: each becomes a span carrying its `Hit`s;
* clauses (the note cut at punctuation and conjunctions): phrase-like spans the dense channel
  embeds, so a finding worded like no term still meets its code.

Abbreviations found by `medcode_abbreviations` are matched through their expansion, while the
span stays on the abbreviation as written.
"""


from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Optional

from spacy.language import Language
from spacy.tokens import Doc, Span

from codesets.lexicon import Hit, Lexicon
from codesets.text import STOPWORDS, clauses, term_words, words
from nlp.abbreviations import spelled_pieces

SPAN_GROUP = "mentions"
CLAUSE_GROUP = "clauses"

if not Span.has_extension("hits"):
    Span.set_extension("hits", default=None)


def _kind(hits: Iterable[Hit]) -> str:
    systems = {h.term.system for h in hits}
    return "finding" if not systems or "ICD-10-CM" in systems else "procedure"


def _tightest(hit: Hit, text: str, bounds: Sequence[tuple[int, int]] | None = None) -> Hit:
    """A coverage hit narrowed to the shortest stretch of its clause of `text` (`bounds`: the clauses, if cut
    already) holding each of its term's words found there: the matcher spans from each word's first occurrence,
    so in "acute kidney injury on chronic kidney disease 3b" the stage-3b term would start at the first "kidney"."""
    wanted = {w for w in term_words(hit.term.text) if w not in STOPWORDS}
    start, end = next(((cs, ce) for cs, ce in (clauses(text) if bounds is None else bounds) if cs <= hit.start < ce),
                      (hit.start, hit.end))
    toks = [(w, s + start, e + start) for w, s, e in words(text[start:end]) if w in wanted]
    need = {w for w, _, _ in toks}
    best = (hit.start, hit.end)
    counts: dict[str, int] = defaultdict(int)
    left = 0
    for right, (w, _, e) in enumerate(toks):
        counts[w] += 1
        while len(counts) == len(need) and counts[toks[left][0]] > 1:
            counts[toks[left][0]] -= 1
            left += 1
        if len(counts) == len(need) and e - toks[left][1] < best[1] - best[0]:
            best = (toks[left][1], e)
    return hit if best == (hit.start, hit.end) else Hit(hit.term, best[0], best[1], hit.match, hit.score)


class MentionFinder:
    """Writes `doc.spans["mentions"]` (lexicon hits) and `doc.spans["clauses"]` (dense queries)."""

    def __init__(self, nlp: Language, name: str, *, coverage_threshold: float, min_clause_chars: int,
                 max_clause_chars: int, expanded_systems: Iterable[str] = ("ICD-10-CM",)) -> None:
        self.name = name
        #: Systems whose terms are also looked for with the note's abbreviations spelled out. ICD-10-CM only:
        #: the PCS trees, fitted without such hits, rank the procedures they add lower than the rest (CodiEsp
        #: dev MAP P 0.5142 -> 0.5123 with them; CM 0.5601 -> 0.5596, while a US note's "systolic CHF" meets
        #: I50.23). Add ICD-10-PCS with a ranker refitted on them.
        self.expanded_systems = frozenset(expanded_systems)
        self.coverage_threshold = coverage_threshold
        self.min_clause_chars = min_clause_chars
        self.max_clause_chars = max_clause_chars
        #: Set by the engine once the index is loaded; without it only clauses are found.
        self.lexicon: Optional[Lexicon] = None

    def _expanded_hits(self, doc: Doc) -> list[Hit]:
        """Lexicon hits on the long forms of abbreviations, placed back on the short form."""
        assert self.lexicon is not None
        found: list[Hit] = []
        expansions: dict[tuple[int, int], str] = getattr(doc._, "expansions", None) or {}
        for (start, end), long_form in expansions.items():
            for h in self.lexicon.exact(long_form):
                if h.start == 0 and h.end == len(long_form):  # the whole expansion, not a piece of it
                    found.append(Hit(h.term, start, end, "exact", h.score))
        return found

    def _hits_through_expansions(self, start: int, pieces: list[tuple[str, tuple[int, int] | None]]) -> list[Hit]:
        """Lexicon hits in the stretch of the note from `start` read with its abbreviations spelled out (`pieces`,
        `spelled_pieces`: "acute on chronic systolic CHF" meets "Acute on chronic systolic (congestive) heart
        failure"), placed back on the note's text: only those that take in an abbreviation and more, the rest
        being found on the text as written."""
        assert self.lexicon is not None
        spans: list[tuple[int, int, int, int]] = []  # expanded start, end -> the abbreviation's start, end
        at = 0
        for piece, where in pieces:
            if where is not None:
                spans.append((at, at + len(piece), *where))
            at += len(piece)
        expanded = "".join(piece for piece, _ in pieces)

        def back(pos: int, *, closing: bool) -> int:
            shift = start
            for a, b, s, e in spans:
                if pos < a or (closing and pos == a):
                    break
                if pos < b or (closing and pos == b):
                    return e if closing else s
                shift = e - b
            return pos + shift

        found: list[Hit] = []
        bounds = list(clauses(expanded))  # `clauses(expanded)`, cut once for all its coverage hits
        hits = self.lexicon.exact(expanded) + [
            _tightest(h, expanded, bounds) for h in self.lexicon.coverage(expanded, threshold=self.coverage_threshold)]
        for h in hits:
            touched = [(a, b) for a, b, _, _ in spans if h.start < b and a < h.end]
            if (touched and h.term.system in self.expanded_systems
                    and not any(a <= h.start and h.end <= b for a, b in touched)):
                found.append(Hit(h.term, back(h.start, closing=False), back(h.end, closing=True), h.match, h.score))
        return found

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text  # built once: Doc.text joins every token anew on each access
        by_span: dict[tuple[int, int], list[Hit]] = defaultdict(list)
        expansions: dict[tuple[int, int], str] = getattr(doc._, "expansions", None) or {}
        clause_spans: list[Span] = []
        for sent in doc.sents:
            for cs, ce in clauses(text, sent.start_char, sent.end_char):
                raw = text[cs:ce]
                lead = len(raw) - len(raw.lstrip())
                cs, ce = cs + lead, cs + len(raw.rstrip())
                if ce - cs < self.min_clause_chars:
                    continue
                span = doc.char_span(cs, min(ce, cs + self.max_clause_chars), label="phrase",
                                     alignment_mode="contract")
                if span is not None and len(span):
                    clause_spans.append(span)
            if self.lexicon is not None:
                for h in self.lexicon.exact(text, sent.start_char, sent.end_char):
                    by_span[(h.start, h.end)].append(h)
                for h in self.lexicon.coverage(text, sent.start_char, sent.end_char,
                                               threshold=self.coverage_threshold):
                    by_span[(h.start, h.end)].append(h)
                pieces = spelled_pieces(text, sent.start_char, sent.end_char, expansions)
                if len(pieces) > 1:
                    for h in self._hits_through_expansions(sent.start_char, pieces):
                        by_span[(h.start, h.end)].append(h)
        if self.lexicon is not None:
            for h in self._expanded_hits(doc):
                by_span[(h.start, h.end)].append(h)
        mentions: list[Span] = []
        for (start, end), hits in sorted(by_span.items()):
            span = doc.char_span(start, end, label=_kind(hits), alignment_mode="expand")
            if span is None:
                continue
            span._.hits = hits
            mentions.append(span)
        doc.spans[SPAN_GROUP] = mentions
        doc.spans[CLAUSE_GROUP] = clause_spans
        return doc


@Language.factory(
    "medcode_mentions",
    default_config={"coverage_threshold": 0.75, "min_clause_chars": 3, "max_clause_chars": 300,
                    "expanded_systems": ["ICD-10-CM"]},
    assigns=["doc.spans", "span._.hits"],
    requires=["token.is_sent_start"],
)
def make_mention_finder(nlp: Language, name: str, coverage_threshold: float, min_clause_chars: int,
                        max_clause_chars: int, expanded_systems: list[str]) -> MentionFinder:
    """Factory of the `medcode_mentions` component."""
    return MentionFinder(nlp, name, coverage_threshold=coverage_threshold, min_clause_chars=min_clause_chars,
                         max_clause_chars=max_clause_chars, expanded_systems=expanded_systems)
