"""The note classifier: per code and per family, the probability coders give a note with these words."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets import classifier
from codesets.usage import CodedNote

FEVER = ("ICD-10-CM", "R509")
GALLBLADDER = ("ICD-10-PCS", "0FT44ZZ")


def _notes() -> list[CodedNote]:
    fever = ["Patient with high fever and chills for three days.", "Persistent fever and chills, no cough.",
             "Fever and chills since yesterday, tachycardic.", "Admitted for fever and chills after travel."]
    gallbladder = ["Laparoscopic cholecystectomy for gallstones.", "Gallstones, laparoscopic cholecystectomy done.",
                   "Cholecystectomy by laparoscopy; gallstones removed.", "Biliary colic and gallstones: cholecystectomy."]
    return ([CodedNote(f"f{i}", t, frozenset({FEVER})) for i, t in enumerate(fever)]
            + [CodedNote(f"g{i}", t, frozenset({GALLBLADDER})) for i, t in enumerate(gallbladder)])


def test_the_words_of_a_note_raise_the_codes_coders_gave_notes_with_those_words() -> None:
    model = classifier.fit(_notes())
    fever, stones = model.weights(["Three days of fever and chills.",
                                   "Gallstones; a laparoscopic cholecystectomy was done."])
    assert fever[FEVER] > 0.5 > stones[FEVER]
    assert stones[GALLBLADDER] > 0.5 > fever[GALLBLADDER]
    # Each code's family has its own model: the PCS 4-character prefix, the CM category.
    assert stones[("ICD-10-PCS", "0FT4")] > fever[("ICD-10-PCS", "0FT4")]
    assert ("ICD-10-CM", "R50") in model.labels


def test_codes_of_too_few_notes_get_no_model_and_the_kept_weights_are_the_regressions_own() -> None:
    from sklearn.linear_model import LogisticRegression

    notes = [*_notes(), CodedNote("once", "A single note of gout.", frozenset({("ICD-10-CM", "M109")}))]
    model = classifier.fit(notes)
    assert ("ICD-10-CM", "M109") not in model.labels
    # Kept as a combination of the coded notes' vectors, the weights give what the regression gives.
    x = model.notes
    y = [FEVER in n.codes for n in notes]
    direct = LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced").fit(x, y)
    text = ["Chills and fever at night; gallstones seen."]
    expected = direct.predict_proba(model._vec.transform(text))[0, 1]
    assert model.weights(text)[0][FEVER] == pytest.approx(expected, abs=1e-4)


def test_a_saved_classifier_loads_with_the_same_probabilities(tmp_path: Path) -> None:
    model = classifier.fit(_notes(), background=["Chest pain on exertion.", "Chest pain at rest."])
    assert "chest pain" in model.vocabulary  # the background shapes the vocabulary, not the labels
    model.save(tmp_path)
    loaded = classifier.NoteClassifier.load(tmp_path)
    text = ["Fever and chills; gallstones on ultrasound."]
    assert loaded.labels == model.labels
    assert loaded.predict(text) == pytest.approx(model.predict(text), abs=1e-6)


def test_without_enough_coded_notes_the_classifier_is_empty_and_says_nothing(tmp_path: Path) -> None:
    model = classifier.fit([CodedNote("a", "Fever.", frozenset({FEVER}))])
    assert len(model) == 0 and model.weights(["Fever."]) == [{}]
    model.save(tmp_path)
    assert classifier.NoteClassifier.load(tmp_path).predict(["Fever."]).shape == (1, 0)
