"""The ONNX runtime of an encoder: its transformer exported once per fingerprint (under a file lock, as
engine processes start together), an int8 copy for note clauses, and mean-pooled unit vectors.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("medcode.encoder")


def onnx_root(data_dir: Path) -> Path:
    """Where ONNX exports of encoders are kept, one per encoder fingerprint (made on first use)."""
    return data_dir / "onnx"


def onnx_session(path: Path, name: str, export_to: Path, threads: int, *, export: Callable[[Path], None],
                 int8: bool = False) -> Any:
    """An onnxruntime session of the transformer of the encoder folder `path` (or of its int8 copy), exported
    to `export_to` by `export` when not there yet; None (torch then) when the folder is not a plain
    transformer with mean pooling and normalization, or onnxruntime is missing."""
    if not plain_mean_pooled(path):
        log.warning("encoder %s has no ONNX path (not a transformer + mean pooling + normalize); running it "
                    "on torch", name)
        return None
    try:
        import onnxruntime
    except ImportError:
        log.warning("onnxruntime is not installed; running the encoder on torch")
        return None
    export_to.parent.mkdir(parents=True, exist_ok=True)
    # Engine processes start together: one exports and quantises, the others wait and load its files.
    with (export_to.parent / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not export_to.is_file():
            export(export_to)
        if int8:
            export_to = int8_copy(export_to)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads that spin would take the cores from spaCy, faiss and torch between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(export_to), options, providers=["CPUExecutionProvider"])


def export_transformer(transformer: Any, tokenizer: Any, path: Path) -> None:
    """Export a transformer's (a torch module's) float32 graph to `path`, its last hidden state as output."""
    import torch

    class Hidden(torch.nn.Module):  # the exporter wants positional inputs and one tensor out
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["a short text", "a somewhat longer text than that"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # another process may be exporting too
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow in the model code
        torch.onnx.export(Hidden(transformer).eval(), tuple(sample[n] for n in names), str(tmp),
                          input_names=names, output_names=["hidden"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names}, opset_version=17,
                          dynamo=False)
    tmp.rename(path)


def mean_pooled(session: Any, tokens: list[list[int]], pad_id: int) -> np.ndarray:
    """Unit vectors of one batch of token ids on onnxruntime: mean of the token states, as
    sentence-transformers pools (the batch right-padded, as the tokenizer pads it)."""
    width = max(len(t) for t in tokens)
    ids = np.full((len(tokens), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(tokens), width), dtype=np.int64)
    for row, t in enumerate(tokens):
        ids[row, : len(t)] = t
        mask[row, : len(t)] = 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    wanted = {i.name for i in session.get_inputs()}
    hidden = session.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
    weights = mask[..., None].astype(np.float32)
    mean = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)


def int8_copy(path: Path) -> Path:
    """The int8 copy of the float32 export at `path`, quantised once beside it (dynamic, per channel:
    per-tensor scales put note clauses at only ~0.95 mean cosine to float32, per channel at ~0.99)."""
    out = path.with_name(f"{path.stem}-int8.onnx")
    if not out.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = out.with_suffix(f".{os.getpid()}.tmp")  # another process may be quantising too
        quantize_dynamic(path, tmp, weight_type=QuantType.QInt8, per_channel=True)
        tmp.rename(out)
        log.info("quantised %s to int8", path.name)
    return out


def pooling_config(path: Path) -> dict[str, Any]:
    """The pooling module's config of a sentence-transformers folder ({} when it has none)."""
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    pooling = next((m for m in modules if m["type"].endswith(".Pooling")), None)
    if pooling is None or not (path / pooling["path"] / "config.json").is_file():
        return {}
    config: dict[str, Any] = json.loads((path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
    return config


def pooled_dimension(config: dict[str, Any]) -> int:
    """The vector size a pooling config states (sentence-transformers 6 and older names), 0 if none."""
    return int(config.get("embedding_dimension") or config.get("word_embedding_dimension") or 0)


def plain_mean_pooled(path: Path) -> bool:
    """True when the folder is a transformer, mean pooling and normalization, read from its files: the
    shape `mean_pooled` computes. Both config formats count: sentence-transformers 6 writes
    `pooling_mode: mean` (trained encoders), older folders `pooling_mode_mean_tokens: true` (the base)."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = pooling_config(path)
        tokenizer = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return False
    flags = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    mean = pooling.get("pooling_mode") == "mean" if "pooling_mode" in pooling else flags == ["pooling_mode_mean_tokens"]
    inputs = tokenizer.get("model_input_names") or ["input_ids", "token_type_ids", "attention_mask"]
    return (kinds == ["Transformer", "Pooling", "Normalize"] and mean and pooled_dimension(pooling) > 0
            and "token_type_ids" in inputs)
