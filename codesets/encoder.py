"""The text encoder behind the dense channel: a sentence-transformers folder, loaded offline."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesets.encoder_models import (
    BASE_MODEL,
    base_encoder_path,
    configured_encoder_path,
    note_encoder_path,
    offline_hub,
    teacher_fingerprint,
)
from codesets.encoder_runtime import (
    export_transformer,
    mean_pooled,
    onnx_root,
    onnx_session,
    pooled_dimension,
    pooling_config,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from medcode.settings import Settings

log = logging.getLogger("medcode.encoder")

def float32_model(path: Path, *, device: str = "cpu", max_seq_length: int = 64) -> SentenceTransformer:
    """The sentence-transformers folder at `path` on `device`, in float32 whatever it was saved in: a
    float16 copy halves the folder, but a CPU computes in float32 and training it as it is reaches NaN
    within a few steps."""
    offline_hub()
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device=device)
    model.max_seq_length = max_seq_length
    if next(model.parameters()).dtype != torch.float32:
        model.float()
    return model


class Encoder:
    """Embeds texts as L2-normalized float32 vectors; `name` and `fingerprint` stamp an index."""

    def __init__(self, path: Path, *, batch_size: int = 256, batch_tokens: int = 256, max_seq_length: int = 64,
                 threads: int = 0, onnx_dir: Path | None = None, int8: bool = False) -> None:
        """onnx_dir: where an ONNX export of the weights is kept (made on first use); the encoder then
        runs on onnxruntime, else on torch. With an export already made, the torch model is not loaded
        at all (importing sentence-transformers alone costs ~3 s of every start-up).

        int8: run an int8 copy of that export (weights quantised per channel, made once beside it): about
        twice as fast on a CPU, vectors within ~0.99 cosine of float32. For note clauses searched against
        an index embedded in float32; not for building the index. Needs onnx_dir."""
        offline_hub()
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise on stderr
        hf_logging.set_verbosity_error()
        self.path = path
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_seq_length = max_seq_length
        self.threads = threads
        self._model: SentenceTransformer | None = None
        # The tokenizer sentence-transformers would load from the folder, without loading the rest.
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.session: Any = None  # an onnxruntime.InferenceSession
        self.int8 = False
        if onnx_dir is not None:
            self.session = onnx_session(path, self.name, onnx_dir / f"encoder-{self.fingerprint()}.onnx", threads,
                                        export=self._export_onnx, int8=int8)
            self.int8 = int8 and self.session is not None
        if self.session is None:
            self.dim = int(self.model.get_embedding_dimension() or 0)
        else:
            self.dim = pooled_dimension(pooling_config(path))

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded on first use (torch runtime, ONNX export, training)."""
        if self._model is None:
            import torch

            if self.threads:
                torch.set_num_threads(self.threads)
            self._model = float32_model(self.path, max_seq_length=self.max_seq_length)
        return self._model

    @classmethod
    def from_settings(cls, settings: Settings, *, batch_size: int | None = None, notes: bool = False) -> Encoder:
        """The configured encoder with the configured batch size, length limit, threads and runtime;
        `notes`: the one that embeds note clauses (a query encoder distilled from it when there is one,
        see `note_encoder_path`; int8 when `index.note_int8` says so)."""
        path = configured_encoder_path(settings)
        if notes and (student := note_encoder_path(settings, cls.fingerprint_of(path))):
            path = student
        onnx_dir = onnx_root(settings.data_dir) if settings.index.runtime == "onnx" else None
        options: dict[str, Any] = {"batch_size": batch_size or settings.index.batch_size,
                                   "batch_tokens": settings.index.note_batch_tokens if notes
                                   else settings.index.batch_tokens,
                                   "max_seq_length": settings.index.max_seq_length, "threads": settings.threads,
                                   "onnx_dir": onnx_dir, "int8": notes and settings.index.note_int8}
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

    def space(self) -> str:
        """The fingerprint of the encoder whose vector space this one embeds into: its teacher's for a
        distilled query encoder, else its own. An index searched with it must carry that fingerprint."""
        return teacher_fingerprint(self.path) or self.fingerprint()

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

    def batches(self, texts: list[str]) -> list[list[int]]:
        """Positions of `texts` in encoder batches: by token count, each batch at most `batch_size` texts
        and `batch_tokens` tokens once padded (a longer text goes alone).

        A batch computes every text at its longest text's length: a note's clauses run from 3 to 60
        tokens, so one batch of all of them spends most of its time on padding.
        """
        return self._plan(self._token_ids(texts))

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, truncated as the model reads them."""
        ids: list[list[int]] = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]
        return ids

    def _plan(self, tokens: list[list[int]]) -> list[list[int]]:
        lengths = [len(t) for t in tokens]
        out: list[list[int]] = []
        batch: list[int] = []
        for i in sorted(range(len(tokens)), key=lengths.__getitem__):
            if batch and (len(batch) >= self.batch_size or lengths[i] * (len(batch) + 1) > self.batch_tokens):
                out.append(batch)
                batch = []
            batch.append(i)
        return [*out, batch] if batch else out

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Vectors for `texts`, one row each, unit length."""
        from tqdm import tqdm

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens = self._token_ids(texts) if texts else []
        with tqdm(total=len(texts), desc="encoding", unit="text", disable=not progress) as bar:
            for batch in self._plan(tokens):
                if self.session is not None:
                    # Padded from the ids already cut: the tokenizer runs once per text, not twice.
                    out[batch] = mean_pooled(self.session, [tokens[i] for i in batch], self.tokenizer.pad_token_id or 0)
                else:
                    out[batch] = self.model.encode([texts[i] for i in batch], batch_size=len(batch),
                                                   normalize_embeddings=True, convert_to_numpy=True,
                                                   show_progress_bar=False)
                bar.update(len(batch))
        return out

    def _export_onnx(self, path: Path) -> None:
        """Export this encoder's transformer (its float32 torch weights) to `path`."""
        export_transformer(self.model[0].auto_model, self.tokenizer, path)
        log.info("exported encoder %s to %s", self.name, path)
