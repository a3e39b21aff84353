"""Distil a cheaper query encoder for note clauses from the index's encoder (the teacher).

The student is the teacher with only some of its transformer layers kept, trained so that its unit
vector for a clause lands where the teacher's does (loss: 1 - cosine). It then searches the teacher's
index unchanged: only the note side gets cheaper, and the ~250k code texts are not embedded again.
Self-supervised: the targets are the teacher's own vectors, so uncoded notes (CodiEsp `background/`)
serve as well as coded ones; dev is never read.

The result, `<data_dir>/models/query-encoder/<version>/`, is a sentence-transformers folder plus
`card.json` naming the teacher and its fingerprint (a student is only valid beside that teacher's index).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesets.encoder import Encoder, float32_model
from codesets.encoder_models import (
    BASE_MODEL,
    CARD,
    QUERY_KIND,
    base_encoder_path,
    configured_encoder_path,
    encoder_card,
    note_encoder_path,
    query_encoder_root,
)
from codesets.encoder_runtime import onnx_root
from codesets.neighbors import clause_texts
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from training.encoder import (
    Progress,
    _lr,
    _step,
    _version,
    training_device,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from codesets.index import CodeIndex

log = logging.getLogger("medcode.training")
KIND = QUERY_KIND
FORMAT = 1
#: Index results compared between teacher and student, per clause and code system.
AGREEMENT_K = 8


@dataclass(frozen=True)
class DistillTexts:
    """Deduplicated clause texts to train on and to hold out, and where they came from."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]
    counts: Mapping[str, int] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)


def note_files(folder: Path) -> list[Path]:
    """The notes of a CodiEsp-style folder (`text_files_en/*.txt`) or of a plain folder of `.txt` files."""
    inner = folder / "text_files_en"
    return sorted((inner if inner.is_dir() else folder).glob("*.txt"))


def gather_texts(folders: Sequence[Path], *, index_texts: Sequence[str] = (), index_sample: int = 0,
                 held_out_notes: int = 45, seed: int = 13) -> DistillTexts:
    """Clauses of every note under `folders` (cut as the engine cuts them), plus a sample of code texts.

    Whole notes of the first folder are held out (a tenth at most), so held-out clauses share no note
    with training ones; a text seen twice is kept once, held out first.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    counts: dict[str, int] = {}
    sources: dict[str, str] = {}
    held: list[str] = []
    train: list[str] = []
    for n, folder in enumerate(folders):
        files = note_files(folder)
        if not files:
            log.warning("no notes under %s; skipped", folder)
            continue
        kept = set(rng.sample(files, min(held_out_notes, len(files) // 10))) if n == 0 else set()
        for f in sorted(kept):
            held += _new(clause_texts(f.read_text(encoding="utf-8")), seen)
        before = len(train)
        for f in files:
            if f not in kept:
                train += _new(clause_texts(f.read_text(encoding="utf-8")), seen)
        counts[folder.name] = len(train) - before
        sources[folder.name] = f"{folder} ({len(files)} notes)"
    if index_sample and index_texts:
        pool = sorted(set(index_texts) - seen)
        sample = rng.sample(pool, min(index_sample, len(pool)))
        train += sample
        counts["index"] = len(sample)
        sources["index"] = f"a sample of the index's code texts ({len(pool)} distinct)"
    counts["held_out"] = len(held)
    return DistillTexts(tuple(train), tuple(held), counts, sources)


def _new(texts: Sequence[str], seen: set[str]) -> list[str]:
    out = [t for t in dict.fromkeys(texts) if t not in seen]
    seen.update(out)
    return out


def check_layers(layers: Sequence[int], count: int) -> None:
    """Refuse a layer list that is empty, unordered, repeated or outside the teacher's `count` layers."""
    if not layers or sorted(set(layers)) != list(layers) or not all(0 <= i < count for i in layers):
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"layers must be distinct, increasing and within "
                           f"0..{count - 1}; got {list(layers)}")


def teacher_layers(teacher: Path) -> int:
    """How many transformer layers the teacher has, from its config (without loading the weights)."""
    config = json.loads((teacher / "config.json").read_text(encoding="utf-8"))
    return int(config.get("num_hidden_layers", 0))


def student_from(teacher: Path, layers: Sequence[int], *, max_seq_length: int = 64,
                 device: str = "cpu") -> SentenceTransformer:
    """The teacher with only the transformer layers at `layers` (in that order), ready to train on `device`."""
    import torch

    model = float32_model(teacher, device=device, max_seq_length=max_seq_length)
    bert = model.transformers_model
    stack = bert.encoder.layer if bert is not None and hasattr(bert, "encoder") else None
    if stack is None:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"encoder {teacher.name} is not a BERT-style transformer")
    check_layers(layers, len(stack))
    bert.encoder.layer = torch.nn.ModuleList([stack[i] for i in layers])
    bert.config.num_hidden_layers = len(layers)
    # Half of MiniLM's weights are the word embeddings: the student shares the teacher's vocabulary,
    # and leaving them frozen keeps AdamW's step cheap on two cores.
    bert.get_input_embeddings().requires_grad_(False)
    return model


def teacher_vectors(teacher: Path, texts: Sequence[str], *, onnx_dir: Path | None = None, cache_dir: Path | None = None,
                    threads: int = 0) -> np.ndarray:
    """The teacher's unit vectors for `texts`, kept in `cache_dir` per teacher and text list (minutes to make)."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cached = cache_dir / f"distill-{Encoder.fingerprint_of(teacher)}-{key}.npy" if cache_dir else None
    if cached is not None and cached.is_file():
        vectors = np.load(cached)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = Encoder(teacher, batch_size=64, onnx_dir=onnx_dir, threads=threads).encode(list(texts))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, cached)
    return vectors


def fidelity(student: np.ndarray, teacher: np.ndarray) -> dict[str, float]:
    """Cosine of each student vector to the teacher's: mean, 5th percentile and minimum."""
    cos = (student * teacher).sum(axis=1)
    if not len(cos):
        return {}
    return {"mean": round(float(cos.mean()), 4), "p5": round(float(np.percentile(cos, 5)), 4),
            "min": round(float(cos.min()), 4), "n": len(cos)}


def agreement(index: CodeIndex, student: np.ndarray, teacher: np.ndarray, *, k: int = AGREEMENT_K) -> dict[str, float]:
    """Per code system, the share of the teacher's top-k index rows that the student's search also returns."""
    out = {}
    for system in index.systems:
        mine = index.search(system, np.ascontiguousarray(student, dtype=np.float32), k)
        theirs = index.search(system, np.ascontiguousarray(teacher, dtype=np.float32), k)
        shared = [len({r[:2] for r in a} & {r[:2] for r in b}) / max(1, len(b)) for a, b in zip(mine, theirs, strict=True)]
        out[system] = round(float(np.mean(shared)), 4) if shared else float("nan")
    return out


def distill(teacher: Path, out_root: Path, *, texts: DistillTexts, layers: Sequence[int], budget_s: float,
            max_steps: int | None = None, batch_size: int = 128, learning_rate: float = 3e-4, warmup: float = 0.05,
            seed: int = 13, save_dtype: str = "float32", index: CodeIndex | None = None,
            onnx_dir: Path | None = None, cache_dir: Path | None = None, threads: int = 0, device: str = "cpu",
            progress: Progress | None = None) -> Path:
    """Train a student of `teacher` keeping `layers` and write `<out_root>/<version>/`; returns that folder.

    Stops at `max_steps` or after `budget_s` seconds of training, whichever comes first; the same seed and
    steps give the same weights. `index` (built with this teacher) adds the top-8 agreement to the card.
    """
    import torch
    from sentence_transformers.util import batch_to_device

    if not texts.train:
        raise MedcodeError(ErrorCode.TRAINING_FAILED, step="query encoder", detail="no texts to distil from")
    started = time.monotonic()
    rng = random.Random(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    model = student_from(teacher, layers, device=device)
    targets = teacher_vectors(teacher, [*texts.train, *texts.held_out], onnx_dir=onnx_dir, cache_dir=cache_dir,
                              threads=threads)
    train_targets, held_targets = targets[: len(texts.train)], targets[len(texts.train):]
    before = _encode(model, texts.held_out)
    lengths = [len(ids) for ids in model.tokenizer(list(texts.train), truncation=True,
                                                   max_length=model.max_seq_length)["input_ids"]]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.01)
    losses: list[float] = []
    loop_start = time.monotonic()
    model.train()
    while max_steps is None or len(losses) < max_steps:
        for batch in _plan(lengths, batch_size, rng):
            elapsed = time.monotonic() - loop_start
            if elapsed > budget_s or (max_steps is not None and len(losses) >= max_steps):
                break
            done = max(len(losses) / max_steps if max_steps else 0.0, elapsed / budget_s)
            for group in optimizer.param_groups:
                group["lr"] = _lr(done, warmup, learning_rate)
            features = batch_to_device(model.preprocess([texts.train[i] for i in batch]), model.device)
            out = model(features)["sentence_embedding"]
            target = torch.from_numpy(train_targets[batch]).to(model.device)
            loss = (1.0 - (out * target).sum(dim=1)).mean()
            losses.append(_step(loss, optimizer, params))
            if progress:
                progress(len(losses), max_steps or 0, losses[-1])
        else:
            continue  # a whole pass over the texts: go round again
        break
    train_seconds = time.monotonic() - loop_start
    model.eval()
    after = _encode(model, texts.held_out)
    metrics: dict[str, Any] = {"held_out_cosine": {"before": fidelity(before, held_targets),
                                                   "after": fidelity(after, held_targets)}}
    if index is not None and len(after):
        metrics[f"top{AGREEMENT_K}_agreement"] = agreement(index, after, held_targets)

    out_root.mkdir(parents=True, exist_ok=True)
    version = _version(out_root)
    partial = out_root / f".{version}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    if save_dtype == "float16":
        model.half()
    model.save(str(partial), create_model_card=False)
    card = {
        "kind": KIND, "format": FORMAT, "version": version, "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "teacher": BASE_MODEL if teacher == base_encoder_path() else teacher.name,
        "teacher_path": str(teacher), "teacher_fingerprint": Encoder.fingerprint_of(teacher),
        "layers": list(layers),
        "data": {"counts": dict(texts.counts), "sources": dict(texts.sources)},
        "training": {"loss": "1 - cosine to the teacher's unit vector", "steps": len(losses),
                     "batch_size": batch_size, "learning_rate": learning_rate, "warmup": warmup, "seed": seed,
                     "frozen": "word embeddings", "max_seq_length": model.max_seq_length,
                     "budget_s": budget_s, "train_seconds": round(train_seconds, 1),
                     "total_seconds": round(time.monotonic() - started, 1),
                     "threads": threads or os.cpu_count(), "device": device, "saved_dtype": save_dtype,
                     "loss_first": round(losses[0], 5) if losses else None,
                     "loss_last_50_mean": round(float(np.mean(losses[-50:])), 5) if losses else None},
        "metrics": metrics,
    }
    (partial / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    # Renamed only once complete: a loader never meets a half-written version.
    os.replace(partial, out_root / version)
    return out_root / version


def _plan(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One shuffled pass in batches of similar token counts: little padding, still a random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lengths.__getitem__)
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _encode(model: SentenceTransformer, texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, model.get_embedding_dimension() or 0), dtype=np.float32)
    return model.encode(list(texts), batch_size=128, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)


def distill_from_settings(settings: Settings, *, budget_s: float | None = None, layers: Sequence[int] | None = None,
                          max_steps: int | None = None, progress: Progress | None = None) -> Path:
    """Distil the configured encoder (the index's) on the configured notes into data_dir/models/query-encoder."""
    from codesets.index import CodeIndex

    cfg = settings.distill
    teacher = configured_encoder_path(settings)
    layers = list(layers or cfg.layers)
    check_layers(layers, teacher_layers(teacher))  # before minutes of teacher vectors, not after
    index: CodeIndex | None = None
    index_path = settings.data_dir / "index"
    if (index_path / "manifest.json").is_file():
        index = CodeIndex.load(index_path)
        if index.manifest.get("encoder", {}).get("fingerprint") != Encoder.fingerprint_of(teacher):
            log.warning("the index under %s was built with another encoder than %s; no index texts or agreement "
                        "(run `medcode index build` first)", index_path, teacher.name)
            index = None
    folders = [p if p.is_absolute() else settings.corpus_dir / p for p in cfg.sources]
    index_texts = [text for rows in index.rows.values() for _, text in rows] if index is not None else []
    texts = gather_texts(folders, index_texts=index_texts, index_sample=cfg.index_sample,
                         held_out_notes=cfg.held_out_notes, seed=cfg.seed)
    return distill(teacher, query_encoder_root(settings.data_dir), texts=texts, layers=layers,
                   budget_s=cfg.budget_s if budget_s is None else budget_s, max_steps=max_steps,
                   batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, warmup=cfg.warmup, seed=cfg.seed,
                   save_dtype=cfg.save_dtype, index=index, onnx_dir=onnx_root(settings.data_dir),
                   cache_dir=settings.data_dir / "cache", threads=settings.threads,
                   device=training_device(settings.train_device), progress=progress)


def up_to_date(settings: Settings) -> Path | None:
    """The query encoder the engine would use for the configured encoder (trained, else shipped; see
    `codesets.encoder_models.note_encoder_path`) when it keeps the configured layers, else None."""
    found = note_encoder_path(settings.model_copy(update={"index": settings.index.model_copy(
        update={"note_encoder": ""})}), Encoder.fingerprint_of(configured_encoder_path(settings)))
    card = encoder_card(found) if found else None
    return found if card and card.get("layers") == list(settings.distill.layers) else None
