"""The engine: load everything once, then turn notes into ranked, evidenced code suggestions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
from spacy.language import Language
from spacy.tokens import Span

from codesets.encoder import Encoder
from codesets.index import CodeIndex
from codesets.lexicon import Hit
from codesets.neighbors import note_vector
from codesets.registry import load_codeset
from codesets.types import CodeSet
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings, get_settings
from medcode.types import ICD10_SYSTEMS, Candidate, Evidence, Mention, Suggestion, System
from nlp.evidence import NOT_PATIENT, CodeCandidates, group, why
from nlp.features import CodeFacts, Proposed, add_family_features, add_note_features, featurize, worth_ranking
from nlp.mentions import CLAUSE_GROUP, SPAN_GROUP
from nlp.note import check_note
from nlp.ranker import Ranker, diversify
from nlp.resolve import Resolver
from nlp.sections import section_lookup

MAX_EVIDENCE = 5


def _mention(text: str, span: Span, start: int, end: int, section_of: Callable[[Span], str | None]) -> Mention:
    """A mention at text[start:end] (`text` is the doc's text: `Doc.text` rebuilds it on every call;
    `section_of` is the doc's `section_lookup`)."""
    assertion = getattr(span._, "assertion", None) or "present"
    return Mention(start, end, text[start:end], "procedure" if span.label_ == "procedure" else "finding",
                   section_of(span), assertion, text[span.start_char : span.end_char].lower())


#: Lexicon sources whose exact match states a code's own title or inclusion term.
_TITLE_SOURCES = ("description", "synonym")


def _says_title(g: CodeCandidates) -> bool:
    """Whether a phrase of the note is the code's title or an inclusion term, word for word ("SBP" spelled out is
    "spontaneous bacterial peritonitis"): offered however low the ranker, fitted on CodiEsp, scores it."""
    return any(c.channel == "exact" and c.source in _TITLE_SOURCES and c.similarity >= 1.0 for c in g.candidates)


def _hit_candidate(hit: Hit, mention: Mention) -> Candidate:
    term = hit.term
    if term.kind in ("usage", "cooccurrence"):
        return Candidate(term.code, term.system, mention, term.kind, term.precision * hit.score, term.text,
                         source=term.kind)
    channel = "exact" if hit.match == "exact" else "fuzzy"
    return Candidate(term.code, term.system, mention, channel, hit.score, term.text,
                     {"description": float(term.kind == "description")}, term.kind)


@dataclass
class Coder:
    """Codes notes: `Coder.load().suggest(text)`; `suggest_many(texts)` batches the encoder."""

    settings: Settings
    nlp: Language
    index: CodeIndex
    encoder: Encoder
    codesets: dict[System, CodeSet]
    ranker: Ranker
    resolver: Resolver
    _codes: CodeFacts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._codes = CodeFacts(self.codesets)

    @classmethod
    def load(cls, settings: Settings | None = None, *, index_path: Path | None = None,
             ranker_path: Path | None = None, ranker: Ranker | None = None) -> Coder:
        """Load the index, code sets, encoder, pipeline and ranker named by the settings (the newest
        trained ranker under data_dir/models/ranker, else the shipped one; or `ranker` as given)."""
        from nlp.pipeline import build_pipeline

        s = settings or get_settings()
        index = CodeIndex.load(index_path or s.data_dir / "index")
        codesets = {system: load_codeset(system) for system in index.systems
                    if system in ICD10_SYSTEMS}
        # Notes embed in smaller batches than code texts: their clauses vary more in length.
        encoder = Encoder.from_settings(s, batch_size=64, notes=True)
        if encoder.space() != index.manifest["encoder"]["fingerprint"]:
            raise MedcodeError(ErrorCode.INDEX_STALE, path=index.path)
        nlp = build_pipeline()
        nlp.get_pipe("medcode_mentions").lexicon = index.lexicon
        splits = index.manifest.get("corpus", {}).get("splits", ["train"])
        ranker = ranker or Ranker.load(ranker_path or Ranker.newest(s.data_dir, splits) or Ranker.shipped(splits),
                                       clip=s.ranking.score_clip, threads=s.threads)
        return cls(s, nlp, index, encoder, codesets, ranker, Resolver(codesets, index.usage))

    def rank(self, texts: Sequence[str], *, every_code: bool = False) -> list[list[CodeCandidates]]:
        """The candidate codes of each note, scored and sorted best first: those `worth_ranking`, or with
        `every_code` all that the channels propose (training learns from the others as negatives too)."""
        notes = [check_note(t, limit=self.settings.max_note_chars) for t in texts]
        docs = list(self.nlp.pipe(notes))
        per_doc: list[list[Candidate]] = [[] for _ in docs]
        queries: list[tuple[int, Mention]] = []
        for i, (text, doc) in enumerate(zip(notes, docs, strict=True)):
            section_of = section_lookup(doc)
            for span in doc.spans[SPAN_GROUP]:
                made: dict[tuple[int, int], Mention] = {}  # a span's hits share their offsets: one Mention
                for hit in span._.hits or ():
                    mention = made.get((hit.start, hit.end))
                    if mention is None:
                        mention = made[(hit.start, hit.end)] = _mention(text, span, hit.start, hit.end, section_of)
                    per_doc[i].append(_hit_candidate(hit, mention))
            for span in doc.spans[CLAUSE_GROUP]:
                queries.append((i, _mention(text, span, span.start_char, span.end_char, section_of)))
        if self.encoder.int8:
            # int8 activations are scaled per batch, so a clause's vector depends on its batch-mates: each
            # note's clauses embed apart, and a note codes the same alone as beside others.
            per_note: list[list[str]] = [[] for _ in docs]
            for i, mention in queries:
                per_note[i].append(mention.text)
            vectors = np.concatenate([self.encoder.encode(texts) for texts in per_note] or [self.encoder.encode([])])
        else:
            vectors = self.encoder.encode([m.text for _, m in queries])
        k, ef = self.settings.ranking.dense_k, self.settings.ranking.dense_ef
        for system in self.index.systems:
            for (i, mention), found in zip(queries, self.index.search(system, vectors, k, ef=ef), strict=True):
                seen: set[str] = set()
                for code, text, cos in found:
                    if code not in seen:  # several texts of one code: keep its best
                        seen.add(code)
                        per_doc[i].append(Candidate(code, system, mention, "dense", cos, text,
                                                    {"rank": float(len(seen))}))
        rows_of = np.array([i for i, _ in queries], dtype=np.int64)
        noted: list[list[CodeCandidates]] = []
        classified_notes = self.index.classifier.weights(notes)
        for i, candidates in enumerate(per_doc):
            near = self.index.neighbors.weights(note_vector(vectors[rows_of == i]))
            classified = classified_notes[i]
            groups = group(self.resolver.resolve(candidates), self.settings.ranking)
            proposed = Proposed.count(groups, self.index.usage)
            floor = self.settings.ranking.dense_floor
            for g in groups:
                g.ranked = worth_ranking(g, dense_floor=floor, neighbors=near)
            if not every_code:
                groups = [g for g in groups if g.ranked]
            for g in groups:
                g.features = featurize(g, usage=self.index.usage, billable=self.resolver.billable(g),
                                       prefix=self.resolver.was_prefix(g), neighbors=near, classified=classified,
                                       facts=self._codes.facts(g.system, g.code, self.index.usage),
                                       prior=proposed.prior_of[(g.system, g.code)])
            add_family_features(groups, proposed)
            add_note_features(groups, notes[i], self._codes.words, proposed)
            noted.append(groups)
        # The trees score every note's codes at once: one LightGBM call a system, not one a note, so its
        # threads start once (after each start they spin a while against whatever runs next).
        every = [g for groups in noted for g in groups]
        for system in {g.system for g in every}:
            mine = [g for g in every if g.system == system]
            for g, score in zip(mine, self.ranker.score(system, [g.features for g in mine]), strict=True):
                g.score = score
        return [diversify(groups, self.ranker, self.settings.ranking.sibling_discount) for groups in noted]

    def suggest_many(self, texts: Sequence[str], *, top: int | None = None, systems: Sequence[str] | None = None,
                     negated: str | None = None) -> list[list[Suggestion]]:
        """Suggestions for each note, best first; negated and family-history codes dropped or flagged."""
        top = top or self.settings.ranking.top
        policy = negated or self.settings.ranking.negated
        out: list[list[Suggestion]] = []
        for text, groups in zip(texts, self.rank(texts), strict=True):
            chosen = (g for g in groups
                      if (systems is None or g.system in systems)
                      and (g.score >= self.settings.ranking.min_score or _says_title(g))
                      and (policy == "flag" or g.assertion not in NOT_PATIENT))
            out.append([self._suggestion(text, g, rank) for rank, g in enumerate(islice(chosen, top), start=1)])
        return out

    def suggest(self, text: str, **options: object) -> list[Suggestion]:
        """Suggestions for one note; see `suggest_many`."""
        return self.suggest_many([text], **options)[0]  # type: ignore[arg-type]

    def _suggestion(self, text: str, g: CodeCandidates, rank: int) -> Suggestion:
        record = self.codesets[g.system].get(g.code)
        spans: dict[tuple[int, int], Candidate] = {}
        for c in g.evidence():
            spans.setdefault((c.mention.start, c.mention.end), c)
        evidence = [Evidence(start=s, end=e, text=text[s:e], section=c.mention.section,
                             assertion=c.mention.assertion)
                    for (s, e), c in list(spans.items())[:MAX_EVIDENCE]]
        evidence.sort(key=lambda ev: ev.start)
        return Suggestion(code=record.code if record else g.code, system=g.system,
                          description=record.description if record else "", score=round(g.score, 4), rank=rank,
                          evidence=evidence, assertion=g.assertion, why=why(g))
