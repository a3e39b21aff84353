"""The code-set index on disk: faiss vectors of every code text, the lexicon, the usage statistics.

Built once by `medcode index build`, stamped with the code-set releases, the encoder and the
usage corpus it came from; `is_stale` tells when any of them changed.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from codesets.cache import gc_paused, load_pickle
from codesets.classifier import NoteClassifier
from codesets.classifier import fit as fit_classifier
from codesets.encoder import Encoder
from codesets.lexicon import VERSION as LEXICON_VERSION
from codesets.lexicon import Lexicon, Term
from codesets.neighbors import Neighbors, embed_notes
from codesets.types import CodeSet
from codesets.usage import CodedNote, Usage
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import System

#: 2: vectors stored as float16 (`IndexHNSWSQ`), half the memory and ~25% faster searches than the
#: float32 of format 1; the top 8 of the clauses of 50 CodiEsp dev notes agree 99.7% (PCS) to 99.96% (CM).
#: 3: the note classifier (`classifier.*`); its faiss files are those of format 2.
FORMAT = 3
#: The oldest format whose faiss files a build may copy as they are.
SAME_FAISS_SINCE = 2
#: The most synonyms of one code that are embedded besides its description. Encoding is the
#: slow part of a build (~450 texts/s on 2 cores); the lexicon still holds every synonym.
EMBEDDED_SYNONYMS: dict[str, int] = {"ICD-10-CM": 4, "ICD-10-PCS": 1}
Progress = Callable[[str, int, int], None]
#: Files every index has besides one .faiss and .rows.json per system.
INDEX_FILES = ("manifest.json", "lexicon.pkl", "usage.json", "neighbors.json", "neighbors.npy", "classifier.json",
               "classifier.npz", "classifier.npy")


def code_terms(codeset: CodeSet) -> list[Term]:
    """The searchable texts of every code (keyed without the dot): its description, then its synonyms."""
    terms: list[Term] = []
    for c in codeset:
        terms.append(Term(c.key, codeset.system, c.description, "description"))
        terms.extend(Term(c.key, codeset.system, s, "synonym") for s in c.synonyms)
    return terms


def embedded_terms(codeset: CodeSet) -> list[Term]:
    """The texts the dense channel searches: fewer than the lexicon's, to keep a build in minutes.

    ICD-10-CM codes with a 7th character are embedded for the initial encounter (A) only: the
    others differ from it by the episode of care alone, which the coder picks among siblings.
    """
    cap = EMBEDDED_SYNONYMS.get(codeset.system, 2)
    terms: list[Term] = []
    for c in codeset:
        if codeset.system == "ICD-10-CM" and len(c.key) == 7 and not c.key.endswith("A"):
            continue
        terms.append(Term(c.key, codeset.system, c.description, "description"))
        terms.extend(Term(c.key, codeset.system, s, "synonym") for s in c.synonyms[:cap])
    return terms


@dataclass(frozen=True)
class Inputs:
    """What an index is built from; its stamp decides staleness."""

    codesets: dict[System, CodeSet]
    encoder: Encoder
    usage: Usage | None
    #: The coded notes `usage` was mined from; embedded for the similar-notes feature, and what the
    #: note classifier learns from.
    corpus: tuple[CodedNote, ...] = ()
    #: Uncoded notes that shape the note classifier's vocabulary.
    background: tuple[str, ...] = ()
    #: `codesets.classifier.fit`'s settings (c, min_notes).
    classifier: dict[str, float] = field(default_factory=dict)
    #: Lexicon terms of the code-set knowledge sources (`codesets.knowledge`), and each source's stamp.
    knowledge: tuple[Term, ...] = ()
    knowledge_sources: dict[str, str] = field(default_factory=dict)
    #: The CodiEsp splits `corpus` holds, in order: evaluation on one of them must refit without it.
    corpus_splits: tuple[str, ...] = ()

    def stamp(self) -> dict[str, object]:
        usage_fp = ""
        if self.usage is not None:
            blob = json.dumps([self.usage.counts.__len__(), [(t.code, t.text, t.precision) for t in self.usage.rules]])
            usage_fp = hashlib.sha256(blob.encode()).hexdigest()[:16]
        background_fp = hashlib.sha256("\x00".join(self.background).encode()).hexdigest()[:16]
        return {
            "format": FORMAT,
            "lexicon": LEXICON_VERSION,
            "codesets": {s: {"release": cs.tag, "fingerprint": cs.fingerprint(), "codes": len(cs)}
                         for s, cs in sorted(self.codesets.items())},
            "encoder": {"name": self.encoder.name, "fingerprint": self.encoder.fingerprint()},
            "usage": {"source": self.usage.source if self.usage else "", "fingerprint": usage_fp},
            "corpus": {"splits": list(self.corpus_splits), "notes": len(self.corpus)},
            "classifier": {**self.classifier, "background": len(self.background), "fingerprint": background_fp},
            # Only when some source is in: an index built before knowledge sources existed stays up to date.
            **({"knowledge": self.knowledge_sources} if self.knowledge_sources else {}),
        }


class CodeIndex:
    """A built index, loaded: dense search per system plus the lexicon and usage."""

    def __init__(self, path: Path, manifest: dict, faiss_indexes: dict, rows: dict[System, list[tuple[str, str]]],
                 lexicon: Lexicon, usage: Usage, neighbors: Neighbors, classifier: NoteClassifier) -> None:
        self.path = path
        self.manifest = manifest
        self._faiss = faiss_indexes
        self.rows = rows
        self.lexicon = lexicon
        self.usage = usage
        self.neighbors = neighbors
        self.classifier = classifier

    @property
    def systems(self) -> list[System]:
        return list(self.rows)

    def search(self, system: System, vectors: np.ndarray, k: int, *,
               ef: int | None = None) -> list[list[tuple[str, str, float]]]:
        """For each query vector, the k nearest code texts of `system` as (code, text, cosine); `ef`: the
        HNSW search breadth (at least k; the graph's own, 64, when None)."""
        if system not in self._faiss or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        import faiss

        params = None if ef is None else faiss.SearchParametersHNSW(efSearch=max(ef, k))
        scores, ids = self._faiss[system].search(vectors, k, params=params)
        rows = self.rows[system]
        return [[(*rows[i], float(s)) for s, i in zip(srow, irow, strict=True) if i >= 0]
                for srow, irow in zip(scores, ids, strict=True)]

    @classmethod
    def load(cls, path: Path) -> CodeIndex:
        """Open the index under `path`; a missing index is an error with its remedy."""
        import faiss

        manifest_file = path / "manifest.json"
        if not manifest_file.exists():
            raise MedcodeError(ErrorCode.INDEX_MISSING, path=path)
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("format") != FORMAT:
            raise MedcodeError(ErrorCode.INDEX_STALE, path=path)
        indexes, rows = {}, {}
        with gc_paused():
            for system, slug in manifest["files"].items():
                indexes[system] = faiss.read_index(str(path / f"{slug}.faiss"))
                rows[system] = [tuple(r) for r in json.loads((path / f"{slug}.rows.json").read_text())]
            lexicon = load_pickle(path / "lexicon.pkl")
            usage = Usage.load(path / "usage.json")
        return cls(path, manifest, indexes, rows, lexicon, usage, Neighbors.load(path), NoteClassifier.load(path))


def build_stamp(path: Path) -> str:
    """The identity of the index build under `path` (its manifest, build time included): two nodes with the
    same stamp code with the same index. A missing index is an error with its remedy."""
    manifest_file = path / "manifest.json"
    if not manifest_file.exists():
        raise MedcodeError(ErrorCode.INDEX_MISSING, path=path)
    manifest = json.loads(manifest_file.read_text())
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:12]
    return f"{manifest.get('built', 'unknown')}/{digest}"


def is_stale(path: Path, inputs: Inputs) -> bool:
    """True when no index is under `path` or it was built from other inputs."""
    manifest_file = path / "manifest.json"
    if not manifest_file.exists():
        return True
    built = json.loads(manifest_file.read_text())
    files = [f"{slug}{suffix}" for slug in built.get("files", {}).values() for suffix in (".faiss", ".rows.json")]
    if not all((path / f).exists() for f in [*files, *INDEX_FILES]):
        return True
    stamp = inputs.stamp()
    # "knowledge" is stamped only when some source is in, so an index built with sources is stale without them.
    keys = set(stamp) | ({"knowledge"} & set(built))
    return {k: built.get(k) for k in keys} != {k: stamp.get(k) for k in keys}


def _slug(system: str) -> str:
    return system.lower().replace("-", "").replace(" ", "")


def _same_vectors(previous: dict, stamp: dict, system: str, faiss_file: Path) -> bool:
    """True when the vectors of `system` on disk came from the same code set and encoder."""
    return (faiss_file.exists() and previous.get("encoder") == stamp["encoder"]
            and previous.get("codesets", {}).get(system) == stamp["codesets"][system])


def _stored_vectors(faiss_file: Path) -> np.ndarray:
    """The vectors an index file holds, in row order (an index of another format is re-indexed from
    them rather than encoded again: encoding is the slow part)."""
    import faiss

    index = faiss.read_index(str(faiss_file))
    return index.reconstruct_n(0, index.ntotal)


def _hnsw(vectors: np.ndarray) -> Any:
    """A faiss HNSW graph over `vectors` (inner product), which it stores as float16."""
    import faiss

    index = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.hnsw.efSearch = 64
    index.train(vectors)  # float16 needs no training; faiss asks for the call all the same
    index.add(vectors)
    return index


def build(path: Path, inputs: Inputs, *, progress: Progress | None = None, chunk: int = 2048) -> Path:
    """Encode every code text into faiss HNSW indexes, one per system, and write them under `path`.

    Writes into a sibling temporary folder and swaps it in, so a failed build leaves the old index.
    """
    import faiss

    tmp = path.with_name(path.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, str] = {}
    all_terms: list[Term] = []
    stamp = inputs.stamp()
    previous = json.loads((path / "manifest.json").read_text()) if (path / "manifest.json").exists() else {}
    for system, codeset in sorted(inputs.codesets.items()):
        all_terms.extend(code_terms(codeset))
        slug = _slug(system)
        files[system] = slug
        old_faiss = path / f"{slug}.faiss"
        if _same_vectors(previous, stamp, system, old_faiss):
            # Same release and same encoder: the vectors are the same, only usage (or the format) changed.
            shutil.copyfile(path / f"{slug}.rows.json", tmp / f"{slug}.rows.json")
            if previous.get("format", 0) >= SAME_FAISS_SINCE:
                shutil.copyfile(old_faiss, tmp / f"{slug}.faiss")
            else:
                faiss.write_index(_hnsw(_stored_vectors(old_faiss)), str(tmp / f"{slug}.faiss"))
            continue
        terms = embedded_terms(codeset)
        texts = [t.text for t in terms]
        vectors = np.zeros((len(texts), inputs.encoder.dim), dtype=np.float32)
        for i in range(0, len(texts), chunk):
            vectors[i : i + chunk] = inputs.encoder.encode(texts[i : i + chunk])
            if progress:
                progress(system, min(i + chunk, len(texts)), len(texts))
        faiss.write_index(_hnsw(vectors), str(tmp / f"{slug}.faiss"))
        (tmp / f"{slug}.rows.json").write_text(json.dumps([[t.code, t.text] for t in terms]))
    usage = inputs.usage or Usage(source="none")
    with (tmp / "lexicon.pkl").open("wb") as fh:
        pickle.dump(Lexicon([*all_terms, *inputs.knowledge, *usage.rules]), fh, protocol=pickle.HIGHEST_PROTOCOL)
    usage.save(tmp / "usage.json")
    embed_notes(inputs.corpus, inputs.encoder.encode).save(tmp)
    fit_classifier(inputs.corpus, background=inputs.background, **inputs.classifier).save(tmp)  # type: ignore[arg-type]
    manifest = {**stamp, "files": files, "built": datetime.now(UTC).isoformat(timespec="seconds"),
                "texts": {s: len(json.loads((tmp / f"{f}.rows.json").read_text())) for s, f in files.items()}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path
