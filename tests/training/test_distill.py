"""Query-encoder distillation on a few dozen clauses: it saves, reloads, and moves towards the teacher."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codesets.encoder import Encoder
from codesets.encoder_models import CARD, base_encoder_path
from codesets.index import CodeIndex
from medcode.errors import MedcodeError
from medcode.settings import Settings
from training.distill import KIND, distill, distill_from_settings, gather_texts, student_from, up_to_date

NOTES = [
    ("Patient aged 67 with a history of hypertension and type 2 diabetes.\nHe reported chest pain on exertion.\n"
     "ECG showed ST elevation in the anterior leads; troponin was raised."),
    ("A 45-year-old woman came in with fever, cough and dyspnoea.\nChest X-ray showed a right lower lobe "
     "infiltrate.\nShe was treated with amoxicillin and improved."),
    ("Laparoscopic cholecystectomy was performed for symptomatic gallstones.\nThe postoperative course was "
     "uneventful.\nHe was discharged on the third day."),
    ("The child had a fracture of the left radius after a fall from a bicycle.\nA cast was applied.\n"
     "Follow-up radiographs showed good alignment."),
    ("CT of the abdomen revealed a renal mass of 4 cm.\nA partial nephrectomy was performed; pathology showed "
     "clear cell carcinoma.\nNo metastases were found."),
    ("She has chronic kidney disease stage 3 and anaemia.\nHaemoglobin was 9.1 g/dL.\nIron supplements were "
     "started and erythropoietin considered."),
    ("Biopsy of the skin lesion confirmed basal cell carcinoma.\nThe lesion was excised with clear margins.\n"
     "No further treatment was needed."),
    ("Acute appendicitis was diagnosed on ultrasound.\nAn open appendectomy was carried out.\nHe received "
     "intravenous antibiotics for 48 hours."),
    ("The patient denies smoking and alcohol use.\nHe has a family history of colon cancer.\nColonoscopy showed "
     "two small polyps, removed by snare."),
    ("MRI of the brain showed a left frontal glioma.\nSeizures were controlled with levetiracetam.\nShe was "
     "referred to neurosurgery for resection."),
    ("Blood cultures grew Staphylococcus aureus.\nTransthoracic echocardiography showed a vegetation on the "
     "mitral valve.\nInfective endocarditis was treated for six weeks."),
    ("He presented with jaundice, weight loss and dark urine.\nCA 19-9 was elevated.\nA Whipple procedure "
     "was performed for pancreatic adenocarcinoma."),
]


def _folder(root: Path, notes: list[str]) -> Path:
    (root / "text_files_en").mkdir(parents=True)
    for i, text in enumerate(notes):
        (root / "text_files_en" / f"n{i:02d}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory):
    """Clauses of the notes above, one held-out note (a tenth of twelve)."""
    folder = _folder(tmp_path_factory.mktemp("notes"), NOTES)
    return gather_texts([folder], index_texts=["Essential (primary) hypertension", "Cholecystectomy"],
                        index_sample=2, held_out_notes=1, seed=3)


@pytest.fixture(scope="module")
def student(texts, small_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty steps keeping three of the teacher's six layers, with the small index for agreement."""
    out = tmp_path_factory.mktemp("distilled")
    return distill(base_encoder_path(), out / "query-encoder", texts=texts, layers=[0, 3, 5], budget_s=600,
                   max_steps=40, batch_size=8, learning_rate=2e-4, seed=7, index=CodeIndex.load(small_index))


def test_texts_are_deduplicated_and_held_out_by_whole_note(texts) -> None:
    assert len(texts.held_out) >= 2 and not set(texts.held_out) & set(texts.train)
    assert len(set(texts.train)) == len(texts.train)
    assert texts.counts["index"] == 2 and "Cholecystectomy" in texts.train
    assert texts.counts["held_out"] == len(texts.held_out)


def test_student_reloads_as_an_encoder_of_the_teachers_dimension(student: Path) -> None:
    card = json.loads((student / CARD).read_text())
    assert card["kind"] == KIND and card["version"] == student.name
    assert card["teacher_fingerprint"] == Encoder.fingerprint_of(base_encoder_path())
    assert card["teacher"] == "all-MiniLM-L6-v2" and card["layers"] == [0, 3, 5]
    assert card["training"]["steps"] == 40 and card["training"]["device"] == "cpu"
    assert not list(student.parent.glob(".*partial"))
    encoder = Encoder(student)
    assert encoder.model.transformers_model.config.num_hidden_layers == 3
    vectors = encoder.encode(["chest pain on exertion", "open appendectomy"])
    assert vectors.shape == (2, Encoder(base_encoder_path()).dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_training_moves_the_student_towards_the_teacher(student: Path) -> None:
    metrics = json.loads((student / CARD).read_text())["metrics"]
    cosine = metrics["held_out_cosine"]
    assert cosine["after"]["mean"] > cosine["before"]["mean"] + 0.02
    assert cosine["after"]["min"] <= cosine["after"]["p5"] <= cosine["after"]["mean"] <= 1.0
    assert set(metrics["top8_agreement"]) == {"ICD-10-CM", "ICD-10-PCS"}
    assert all(0.0 <= v <= 1.0 for v in metrics["top8_agreement"].values())


def test_same_seed_and_steps_give_the_same_student(texts, tmp_path: Path) -> None:
    runs = [distill(base_encoder_path(), tmp_path / "q", texts=texts, layers=[0, 5], budget_s=600, max_steps=3,
                    batch_size=8, seed=11) for _ in range(2)]
    assert runs[0] != runs[1]
    a, b = (Encoder(p).encode(list(texts.held_out)) for p in runs)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("layers", [[], [3, 1], [0, 6], [2, 2]])
def test_bad_layers_are_refused(layers: list[int]) -> None:
    with pytest.raises(MedcodeError, match="layers"):
        student_from(base_encoder_path(), layers)


def test_distill_from_settings_uses_the_configured_sources_and_the_index(settings: Settings, small_index: Path,
                                                                          tmp_path: Path) -> None:
    assert small_index == settings.data_dir / "index"
    folder = _folder(tmp_path / "mine", NOTES)
    distill_cfg = settings.distill.model_copy(update={"sources": [folder, Path("no-such-folder")],
                                                      "index_sample": 5, "layers": [0, 5], "batch_size": 8})
    local = settings.model_copy(update={"distill": distill_cfg})
    path = distill_from_settings(local, max_steps=2)
    card = json.loads((path / CARD).read_text())
    assert card["data"]["counts"]["index"] == 5 and card["data"]["counts"]["mine"] > 0
    assert "top8_agreement" in card["metrics"]
    assert up_to_date(local) == path
    assert up_to_date(settings.model_copy(update={"distill": settings.distill.model_copy(update={"layers": [1, 2]})})) is None
