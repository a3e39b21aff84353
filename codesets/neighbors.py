"""Similar coded notes: which codes coders gave to the notes most like this one.

Each coded note is embedded as the mean of its clause vectors (the same vectors the dense channel
computes for a new note, so this costs nothing extra at run time). For a new note, the codes of
its nearest coded notes, weighted by similarity, become a ranking feature. They never propose a
code on their own: every suggestion still needs evidence in the note.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from codesets.text import clauses
from codesets.usage import PCS_PREFIX, CodedNote
from medcode.types import System


def note_vector(clause_vectors: np.ndarray) -> np.ndarray:
    """A note's vector: the normalized mean of its clause vectors (zeros for an empty note)."""
    if len(clause_vectors) == 0:
        return np.zeros(clause_vectors.shape[1] if clause_vectors.ndim == 2 else 0, dtype=np.float32)
    mean = clause_vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm else mean).astype(np.float32)


def clause_texts(text: str) -> list[str]:
    """The clauses of a coded note as the engine cuts them (lines first, then punctuation)."""
    out = []
    for line_start, line_end in clauses(text):
        piece = text[line_start:line_end].strip()
        if len(piece) >= 3:
            out.append(piece)
    return out


class Neighbors:
    """The coded notes' vectors and codes; `weights(vector)` scores codes by similar notes."""

    def __init__(self, vectors: np.ndarray, codes: Sequence[frozenset[tuple[System, str]]], *, k: int = 10) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.codes = [frozenset(c) for c in codes]
        self.k = k

    def __len__(self) -> int:
        return len(self.codes)

    def subset(self, keep: Sequence[int]) -> Neighbors:
        """Only the notes at `keep` (out-of-fold training leaves a fold's own notes out)."""
        return Neighbors(self.vectors[list(keep)], [self.codes[i] for i in keep], k=self.k)

    def weights(self, vector: np.ndarray) -> dict[tuple[System, str], float]:
        """Similarity-weighted share of the k nearest notes carrying each code (PCS also by prefix)."""
        if not len(self.codes) or not vector.any():
            return {}
        sims = self.vectors @ vector
        top = np.argsort(-sims, kind="stable")[: self.k]
        total = float(np.clip(sims[top], 0.0, None).sum()) or 1.0
        out: dict[tuple[System, str], float] = {}
        for i in top:
            sim = max(float(sims[i]), 0.0)
            keys = set(self.codes[i])
            keys |= {(s, c[:PCS_PREFIX]) for s, c in self.codes[i] if s == "ICD-10-PCS"}
            for key in keys:
                out[key] = out.get(key, 0.0) + sim / total
        return out

    def save(self, path: Path) -> None:
        np.save(path / "neighbors.npy", self.vectors)
        (path / "neighbors.json").write_text(json.dumps({"k": self.k, "codes": [sorted(c) for c in self.codes]}))

    @classmethod
    def load(cls, path: Path) -> Neighbors:
        raw = json.loads((path / "neighbors.json").read_text())
        codes = [frozenset((s, c) for s, c in note) for note in raw["codes"]]
        return cls(np.load(path / "neighbors.npy"), codes, k=raw["k"])


def embed_notes(notes: Sequence[CodedNote], encode: object) -> Neighbors:
    """Vectors of coded notes, with `encode(list[str]) -> np.ndarray` (the index's encoder)."""
    texts: list[str] = []
    bounds: list[tuple[int, int]] = []
    for note in notes:
        pieces = clause_texts(note.text)
        bounds.append((len(texts), len(texts) + len(pieces)))
        texts.extend(pieces)
    vectors = encode(texts)  # type: ignore[operator]
    dim = vectors.shape[1]
    rows = [note_vector(vectors[a:b]) if b > a else np.zeros(dim, dtype=np.float32) for a, b in bounds]
    return Neighbors(np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32), [n.codes for n in notes])
