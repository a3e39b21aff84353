"""The code index on disk: float16 HNSW storage, and rebuilds that reuse vectors already encoded."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from codesets import index, registry
from codesets.encoder import Encoder
from codesets.types import CodeSet
from medcode.settings import Settings


@pytest.fixture(scope="module")
def tiny_inputs(settings: Settings) -> index.Inputs:
    """Two small real code families, embedded by the real encoder."""
    def part(system: str, prefix: str) -> CodeSet:
        full = registry.load_codeset(system)
        return CodeSet(system, full.release, [c for c in full if c.key.startswith(prefix)], source="test subset")

    return index.Inputs({"ICD-10-CM": part("ICD-10-CM", "R50"), "ICD-10-PCS": part("ICD-10-PCS", "0FT4")},
                        Encoder.from_settings(settings), None)


def test_an_index_stores_float16_vectors_and_finds_a_code_by_its_description(tiny_inputs, tmp_path: Path) -> None:
    built = index.CodeIndex.load(index.build(tmp_path / "index", tiny_inputs))
    assert built.manifest["format"] == index.FORMAT
    stored = faiss.read_index(str(tmp_path / "index" / "icd10cm.faiss"))
    assert isinstance(stored, faiss.IndexHNSWSQ)
    assert faiss.downcast_index(stored.storage).sq.qtype == faiss.ScalarQuantizer.QT_fp16
    query = tiny_inputs.encoder.encode(["Fever, unspecified"])
    (code, _, cos), *_ = built.search("ICD-10-CM", query, 3)[0]
    assert code == "R509" and cos == pytest.approx(1.0, abs=0.01)


def test_an_index_of_an_older_format_is_rebuilt_from_its_stored_vectors_not_encoded_again(
        tiny_inputs, tmp_path: Path) -> None:
    path = index.build(tmp_path / "index", tiny_inputs)
    # Format 1 as it was written: float32 HNSW. Its vectors are marked (negated) so that a rebuild
    # which encoded the texts again would be told apart from one that reused them.
    manifest = json.loads((path / "manifest.json").read_text())
    marked = {}
    for slug in manifest["files"].values():
        current = faiss.read_index(str(path / f"{slug}.faiss"))
        vectors = -current.reconstruct_n(0, current.ntotal)
        old = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        old.add(vectors)
        faiss.write_index(old, str(path / f"{slug}.faiss"))
        marked[slug] = vectors
    (path / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    assert index.is_stale(path, tiny_inputs)

    index.build(path, tiny_inputs)

    assert not index.is_stale(path, tiny_inputs)
    for slug, vectors in marked.items():
        rebuilt = faiss.read_index(str(path / f"{slug}.faiss"))
        assert isinstance(rebuilt, faiss.IndexHNSWSQ)
        np.testing.assert_allclose(rebuilt.reconstruct_n(0, rebuilt.ntotal), vectors, atol=1e-3)


def test_the_search_breadth_is_chosen_per_call_and_leaves_the_graph_as_built() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((60, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    rows = [(f"C{i}", f"text {i}") for i in range(len(vectors))]
    built = index.CodeIndex(Path("unused"), {}, {"ICD-10-CM": index._hnsw(vectors)}, {"ICD-10-CM": rows},
                            None, None, None, None)  # type: ignore[arg-type]
    exact = np.argsort(-queries @ vectors.T, axis=1)[:, :8]

    def recall(found: list[list[tuple[str, str, float]]]) -> float:
        return float(np.mean([len({c for c, _, _ in f} & {f"C{i}" for i in e}) / 8 for f, e in zip(found, exact)]))

    narrow, wide = built.search("ICD-10-CM", queries, 8, ef=8), built.search("ICD-10-CM", queries, 8, ef=400)
    assert recall(narrow) < recall(wide) == 1.0
    assert built._faiss["ICD-10-CM"].hnsw.efSearch == 64
    assert built.search("ICD-10-CM", queries, 8) == built.search("ICD-10-CM", queries, 8, ef=64)
