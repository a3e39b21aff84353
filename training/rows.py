"""Candidate rows: every code the engine proposes for a note, as a feature row with its label (a coder
assigned it), built in one pass or out of fold over CodiEsp train, cached under data_dir/cache.

Usage rules mined from a note's own codes would make every feature look perfect, so train is cut
into folds: each fold is ranked with usage, similar notes and the note classifier from the other
folds only. Rows are cached as `.npz` keyed by the index, the features and the notes, so a refit
skips the NLP.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from codesets.lexicon import Lexicon
from codesets.types import normalize_code
from codesets.usage import PCS_PREFIX, CodedNote, family, mine, read_codiesp
from codesets.words import CodeWords
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from nlp.evidence import CodeCandidates
from nlp.features import FEATURES
from nlp.resolve import Resolver
from training import reranker
from training.metrics import codiesp_form
from training.reranker import Rows

if TYPE_CHECKING:
    from codesets.neighbors import Neighbors
    from nlp.coder import Coder


#: (system, code) -> label, or None for a candidate that carries no label.
Labeler = Callable[[CodeCandidates], "float | None"]


def is_assigned(system: str, code: str, gold: set[str]) -> float:
    """1.0 when coders wrote this code or a shorter form of it (PCS 4-character prefix, CM category or
    subcategory) among the CodiEsp-form `gold` codes: the code then carries that form's evidence."""
    key = normalize_code(code)
    shorter = [key[:PCS_PREFIX]] if system == "ICD-10-PCS" else [key[:n] for n in range(3, len(key))]
    return float(any(codiesp_form(system, k) in gold for k in (key, *shorter)))


def label(g: CodeCandidates, note: CodedNote) -> float:
    """1.0 when coders gave the note this code, or a shorter form of it."""
    return is_assigned(g.system, g.code, {codiesp_form(s, c) for s, c in note.codes if s == g.system})


def relabel(rows: dict[str, Rows], notes: Sequence[CodedNote]) -> dict[str, Rows]:
    """The rows with labels recomputed from the notes' gold codes (`note` indexes `notes`), so a
    change of what counts as assigned needs no new pass of the engine."""
    for system, r in rows.items():
        gold = [{codiesp_form(s, c) for s, c in n.codes if s == system} for n in notes]
        r.y = np.array([is_assigned(system, str(c), gold[int(i)]) for c, i in zip(r.code, r.note, strict=True)])
    return rows


def candidate_rows(coder: Coder, texts: Sequence[str], labelers: Sequence[Callable[[CodeCandidates], float]],
                   *, notes: Sequence[int], weigh: Callable[[int, CodeCandidates], float] | None = None,
                   batch: int = 32, every_code: bool = False) -> dict[str, list[tuple]]:
    """Per system, (features, label, note, weight, code) of every candidate of every text (`every_code`:
    also the codes the engine leaves unranked, as rows to fit on; without it, the rows the engine ranks)."""
    out: dict[str, list[tuple]] = defaultdict(list)
    for i in range(0, len(texts), batch):
        ranked = coder.rank(list(texts[i : i + batch]), every_code=every_code)
        for j, groups in enumerate(ranked):
            k = i + j
            for g in groups:
                out[g.system].append(([g.features[f] for f in FEATURES], labelers[k](g), notes[k],
                                      weigh(k, g) if weigh else 1.0, g.code))
    return out


def note_rows(coder: Coder, notes: Sequence[CodedNote]) -> dict[str, Rows]:
    """Per system, the rows of every candidate the engine ranks for `notes`, labelled by their codes, in note order."""
    return as_rows(candidate_rows(coder, [n.text for n in notes], [(lambda g, n=n: label(g, n)) for n in notes],
                                  notes=list(range(len(notes)))))


def as_rows(raw: dict[str, list[tuple]]) -> dict[str, Rows]:
    """The row tuples of `candidate_rows` as arrays, rows of each note kept together in note order."""
    rows = {}
    for system, items in raw.items():
        items = sorted(items, key=lambda t: t[2])  # stable: a note's candidates keep their order
        rows[system] = Rows.build(*(list(col) for col in zip(*items, strict=True))) if items else Rows.empty()
    return rows


@contextmanager
def fitted_on(coder: Coder, notes: Sequence[CodedNote], similar: Neighbors, *, source: str) -> Iterator[Coder]:
    """`coder` ranking with usage, usage rules, similar notes (`similar`: `notes` embedded, in order) and a
    note classifier learnt from `notes` alone, as if its index had been built from them; restored after."""
    from codesets.build import background_texts, classifier_params
    from codesets.classifier import fit as fit_classifier

    finder = coder.nlp.get_pipe("medcode_mentions")
    full = (finder.lexicon, coder.index.usage, coder.resolver, coder.index.neighbors, coder.index.classifier)
    # The index's own terms (code sets and knowledge sources), without the usage rules mined from its corpus.
    base_terms = [t for t in full[0].terms if t.kind not in ("usage", "cooccurrence")]
    usage = mine(notes, related=CodeWords(coder.codesets), source=source)
    try:
        finder.lexicon = Lexicon([*base_terms, *usage.rules])
        coder.index.usage = usage
        coder.index.neighbors = similar
        coder.index.classifier = fit_classifier(list(notes), background=background_texts(coder.settings),
                                                **classifier_params(coder.settings))
        coder.resolver = Resolver(coder.codesets, usage)
        yield coder
    finally:
        finder.lexicon, coder.index.usage, coder.resolver, coder.index.neighbors, coder.index.classifier = full


def learnt_splits(coder: Coder) -> list[str]:
    """The CodiEsp splits `coder`'s index learnt usage, similar notes and the note classifier from, in corpus order."""
    return coder.index.manifest.get("corpus", {}).get("splits", ["train"])


@contextmanager
def refitted_on(coder: Coder, parts: dict[str, list[CodedNote]]) -> Iterator[Coder]:
    """`coder` with usage, similar notes and the note classifier fitted on `parts` (CodiEsp splits' notes) alone
    while its index learnt from a split beyond them (`fitted_on`); else `coder` as it is."""
    if set(learnt_splits(coder)) <= set(parts):
        yield coder
        return
    with fitted_on(coder, [n for notes in parts.values() for n in notes], similar_notes(coder, parts),
                   source=f"CodiEsp {'+'.join(parts)}"):
        yield coder


def out_of_fold_rows(coder: Coder, notes: list[CodedNote], *, folds: int, console: Console,
                     similar: Neighbors | None = None) -> dict[str, Rows]:
    """Per system, the rows of every candidate of every note, each fold (notes i with i % folds == k) ranked
    with usage, similar notes and the note classifier taken from the other folds only. `similar`: the
    notes embedded in order (default: the index's, which are its corpus's in corpus order)."""
    if similar is None:
        # A limited run uses the index's first notes.
        if len(coder.index.neighbors) < len(notes):
            raise MedcodeError(ErrorCode.INDEX_STALE, path=coder.index.path)
        similar = coder.index.neighbors.subset(range(len(notes)))
    raw: dict[str, list[tuple]] = defaultdict(list)
    for k in range(folds):
        held = [i for i in range(len(notes)) if i % folds == k]
        rest = [i for i in range(len(notes)) if i % folds != k]
        with fitted_on(coder, [notes[i] for i in rest], similar.subset(rest), source=f"fold {k}"):
            # Every code, also those the engine leaves unranked: fitted with them as negatives, the PCS
            # trees rank dev 0.010 MAP better (0.485 against 0.475) than fitted on the ranked codes alone.
            part = candidate_rows(coder, [notes[i].text for i in held],
                                  [(lambda g, n=notes[i]: label(g, n)) for i in held], notes=held, every_code=True)
        for system, items in part.items():
            raw[system].extend(items)
        console.print(f"fold {k + 1}/{folds}: {sum(map(len, raw.values()))} candidates so far")
    return as_rows(raw)


def split_notes(settings: Settings, limits: dict[str, int | None] | None = None) -> dict[str, list[CodedNote]]:
    """The notes of each CodiEsp split the models are fitted on (`settings.corpus_splits`, in order), each
    cut to its limit in `limits`."""
    from codesets.build import corpus_splits

    limits = limits or {}
    return {split: read_split(settings, split)[: limits.get(split)] for split in corpus_splits(settings)}


def similar_notes(coder: Coder, parts: dict[str, list[CodedNote]]) -> Neighbors:
    """The similar-notes table of the concatenated `parts` (each a CodiEsp split's first notes): taken from
    the index where its corpus holds the split, embedded as the build does where it does not."""
    from codesets.encoder import Encoder
    from codesets.neighbors import Neighbors, embed_notes

    held = learnt_splits(coder)
    index = coder.index.neighbors
    vectors = []
    for split, notes in parts.items():
        offset = sum(len(read_split(coder.settings, s)) for s in held[: held.index(split)]) if split in held else None
        if offset is not None and offset + len(notes) <= len(index):
            vectors.append(index.vectors[offset: offset + len(notes)])
        elif notes:
            vectors.append(embed_notes(notes, Encoder.from_settings(coder.settings).encode).vectors)
    everything = [n for notes in parts.values() for n in notes]
    return Neighbors(np.vstack(vectors) if vectors else index.vectors[:0], [n.codes for n in everything], k=index.k)


def oof_rows(coder: Coder, parts: dict[str, list[CodedNote]], *, folds: int, console: Console) -> dict[str, Rows]:
    """`out_of_fold_rows` over the concatenated `parts`, cached under data_dir/cache (one cache for
    `medcode tune` and `medcode eval codiesp --cv` over the same notes)."""
    notes = [n for split in parts.values() for n in split]
    name = "+".join(parts)
    return cached_rows(coder.settings.data_dir / "cache" / f"rows-oof-{name}-{folds}.npz",
                       rows_stamp(coder, notes, folds=folds, splits=name),
                       lambda: out_of_fold_rows(coder, notes, folds=folds, console=console,
                                                similar=similar_notes(coder, parts)))


def rows_stamp(coder: Coder, notes: Sequence[CodedNote], **more: Any) -> dict[str, Any]:
    """What a rows cache depends on: the index, the features, the notes and how rows are built."""
    digest = hashlib.sha256("\x00".join(f"{n.id}\x01{n.text}" for n in notes).encode()).hexdigest()[:16]
    return {"index": coder.index.manifest.get("built"), "encoder": coder.index.manifest["encoder"]["fingerprint"],
            "note_encoder": [coder.encoder.fingerprint(), coder.encoder.int8, coder.encoder.batch_tokens],
            "features": list(FEATURES), "rows": reranker.ROWS_VERSION, "notes": digest,
            "candidates": [coder.settings.ranking.dense_k, coder.settings.ranking.dense_floor,
                           coder.settings.ranking.dense_ef], **more}


def cached_rows(path: Path, stamp: dict[str, Any], build: Callable[[], dict[str, Rows]]) -> dict[str, Rows]:
    """Rows from the cache at `path` when built from `stamp`, else built now and cached."""
    rows = reranker.load_rows(path, stamp)
    if rows is None:
        rows = build()
        reranker.save_rows(path, rows, stamp)
    return rows


def discounted(scores: np.ndarray, rows: Rows, system: str, discount: float) -> np.ndarray:
    """The scores after the engine's sibling discount (`nlp.ranker.diversify`), note by note."""
    out = np.asarray(scores, dtype=np.float64).copy()
    if discount == 1.0:
        return out
    start = 0
    for size in reranker.group_sizes(rows.note):
        idx = np.arange(start, start + size)
        order = sorted(idx, key=lambda i: (-out[i], rows.code[i]))
        seen: dict[str, int] = defaultdict(int)
        for i in order:
            key = family(system, str(rows.code[i]))
            out[i] *= discount ** seen[key]
            seen[key] += 1
        start += size
    return out


def read_split(settings: Settings, split: str) -> list[CodedNote]:
    """CodiEsp `split` notes, or E030 when the corpus is missing."""
    path = settings.corpus_dir / split
    if not path.exists():
        raise MedcodeError(ErrorCode.CORPUS_MISSING, path=path)
    return read_codiesp(path, split=split)
