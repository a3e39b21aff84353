"""Fine-tune the dense channel's encoder contrastively, on the CPU (or a GPU when lent), into a versioned folder.

The loss is sentence-transformers' MultipleNegativesRankingLoss over (anchor, positive, hard negative)
triplets from training/pairs.py: each anchor must find its own positive among every positive and
negative of its batch. The embeddings and the lower layers stay frozen: the word embeddings are half of
MiniLM's weights and the optimizer's slowest part on two cores, the backward pass through the lower
layers is most of a step, and the words of code texts are not new to the model.

The result, `<data_dir>/models/encoder/<version>/`, is a sentence-transformers folder plus
`card.json` (data, date, code-set releases, base model, steps, loss, metrics); codesets/encoder_models.py
finds the newest valid one.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesets.encoder import Encoder, float32_model
from codesets.encoder_models import BASE_MODEL, CARD, base_encoder_path, trained_encoder_root
from codesets.registry import load_codeset
from codesets.types import CodeSet
from codesets.usage import CodedNote, read_codiesp
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from medcode.types import ICD10_SYSTEMS
from training import pairs as builders
from training.pairs import Pair

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

log = logging.getLogger("medcode.training")
FORMAT = 1
#: Pairs per source kept aside to measure retrieval before and after, never trained on.
HELD_OUT = 100
Progress = Callable[[int, int, float], None]


def build_pairs(codesets: Mapping[str, CodeSet], notes: Sequence[CodedNote], *, seed: int = 0) -> list[Pair]:
    """Every pair of every source: code sets, the abbreviation list and coded *train* notes."""
    abbreviations = json.loads(resources.files("nlp").joinpath("resources", "abbreviations.json")
                               .read_text(encoding="utf-8"))["abbreviations"]
    found: list[Pair] = []
    near = builders.PcsNeighbours(codesets["ICD-10-PCS"]) if "ICD-10-PCS" in codesets else None
    if "ICD-10-CM" in codesets:
        cm = codesets["ICD-10-CM"]
        found += builders.cm_synonym_pairs(cm, seed=seed)
        found += builders.abbreviation_pairs(abbreviations, [(c.code, c.description) for c in cm], seed=seed)
    if near is not None:
        found += builders.pcs_pairs(near.codeset, seed=seed, neighbours=near)
    found += builders.codiesp_pairs(notes, codesets, seed=seed, neighbours=near)
    return found


def _split(pairs: Sequence[Pair], seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, held out): up to HELD_OUT pairs of each source, none sharing a code with training."""
    rng = random.Random(seed)
    by_source: dict[str, list[Pair]] = {}
    for p in pairs:
        by_source.setdefault(p.source, []).append(p)
    held_codes: set[str] = set()
    for source in sorted(by_source):
        codes = sorted({p.code for p in by_source[source]})
        # A tenth at most, so a small source is not emptied by its own evaluation.
        held_codes.update(rng.sample(codes, min(HELD_OUT, len(codes) // 10)))
    held: list[Pair] = []
    count: Counter[str] = Counter()
    for p in pairs:
        if p.code in held_codes and count[p.source] < HELD_OUT:
            count[p.source] += 1
            held.append(p)
    return [p for p in pairs if p.code not in held_codes], held


def recall_at_1(model: SentenceTransformer, pairs: Sequence[Pair], *, batch_size: int = 64) -> float:
    """Share of anchors whose nearest text, among all held-out positives, is their own positive."""
    if not pairs:
        return float("nan")
    positives = sorted({p.positive for p in pairs})
    where = {t: i for i, t in enumerate(positives)}
    a = model.encode([p.anchor for p in pairs], batch_size=batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
    b = model.encode(positives, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
    best = np.argmax(a @ b.T, axis=1)
    return float(np.mean([best[i] == where[p.positive] for i, p in enumerate(pairs)]))


def _freeze(model: SentenceTransformer, trainable_layers: int) -> None:
    """Freeze the embeddings and all but the top `trainable_layers` transformer layers.

    On two CPU cores the backward pass is most of a step; stopping it a few layers down makes a step
    about twice as fast, and the lower layers' general English is what we want to keep anyway.
    """
    transformer = model.transformers_model
    if transformer is None:
        return
    transformer.get_input_embeddings().requires_grad_(False)
    layers = transformer.base_model.encoder.layer if hasattr(transformer.base_model, "encoder") else []
    for layer in list(layers)[: max(0, len(layers) - trainable_layers)]:
        layer.requires_grad_(False)
    if hasattr(transformer.base_model, "embeddings"):
        transformer.base_model.embeddings.requires_grad_(False)


def _version(root: Path) -> str:
    """A folder name that sorts by creation time: 20260501T101500Z, with -2, -3 … on a clash."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = stamp, 1
    while (root / name).exists():
        n += 1
        name = f"{stamp}-{n}"
    return name


def training_device(choice: str) -> str:
    """The torch device training runs on: `auto` takes CUDA when torch sees a GPU, else the CPU; `cuda`
    without one is refused (BAD_INPUT) rather than silently slow."""
    import torch

    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="MEDCODE_TRAIN_DEVICE=cuda, but torch sees no CUDA GPU")
    return "cuda" if choice == "cuda" or (choice == "auto" and available) else "cpu"


def _step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter]) -> float:
    """One optimiser step on `loss` (gradients clipped to norm 1.0, then cleared); the loss as a float."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _lr(done: float, warmup: float, peak: float) -> float:
    """Linear warm-up over the first `warmup` of the run, then linear decay to zero at its end.

    `done` is the share of the run behind us: of the steps, or of the time budget when that runs out first.
    """
    if done < warmup:
        return peak * max(done, 0.01) / warmup
    return peak * max(0.0, (1.0 - done) / (1.0 - warmup))


def fine_tune(settings: Settings, *, max_minutes: float | None = None, steps: int | None = None,
              batch_size: int | None = None, learning_rate: float | None = None, seed: int | None = None,
              pairs: Sequence[Pair] | None = None, codesets: Mapping[str, CodeSet] | None = None,
              base: Path | None = None, out_dir: Path | None = None, progress: Progress | None = None) -> Path:
    """Fine-tune `base` (all-MiniLM-L6-v2 by default) and write `<out_dir>/<version>/`; returns that folder.

    Arguments left out come from `settings.finetune`. `pairs` replaces the built ones (tests, a site's
    own pairs); `out_dir` defaults to `<data_dir>/models/encoder`. Stops at `steps` or `max_minutes`,
    whichever comes first; the same seed and steps on the same machine give the same weights.
    """
    import torch
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )
    from sentence_transformers.util import batch_to_device

    cfg = settings.finetune
    max_minutes = cfg.max_minutes if max_minutes is None else max_minutes
    steps = steps or cfg.steps
    batch_size = batch_size or cfg.batch_size
    learning_rate = learning_rate or cfg.learning_rate
    seed = cfg.seed if seed is None else seed
    started = time.monotonic()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if settings.threads:
        torch.set_num_threads(settings.threads)

    sets = dict(codesets) if codesets is not None else {s: load_codeset(s) for s in ICD10_SYSTEMS}
    notes: list[CodedNote] = []
    if pairs is None:
        train_dir = settings.corpus_dir / "train"
        notes = read_codiesp(train_dir, split="train") if train_dir.exists() else []
        pairs = build_pairs(sets, notes, seed=seed)
    available = Counter(p.source for p in pairs)
    train_pool, held = _split(pairs, seed)
    chosen = builders.sample(train_pool, total=steps * batch_size, weights=cfg.weights, per_code=cfg.per_code,
                             seed=seed)
    plan = builders.batches(chosen, batch_size, seed=seed)
    # Too few pairs for `steps` distinct batches (tests, a small site): go round them again.
    schedule = [plan[i % len(plan)] for i in range(steps)] if plan else []
    fillers = sorted({p.positive for p in train_pool} | {p.hard_negative for p in train_pool if p.hard_negative})
    filler_rng = random.Random(seed + 1)

    base_path = base or base_encoder_path()
    model = float32_model(base_path, device=training_device(settings.train_device),
                          max_seq_length=settings.index.max_seq_length)
    device = str(model.device.type)
    base_recall = recall_at_1(model, held)
    _freeze(model, cfg.trainable_layers)
    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    losses: list[float] = []
    model.train()
    loop_start = time.monotonic()
    # The set-up above counts against the budget too; the loop gets what is left of it.
    budget = max(1.0, started + max_minutes * 60.0 - loop_start)
    for step, batch in enumerate(schedule):
        elapsed = time.monotonic() - loop_start
        if elapsed > budget:
            log.info("encoder fine-tuning stopped by its %.1f-minute budget at step %d of %d",
                     max_minutes, step, len(schedule))
            break
        for group in optimizer.param_groups:
            group["lr"] = _lr(max(step / len(schedule), elapsed / budget), cfg.warmup, learning_rate)
        negatives = [p.hard_negative or filler_rng.choice(fillers) for p in batch]
        columns = [[p.anchor for p in batch], [p.positive for p in batch], negatives]
        features = [batch_to_device(model.preprocess(c), model.device) for c in columns]
        losses.append(_step(loss_fn(features, None), optimizer, trainable))
        if progress:
            progress(step + 1, len(schedule), losses[-1])
    model.eval()
    tuned_recall = recall_at_1(model, held)
    minutes = (time.monotonic() - started) / 60.0

    root = out_dir or trained_encoder_root(settings.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = _version(root)
    partial = root / f".{version}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    if cfg.save_dtype == "float16":
        model.half()
    model.save(str(partial), create_model_card=False)
    card = _card(version, settings, base_path, sets, notes, available, chosen, held, losses, batch_size,
                 learning_rate, seed, minutes, base_recall, tuned_recall, device)
    (partial / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    # Renamed only once complete: the loader never meets a half-written version.
    os.replace(partial, root / version)
    return root / version


def _card(version: str, settings: Settings, base_path: Path, codesets: Mapping[str, CodeSet],
          notes: Sequence[CodedNote], available: Counter[str], chosen: Sequence[Pair], held: Sequence[Pair],
          losses: Sequence[float], batch_size: int, learning_rate: float, seed: int, minutes: float,
          base_recall: float, tuned_recall: float, device: str) -> dict[str, Any]:
    tail = losses[-50:]
    base_name = BASE_MODEL if base_path == base_encoder_path() else base_path.name
    return {
        "kind": "medcode-encoder",
        "format": FORMAT,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": {"name": base_name, "path": str(base_path),
                       "fingerprint": Encoder.fingerprint_of(base_path)},
        "code_sets": {system: cs.tag for system, cs in sorted(codesets.items())},
        "data": {
            "corpus": f"CodiEsp train, English ({len(notes)} notes; dev never used)" if notes else "none",
            "pairs_available": dict(sorted(available.items())),
            "pairs_sampled": dict(sorted(Counter(p.source for p in chosen).items())),
            "held_out": dict(sorted(Counter(p.source for p in held).items())),
        },
        "training": {
            "loss": "MultipleNegativesRankingLoss (scale 20) with one hierarchy hard negative per anchor",
            "steps": len(losses), "batch_size": batch_size, "learning_rate": learning_rate,
            "warmup": settings.finetune.warmup, "seed": seed,
            "frozen": f"embeddings and all but the top {settings.finetune.trainable_layers} layers",
            "max_seq_length": settings.index.max_seq_length, "minutes": round(minutes, 2),
            "threads": settings.threads or os.cpu_count(), "device": device,
            "saved_dtype": settings.finetune.save_dtype,
        },
        "loss": {
            "first": round(losses[0], 4) if losses else None,
            "last_50_mean": round(float(np.mean(tail)), 4) if tail else None,
            "every_50": [round(float(np.mean(losses[i : i + 50])), 4) for i in range(0, len(losses), 50)],
        },
        "metrics": {"held_out_recall_at_1": {"base": round(base_recall, 4), "tuned": round(tuned_recall, 4),
                                             "pairs": len(held)}},
    }


def main(minutes: float | None = None, steps: int | None = None, out: Path | None = None) -> None:
    """Fine-tune with the settings (`python -m training.encoder [MINUTES] [STEPS] [OUT]`) and print the folder."""
    from medcode.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def report(step: int, total: int, loss: float) -> None:
        if step % 25 == 0 or step == total:
            log.info("step %d/%d loss %.4f", step, total, loss)

    folder = fine_tune(get_settings(), max_minutes=minutes, steps=steps, out_dir=out, progress=report)
    print(folder)
    print(json.dumps(json.loads((folder / CARD).read_text())["metrics"]))


if __name__ == "__main__":
    import typer

    typer.run(main)
