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
from pathlib import Path

from codesets.usage import PCS_PREFIX, CodedNote, read_codiesp
from medcode.settings import get_settings
from medcode.types import System
from training.evaluate import Ranked, codiesp_form, engine_rates, ranked_codes

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


def collect(coder: object, notes: Sequence[CodedNote], *, batch: int = 16) -> list[list[Found]]:
    """Every candidate code of every note (`coder`: an `nlp.coder.Coder`)."""
    out: list[list[Found]] = []
    for i in range(0, len(notes), batch):
        for groups in coder.rank([n.text for n in notes[i : i + batch]], every_code=True):  # type: ignore[attr-defined]
            out.append([Found(g.system, g.code, g.ranked, frozenset(c.channel for c in g.candidates),
                              frozenset(c.source or "dense" for c in g.candidates)) for g in groups])
    return out


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
         sources: Iterable[str]) -> list[dict[str, object]]:
    """The benchmark's table: one row per selection of candidates."""
    selections: list[tuple[str, Callable[[Found], bool]]] = [
        ("all (ranked)", lambda f: f.ranked),
        ("all (every code)", lambda f: True),
    ]
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
    args = parser.parse_args(argv)
    from codesets.types import settle_gc
    from nlp.coder import Coder

    settings = get_settings()
    folder = args.dir or settings.corpus_dir / args.split
    notes = read_codiesp(folder, split=None if args.dir else args.split)[: args.limit]
    started = time.perf_counter()
    coder = Coder.load(settings)
    settle_gc()
    found = collect(coder, notes)
    seconds = time.perf_counter() - started
    sources = sorted({s for codes in found for f in codes for s in f.sources})
    result = {"notes": len(notes), "folder": str(folder), "index": coder.index.manifest.get("knowledge", {}),
              "per_note": per_note(found), "recall": rows(notes, found, engine_rates(coder), sources),
              "seconds": round(seconds, 1)}
    print(f"{len(notes)} notes from {folder} in {seconds:.0f} s; knowledge sources in the index: "
          f"{', '.join(result['index']) or 'none'}")  # type: ignore[arg-type]
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
