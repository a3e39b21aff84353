"""Benchmark encoders without rebuilding the index: dense-channel recall on CodiEsp dev and encoding speed.

`python -m benchmarks.encoder [ENCODER ...]` (none given: the base one and the newest trained one)
embeds the clauses of the dev notes, as the engine does, and a slice of the code sets (every code of
the first 4 characters the dev and train gold codes start with, plus random others), then prints,
per encoder and system, the share of dev gold codes that the nearest code texts of some clause hit
(recall@1 and @8, the engine's dense_k), and texts per second encoding the same texts.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from codesets.encoder import Encoder
from codesets.encoder_models import base_encoder_path, newest_trained_encoder
from codesets.index import embedded_terms
from codesets.neighbors import clause_texts
from codesets.registry import load_codeset
from codesets.types import CodeSet
from codesets.usage import read_codiesp
from medcode.settings import get_settings
from medcode.types import ICD10_SYSTEMS, System



def code_slice(codeset: CodeSet, gold: set[str], *, others: int, seed: int = 0) -> CodeSet:
    """The codes that share their first 4 characters with a gold code (its near misses), plus `others` at random."""
    heads = {g[:4] for g in gold}
    keep = [c for c in codeset if c.key[:4] in heads]
    rest = sorted((c for c in codeset if c.key[:4] not in heads), key=lambda c: c.key)
    keep += random.Random(seed).sample(rest, min(others, len(rest)))
    return CodeSet(codeset.system, codeset.release, keep, source="bench slice")


def _hit(system: System, gold: str, code: str) -> bool:
    return code.startswith(gold) if system == "ICD-10-PCS" and len(gold) < 7 else code == gold


def dense_recall(encoder: Encoder, clauses: list[list[str]], gold: list[dict[System, set[str]]],
                 slices: dict[System, CodeSet], k: int = 8) -> dict[str, float]:
    """Per system, the share of gold codes found at rank 1 and within rank k by some clause of their note."""
    flat = [c for note in clauses for c in note]
    owner = np.repeat(np.arange(len(clauses)), [len(n) for n in clauses])
    queries = encoder.encode(flat)
    out: dict[str, float] = {}
    for system, codeset in slices.items():
        terms = embedded_terms(codeset)
        vectors = encoder.encode([t.text for t in terms])
        sims = queries @ vectors.T
        top = np.argsort(-sims, axis=1)[:, : k * 4]
        found1: list[set[str]] = [set() for _ in clauses]
        foundk: list[set[str]] = [set() for _ in clauses]
        for row, note in zip(top, owner, strict=True):
            codes = list(dict.fromkeys(terms[j].code for j in row))[:k]
            found1[note].add(codes[0])
            foundk[note].update(codes)
        total = sum(len(g[system]) for g in gold)
        for name, found in (("r@1", found1), (f"r@{k}", foundk)):
            hits = sum(any(_hit(system, g, c) for c in found[i]) for i, note in enumerate(gold) for g in note[system])
            out[f"{system} {name}"] = hits / max(total, 1)
    return out


def speed(encoder: Encoder, texts: list[str], rounds: int = 2) -> float:
    """Texts per second encoding `texts`, the best of `rounds` runs."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        encoder.encode(texts)
        best = min(best, time.perf_counter() - t)
    return len(texts) / best


def main(encoders: Annotated[list[Path] | None, typer.Argument()] = None, notes: int = 100,
         others: int = 2000) -> None:
    """Print dense recall on CodiEsp dev and encoding speed for each encoder folder."""
    settings = get_settings()
    paths = encoders or [base_encoder_path(), *filter(None, [newest_trained_encoder(settings.data_dir)])]
    dev = read_codiesp(settings.corpus_dir / "dev", split="dev")[:notes]
    train = read_codiesp(settings.corpus_dir / "train", split="train")
    clauses = [clause_texts(n.text) for n in dev]
    gold = [{s: {c for sy, c in n.codes if sy == s} for s in ICD10_SYSTEMS} for n in dev]
    used = {s: {c for n in [*dev, *train] for sy, c in n.codes if sy == s} for s in ICD10_SYSTEMS}
    slices = {s: code_slice(load_codeset(s), used[s], others=others) for s in ICD10_SYSTEMS}
    sample = [c for note in clauses for c in note][:2000]
    print(f"{len(dev)} dev notes, {sum(map(len, clauses))} clauses; code texts: "
          + ", ".join(f"{s} {len(embedded_terms(cs))}" for s, cs in slices.items()))
    for path in paths:
        encoder = Encoder(path, batch_size=settings.index.batch_size, max_seq_length=settings.index.max_seq_length,
                          threads=settings.threads)
        figures = dense_recall(encoder, clauses, gold, slices)
        rate = speed(encoder, sample)
        print(f"{encoder.name}: " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items())
              + f"  speed {rate:.0f} texts/s")


if __name__ == "__main__":
    typer.run(main)
