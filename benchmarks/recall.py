"""Candidate recall: the share of coders' codes the engine proposes at all, per channel and per source.

    python -m benchmarks.recall                 # CodiEsp dev
    python -m benchmarks.recall --dir FOLDER    # any folder in CodiEsp layout
    python -m benchmarks.recall --json out.json # also the figures as JSON

MAP cannot pass what the candidates allow: a gold code no channel proposes is never ranked. A gold
code counts as recalled when it is among the CodiEsp forms the evaluation ranks (`ranked_codes`: the
code, and the shorter form coders may have written, so a gold PCS prefix counts when a code of its
family is a candidate); a PCS family when some candidate is of it. Figures are pooled over the notes
(recalled gold codes / gold codes). Two scopes: the codes the engine ranks, and every code a channel
proposes (`Coder.rank(every_code=True)`; the others only a loose dense match proposed). "alone": the
codes one channel or source proposes by itself; "without": all the others together, so a source's
own share is the drop. Candidates per note count ranked codes, both systems.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from codesets.usage import PCS_PREFIX, CodedNote, read_codiesp
from medcode.settings import Settings, get_settings
from medcode.types import System
from training.metrics import Ranked, codiesp_form, engine_rates, ranked_codes

SYSTEMS: tuple[System, ...] = ("ICD-10-CM", "ICD-10-PCS")
CHANNELS = ("exact", "fuzzy", "usage", "cooccurrence", "dense")


@dataclass(frozen=True, slots=True)
class Found:
    """One candidate code of one note: whether the engine ranks it, and what proposed it."""

    system: System
    code: str
    ranked: bool
    channels: frozenset[str]
    sources: frozenset[str]
    place: int | None = None  # among the note's ranked codes, best first (both systems); None if not ranked


def collect(coder: object, notes: Sequence[CodedNote], *, batch: int = 16) -> list[list[Found]]:
    """Every candidate code of every note (`coder`: an `nlp.coder.Coder`)."""
    out: list[list[Found]] = []
    for i in range(0, len(notes), batch):
        for groups in coder.rank([n.text for n in notes[i : i + batch]], every_code=True):  # type: ignore[attr-defined]
            # Groups come best first by calibrated score, so a ranked code's place is its rank in the note.
            places = count()
            out.append([Found(g.system, g.code, g.ranked, frozenset(c.channel for c in g.candidates),
                              frozenset(c.source or "dense" for c in g.candidates),
                              next(places) if g.ranked else None) for g in groups])
    return out


def collect_lexical(settings: Settings, notes: Sequence[CodedNote], sources: Sequence[str] | None
                    ) -> tuple[list[list[Found]], dict[System, dict[str, float]]]:
    """The lexical channels' candidates alone, from a lexicon made here (code sets, the knowledge
    `sources`, usage mined from the coded splits) without a built index: what a knowledge source changes,
    measured in minutes; also the truncation rates of that usage."""
    from codesets import knowledge
    from codesets.build import usage_from_corpus
    from codesets.index import code_terms
    from codesets.lexicon import Lexicon
    from codesets.registry import load_codeset
    from nlp.mentions import SPAN_GROUP
    from nlp.pipeline import build_pipeline
    from nlp.resolve import Resolver
    from training.metrics import truncation_rates

    codesets = {s: load_codeset(s) for s in SYSTEMS}
    usage = usage_from_corpus(settings, codesets)
    if usage is None:
        raise SystemExit("the lexical benchmark needs CodiEsp train under the corpus folder")
    base = [t for cs in codesets.values() for t in code_terms(cs)]
    nlp = build_pipeline()
    nlp.get_pipe("medcode_mentions").lexicon = Lexicon(
        [*base, *knowledge.terms(codesets, sources, known=base), *usage.rules])
    resolver = Resolver(codesets, usage)  # type: ignore[arg-type]
    out: list[list[Found]] = []
    for doc in nlp.pipe(n.text for n in notes):
        by_code: dict[tuple[System, str], tuple[set[str], set[str]]] = {}
        for span in doc.spans[SPAN_GROUP]:
            for hit in span._.hits or ():
                target = resolver.target(hit.term.system, hit.term.code)
                if target is None:
                    continue
                channels, kinds = by_code.setdefault((hit.term.system, target), (set(), set()))
                kind = hit.term.kind
                channels.add(kind if kind in ("usage", "cooccurrence") else "exact" if hit.match == "exact" else "fuzzy")
                kinds.add(kind)
        out.append([Found(s, c, True, frozenset(ch), frozenset(k)) for (s, c), (ch, k) in by_code.items()])
    return out, truncation_rates(usage, codesets["ICD-10-PCS"])  # type: ignore[return-value]


def gold(note: CodedNote, system: System) -> set[str]:
    return {codiesp_form(s, c) for s, c in note.codes if s == system}


def recall(notes: Sequence[CodedNote], found: Sequence[list[Found]], system: System, rates: dict[str, float],
           keep: Callable[[Found], bool]) -> tuple[float, float]:
    """(code recall, PCS family recall) of the candidates `keep` selects; family recall is 0 for CM."""
    hits = total = fam_hits = fam_total = 0
    for note, codes in zip(notes, found, strict=True):
        want = gold(note, system)
        if not want:
            continue
        kept = [Ranked(f.system, f.code, 1.0) for f in codes if f.system == system and keep(f)]
        have = set(ranked_codes(kept, system, rates))
        hits += len(want & have)
        total += len(want)
        if system == "ICD-10-PCS":
            fams = {f[:PCS_PREFIX] for f in want}
            fam_hits += len(fams & {r.code[:PCS_PREFIX].lower() for r in kept})
            fam_total += len(fams)
    return (hits / total if total else 0.0, fam_hits / fam_total if fam_total else 0.0)


def rows(notes: Sequence[CodedNote], found: Sequence[list[Found]], rates: dict[System, dict[str, float]],
         sources: Iterable[str], *, top: int) -> list[dict[str, object]]:
    """The benchmark's table: one row per selection of candidates (`top`: the row of each note's best
    ranked codes, both systems, by the ranker's calibrated score)."""
    selections: list[tuple[str, Callable[[Found], bool]]] = [
        ("all (ranked)", lambda f: f.ranked),
        ("all (every code)", lambda f: True),
    ]
    if any(f.place is not None for codes in found for f in codes):
        selections.append((f"best {top} ranked", lambda f: f.place is not None and f.place < top))
    for ch in CHANNELS:
        selections.append((f"channel {ch} alone", lambda f, ch=ch: f.ranked and ch in f.channels))
    for ch in CHANNELS:
        selections.append((f"without channel {ch}", lambda f, ch=ch: f.ranked and bool(f.channels - {ch})))
    for src in sources:
        selections.append((f"source {src} alone", lambda f, src=src: f.ranked and src in f.sources))
    for src in sources:
        selections.append((f"without source {src}", lambda f, src=src: f.ranked and bool(f.sources - {src})))
    out: list[dict[str, object]] = []
    for name, keep in selections:
        d, _ = recall(notes, found, "ICD-10-CM", rates["ICD-10-CM"], keep)
        p, fam = recall(notes, found, "ICD-10-PCS", rates["ICD-10-PCS"], keep)
        out.append({"candidates": name, "diagnoses": round(d, 4), "procedures": round(p, 4),
                    "pcs_families": round(fam, 4)})
    return out


def per_note(found: Sequence[list[Found]]) -> dict[str, float]:
    """Ranked candidate codes per note (both systems), and every candidate code per note."""
    ranked = [sum(f.ranked for f in codes) for codes in found]
    every = [len(codes) for codes in found]
    q = statistics.quantiles(ranked, n=20) if len(ranked) > 1 else [float(ranked[0])] * 19 if ranked else [0.0] * 19
    return {"ranked_mean": round(statistics.fmean(ranked), 1) if ranked else 0.0, "ranked_p95": round(q[18], 1),
            "ranked_max": max(ranked, default=0), "every_code_mean": round(statistics.fmean(every), 1) if every else 0.0}


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recall", description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="dev", help="CodiEsp split under the corpus folder (default dev).")
    parser.add_argument("--dir", type=Path, help="A folder in CodiEsp layout instead of a split.")
    parser.add_argument("--limit", type=int, help="Only the first N notes.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--top", type=int, default=400, help="Also the recall of each note's best N ranked codes "
                        "(both systems, by score; default 400).")
    parser.add_argument("--lexical", action="store_true", help="Only the lexical channels, from a lexicon made "
                        "now with --knowledge (no built index needed).")
    parser.add_argument("--knowledge", help="With --lexical: the knowledge sources, comma-separated (default all; "
                        "'none' for none).")
    args = parser.parse_args(argv)
    from nlp.coder import Coder
    from serving.startup import settle_gc
    from training.evaluate import held_out

    settings = get_settings()
    folder = args.dir or settings.corpus_dir / args.split
    notes = read_codiesp(folder, split=None if args.dir else args.split)[: args.limit]
    started = time.perf_counter()
    if args.lexical:
        chosen = None if args.knowledge is None else [] if args.knowledge == "none" else args.knowledge.split(",")
        # Usage is mined from the splits the models learn from, the measured one left out.
        held = settings if args.dir else settings.model_copy(
            update={"corpus_splits": [s for s in settings.corpus_splits if s != args.split]})
        found, rates = collect_lexical(held, notes, chosen)
        knowledge_used: object = chosen if chosen is not None else "all"
    else:
        coder = Coder.load(settings)
        settle_gc()
        # A split the index learnt from is measured with usage, similar notes and classifier refitted without it.
        with held_out(coder, None if args.dir else args.split) as view:
            found, rates = collect(view, notes), engine_rates(view)
        knowledge_used = coder.index.manifest.get("knowledge", {})
    seconds = time.perf_counter() - started
    sources = sorted({s for codes in found for f in codes for s in f.sources})
    result = {"notes": len(notes), "folder": str(folder), "lexical_only": args.lexical, "knowledge": knowledge_used,
              "per_note": per_note(found), "recall": rows(notes, found, rates, sources, top=args.top),
              "seconds": round(seconds, 1)}
    print(f"{len(notes)} notes from {folder} in {seconds:.0f} s; {'lexical channels only; ' if args.lexical else ''}"
          f"knowledge sources: {knowledge_used or 'none'}")
    print(f"candidate codes per note: ranked mean {result['per_note']['ranked_mean']}, "  # type: ignore[index]
          f"p95 {result['per_note']['ranked_p95']}, max {result['per_note']['ranked_max']}; "  # type: ignore[index]
          f"every code mean {result['per_note']['every_code_mean']}")  # type: ignore[index]
    print(f"{'candidates':36} {'diagnoses':>10} {'procedures':>11} {'PCS families':>13}")
    for row in result["recall"]:  # type: ignore[attr-defined]
        print(f"{row['candidates']:36} {row['diagnoses']:>10.1%} {row['procedures']:>11.1%} {row['pcs_families']:>13.1%}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
