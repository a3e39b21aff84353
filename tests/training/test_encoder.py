"""Encoder fine-tuning end to end on a few pairs, and the loader's choice of trained or base encoder."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from codesets.encoder import Encoder
from codesets.encoder_models import (
    CARD,
    base_encoder_path,
    configured_encoder_path,
    encoder_card,
    newest_trained_encoder,
    trained_encoder_root,
)
from codesets.types import Code, CodeSet
from medcode.errors import MedcodeError
from medcode.settings import Settings
from training.encoder import fine_tune, training_device
from training.pairs import Pair

PAIRS = [
    Pair("laparoscopic cholecystectomy", "Resection of Gallbladder, Percutaneous Endoscopic Approach",
         "Resection of Gallbladder, Open Approach", "pcs_paraphrase", "0FT44ZZ"),
    Pair("high blood pressure", "Essential (primary) hypertension", None, "cm_synonym", "I10"),
    Pair("CHF", "congestive heart failure", None, "abbreviation", "abbr:CHF"),
    Pair("chest X-ray was performed", "Plain Radiography of Chest", "Plain Radiography of Abdomen",
         "codiesp", "BW03ZZZ"),
    Pair("right hip fracture", "Fracture of unspecified part of neck of right femur",
         "Fracture of unspecified part of neck of left femur", "cm_synonym", "S72001"),
    Pair("fever since the onset", "Fever, unspecified", None, "codiesp", "R509"),
]
CODESETS = {"ICD-10-CM": CodeSet("ICD-10-CM", "2026-04",
                                 [Code("I10", "ICD-10-CM", "Essential (primary) hypertension")])}


@pytest.fixture
def local(settings: Settings, tmp_path: Path) -> Settings:
    """The session settings with a data dir of the test's own, so trained folders do not leak."""
    return settings.model_copy(update={"data_dir": tmp_path})


@pytest.fixture(scope="module")
def tuned(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fine-tune of three steps on six pairs, saved under a private data dir."""
    data = tmp_path_factory.mktemp("tuned")
    s = settings.model_copy(update={"data_dir": data})
    return fine_tune(s, steps=3, batch_size=3, max_minutes=10, pairs=PAIRS, codesets=CODESETS, seed=5)


def test_fine_tune_writes_a_versioned_self_describing_folder(tuned: Path) -> None:
    assert tuned.parent.name == "encoder" and tuned.parent.parent.name == "models"
    assert (tuned / "modules.json").is_file() and any(tuned.glob("*.safetensors"))
    card = encoder_card(tuned)
    assert card is not None and card["version"] == tuned.name and card["kind"] == "medcode-encoder"
    assert card["base_model"]["name"] == "all-MiniLM-L6-v2"
    assert card["code_sets"] == {"ICD-10-CM": "ICD-10-CM 2026-04"}
    assert card["training"]["steps"] == 3 and card["training"]["batch_size"] == 3
    assert card["training"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert card["data"]["pairs_available"]["cm_synonym"] == 2
    assert len(card["loss"]["every_50"]) == 1 and card["loss"]["first"] > 0
    assert not list(tuned.parent.glob(".*partial"))


def test_training_takes_a_gpu_when_torch_sees_one_and_refuses_cuda_without_one() -> None:
    gpu = torch.cuda.is_available()
    assert training_device("cpu") == "cpu"
    assert training_device("auto") == ("cuda" if gpu else "cpu")
    if gpu:
        assert training_device("cuda") == "cuda"
    else:
        with pytest.raises(MedcodeError, match="no CUDA GPU"):
            training_device("cuda")


def test_fine_tuned_encoder_reloads_encodes_and_differs_from_base(tuned: Path) -> None:
    texts = ["laparoscopic cholecystectomy", "Essential (primary) hypertension"]
    mine, base = Encoder(tuned), Encoder(base_encoder_path())
    vectors = mine.encode(texts)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(vectors, base.encode(texts), atol=1e-4)
    assert mine.fingerprint() != base.fingerprint()


def test_the_newest_trained_encoder_is_the_default(tuned: Path, local: Settings) -> None:
    root = trained_encoder_root(local.data_dir)
    shutil.copytree(tuned, root / "20200101T000000Z")
    shutil.copytree(tuned, root / "20300101T000000Z")
    assert configured_encoder_path(local) == root / "20300101T000000Z"
    assert Encoder.from_settings(local).path == root / "20300101T000000Z"


def test_no_trained_encoder_means_the_base_one(local: Settings) -> None:
    assert newest_trained_encoder(local.data_dir) is None
    assert configured_encoder_path(local) == base_encoder_path()


def test_broken_folders_are_skipped_with_a_log_line(tuned: Path, local: Settings,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    root = trained_encoder_root(local.data_dir)
    good = root / "20200101T000000Z"
    shutil.copytree(tuned, good)
    no_card = root / "20300101T000000Z"
    shutil.copytree(tuned, no_card)
    (no_card / CARD).unlink()
    bad_card = root / "20310101T000000Z"
    shutil.copytree(tuned, bad_card)
    (bad_card / CARD).write_text("{not json")
    (root / "20320101T000000Z").mkdir()  # an empty folder, as an interrupted copy leaves
    with caplog.at_level(logging.WARNING, logger="medcode.encoder"):
        assert newest_trained_encoder(local.data_dir) == good
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "20320101T000000Z: no modules.json" in logged
    assert "20310101T000000Z: no readable card.json" in logged
    assert "20300101T000000Z: no readable card.json" in logged


def test_a_trained_folder_that_will_not_load_falls_back_to_base(tuned: Path, local: Settings,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    broken = trained_encoder_root(local.data_dir) / "20300101T000000Z"
    shutil.copytree(tuned, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="medcode.encoder"):
        encoder = Encoder.from_settings(local)
    assert encoder.path == base_encoder_path()
    assert "does not load" in caplog.text and "using the base all-MiniLM-L6-v2" in caplog.text


def test_a_float16_copy_loads_and_computes_in_float32(tuned: Path, local: Settings) -> None:
    s = local.model_copy(update={"finetune": local.finetune.model_copy(update={"save_dtype": "float16"})})
    half = fine_tune(s, steps=1, batch_size=3, max_minutes=10, pairs=PAIRS, codesets=CODESETS, seed=5)
    assert json.loads((half / CARD).read_text())["training"]["saved_dtype"] == "float16"
    size = sum(f.stat().st_size for f in half.glob("*.safetensors"))
    assert size < 0.6 * sum(f.stat().st_size for f in tuned.glob("*.safetensors"))
    encoder = Encoder(half)
    assert encoder.encode(["fever"]).dtype == np.float32
    assert next(encoder.model.parameters()).dtype == torch.float32
    # Fine-tuning again from the float16 folder trains in float32: its loss stays a number.
    again = fine_tune(local, steps=3, batch_size=3, max_minutes=10, pairs=PAIRS, codesets=CODESETS, seed=5, base=half)
    loss = json.loads((again / CARD).read_text())["loss"]
    assert math.isfinite(loss["first"]) and math.isfinite(loss["last_50_mean"])
