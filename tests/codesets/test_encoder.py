"""The encoder: texts batched by token count; onnxruntime on a cached export, giving torch's vectors."""

import json
from pathlib import Path

import numpy as np
import pytest

from codesets.encoder import Encoder
from codesets.encoder_models import base_encoder_path, note_encoder_path, query_encoder_root
from codesets.encoder_runtime import onnx_root
from medcode.settings import Settings

TEXTS = ["fever", "acute on chronic systolic heart failure with reduced ejection fraction, NYHA class III",
         "CT of the abdomen", "denies chest pain", "BP", "type 2 diabetes mellitus without complications",
         "the patient was admitted for community-acquired pneumonia of the right lower lobe and sepsis"]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(base_encoder_path(), batch_size=3, batch_tokens=40)


def test_batches_cover_every_text_once_by_length_within_both_limits(encoder: Encoder) -> None:
    batches = encoder.batches(TEXTS)
    assert sorted(i for b in batches for i in b) == list(range(len(TEXTS)))
    lengths = [len(t) for t in encoder.model.tokenizer(TEXTS)["input_ids"]]
    order = [i for b in batches for i in b]
    assert [lengths[i] for i in order] == sorted(lengths)
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 40
    assert len(batches) > 2


def test_encode_gives_the_vectors_of_one_plain_batch(encoder: Encoder) -> None:
    vectors = encoder.encode(TEXTS)
    plain = encoder.model.encode(TEXTS, batch_size=len(TEXTS), normalize_embeddings=True, convert_to_numpy=True)
    assert vectors.shape == (len(TEXTS), encoder.dim) and vectors.dtype == np.float32
    assert np.allclose(vectors, plain, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_onnx_runtime_is_the_default_and_gives_the_torch_vectors(settings: Settings) -> None:
    onnx = Encoder.from_settings(settings)  # as the fixture index is built
    assert onnx.session is not None
    # This encoder's exports only: an engine loaded earlier in the session leaves its query encoder's beside them.
    made = {p.name for p in onnx_root(settings.data_dir).glob(f"encoder-{onnx.fingerprint()}*.onnx")}
    # the int8 copy is there too once the engine has loaded (it embeds notes with it)
    assert f"encoder-{onnx.fingerprint()}.onnx" in made <= {f"encoder-{onnx.fingerprint()}{s}.onnx" for s in ("", "-int8")}
    torch = Encoder.from_settings(settings.model_copy(update={"index": settings.index.model_copy(
        update={"runtime": "torch"})}))
    assert torch.session is None
    assert np.allclose(onnx.encode(TEXTS), torch.encode(TEXTS), atol=1e-4)


def test_onnx_export_is_kept_and_made_anew_for_a_changed_encoder(tmp_path: Path, monkeypatch) -> None:
    first = Encoder(base_encoder_path(), onnx_dir=tmp_path)
    (made,) = tmp_path.glob("*.onnx")
    stamp = made.stat().st_mtime_ns
    again = Encoder(base_encoder_path(), onnx_dir=tmp_path)
    assert [p.stat().st_mtime_ns for p in tmp_path.glob("*.onnx")] == [stamp]  # loaded, not exported again
    assert again._model is None  # nor the torch model loaded: the export is all it runs
    assert np.array_equal(first.encode(TEXTS), again.encode(TEXTS))
    monkeypatch.setattr(Encoder, "fingerprint", lambda self: "0123456789abcdef")
    Encoder(base_encoder_path(), onnx_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted([made.name, "encoder-0123456789abcdef.onnx"])
    assert not list(tmp_path.glob("*.tmp"))


def test_a_folder_saved_by_sentence_transformers_6_runs_on_onnx(encoder: Encoder, tmp_path: Path) -> None:
    # Trained encoders are saved this way (`pooling_mode: mean`, `embedding_dimension`), unlike the base.
    encoder.model.save(str(tmp_path / "saved"))
    Encoder(tmp_path / "saved", onnx_dir=tmp_path / "onnx")  # exports it (loading the torch model)
    saved = Encoder(tmp_path / "saved", onnx_dir=tmp_path / "onnx")
    assert saved.session is not None and saved._model is None
    assert saved.dim == encoder.dim
    assert np.allclose(saved.encode(TEXTS), encoder.encode(TEXTS), atol=1e-4)


def test_int8_copy_is_made_once_and_stays_close_to_float32(tmp_path: Path) -> None:
    full = Encoder(base_encoder_path(), onnx_dir=tmp_path)
    small = Encoder(base_encoder_path(), onnx_dir=tmp_path, int8=True)
    assert small.int8 and not full.int8 and small.fingerprint() == full.fingerprint()  # same index, same stamp
    (copy,) = tmp_path.glob("*-int8.onnx")
    assert copy.stat().st_size < (tmp_path / f"encoder-{full.fingerprint()}.onnx").stat().st_size / 3
    stamp = copy.stat().st_mtime_ns
    vectors = Encoder(base_encoder_path(), onnx_dir=tmp_path, int8=True).encode(TEXTS)
    assert copy.stat().st_mtime_ns == stamp  # loaded again, not quantised again
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * full.encode(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.9 and cosines.mean() > 0.97
    assert not Encoder(base_encoder_path(), int8=True).int8  # torch runs float32


def _student(at: Path, teacher: str) -> Path:
    """A query-encoder folder (the base model's files, linked) whose card names `teacher`."""
    at.mkdir(parents=True)
    for f in base_encoder_path().iterdir():
        (at / f.name).symlink_to(f, target_is_directory=f.is_dir())
    (at / "card.json").write_text(json.dumps({"kind": "medcode-query-encoder", "teacher_fingerprint": teacher}))
    return at


def test_notes_use_the_newest_query_encoder_of_the_index_encoder_else_the_index_encoder(settings: Settings,
                                                                                     tmp_path: Path) -> None:
    local = settings.model_copy(update={"data_dir": tmp_path, "index": settings.index.model_copy(
        update={"runtime": "torch", "note_encoder": ""})})
    teacher = Encoder.fingerprint_of(base_encoder_path())
    root = query_encoder_root(tmp_path)
    _student(root / "20300101T000000Z", teacher)
    newest = _student(root / "20310101T000000Z", teacher)
    _student(root / "20320101T000000Z", "another-encoder")  # newer, but for another index
    (root / "20330101T000000Z").mkdir()  # broken: skipped
    assert note_encoder_path(local, teacher) == newest
    notes = Encoder.from_settings(local, notes=True)
    assert notes.path == newest and notes.space() == teacher
    index = Encoder.from_settings(local)
    assert index.path == base_encoder_path()  # the index is built by the teacher
    # Note clauses batch by their own token bound; code texts by the index's.
    assert (notes.batch_tokens, index.batch_tokens) == (local.index.note_batch_tokens, local.index.batch_tokens)
    assert local.index.note_batch_tokens != local.index.batch_tokens
    assert note_encoder_path(local, "another-teacher") is None  # nothing distilled from it, shipped or trained
    says = local.model_copy(update={"index": local.index.model_copy(update={"note_encoder": "index"})})
    assert note_encoder_path(says, teacher) is None
    assert Encoder.from_settings(says, notes=True).path == base_encoder_path()



#: One engine process starting: it waits at a gate for the others, then opens the int8 encoder.
_ENGINE_START = """
import json, logging, os, sys, time
from pathlib import Path
from codesets.encoder import Encoder, base_encoder_path
onnx_dir, log_file, gate, count = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
logging.basicConfig(filename=log_file, level=logging.INFO, format="%(process)d %(name)s %(message)s")
(gate / str(os.getpid())).touch()
while len(list(gate.iterdir())) < count:
    time.sleep(0.01)
encoder = Encoder(base_encoder_path(), onnx_dir=onnx_dir, int8=True)
print(json.dumps(encoder.encode(["fever", "CT of the abdomen"]).tolist()))
"""


def test_engines_starting_at_once_export_and_quantise_once_and_all_load_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    onnx_dir, log_file, gate = tmp_path / "onnx", tmp_path / "engines.log", tmp_path / "gate"
    gate.mkdir()
    engines = [subprocess.Popen([sys.executable, "-c", _ENGINE_START, str(onnx_dir), str(log_file), str(gate), "3"],
                                stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [engine.communicate(timeout=300)[0] for engine in engines]
    assert [engine.returncode for engine in engines] == [0, 0, 0]
    lines = log_file.read_text().splitlines()
    assert sum("exported encoder" in line for line in lines) == 1, lines
    assert sum("quantised" in line for line in lines) == 1, lines
    assert sorted(p.name for p in onnx_dir.iterdir() if p.name != ".lock") == sorted(
        f"encoder-{Encoder(base_encoder_path()).fingerprint()}{s}.onnx" for s in ("", "-int8"))  # no leftovers
    vectors = [np.array(json.loads(out)) for out in outputs]
    assert all(np.array_equal(v, vectors[0]) for v in vectors)
