"""medcode_abbreviations: the clinical list, note-defined pairs, ambiguity; text never changes."""

import pytest
from spacy.language import Language
from spacy.tokens import Doc

from nlp.rules import load_resource
from nlp.pipeline import build_pipeline


@pytest.fixture(scope="module")
def pipe() -> Language:
    return build_pipeline(include_mentions=False)


def expansions(doc: Doc) -> dict[str, str]:
    return {doc.text[s:e]: v for (s, e), v in doc._.expansions.items()}


def test_clinical_list(pipe: Language) -> None:
    text = "Pt with HTN, T2DM, CHF and AFib. Cranial CAT and NMR normal. ECG: sinus rhythm. N/V and SOB."
    found = expansions(pipe(text))
    assert found["HTN"] == "hypertension"
    assert found["T2DM"] == "type 2 diabetes mellitus"
    assert found["CHF"] == "congestive heart failure"
    assert found["AFib"] == "atrial fibrillation"
    assert found["CAT"] == "computed axial tomography"
    assert found["NMR"] == "nuclear magnetic resonance"
    assert found["ECG"] == "electrocardiogram"
    assert found["N/V"] == "nausea and vomiting"
    assert found["SOB"] == "shortness of breath"


def test_keys_are_offsets_into_the_note(pipe: Language) -> None:
    text = "\ufeff\tHx:\r\n  COPD\u00a0exacerbation, recurrent UTIs"
    doc = pipe(text)
    assert doc.text == text
    for (start, end), long_form in doc._.expansions.items():
        assert text[start:end] in {"Hx", "COPD", "UTIs"}
        assert long_form == long_form.lower()
    assert expansions(doc)["UTIs"] == "urinary tract infections"


def test_case_sensitive(pipe: Language) -> None:
    found = expansions(pipe("The cat sat. Had a CAT scan."))
    assert found == {"CAT": "computed axial tomography"}


def test_note_definition_wins_over_the_list(pipe: Language) -> None:
    text = "He has chronic cough (CC) since May. CC worsened at night."
    doc = pipe(text)
    cc = [(s, e) for (s, e) in doc._.expansions if text[s:e] == "CC"]
    assert len(cc) == 2
    assert {doc._.expansions[k] for k in cc} == {"chronic cough"}
    found = expansions(pipe("Right ventricle (RV) was dilated. The RV function was preserved."))
    assert found["RV"] == "right ventricle"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chest Rx showed no infiltrates.", "x-ray"),
        ("Suspected PE, heparin started.", "pulmonary embolism"),
        ("PE: unremarkable exam.", "physical examination"),
        ("Ceftriaxone 1 g IV daily.", "intravenous"),
        ("Stage IV melanoma.", None),
        ("PE noted.", None),  # no cue either way: left alone
    ],
)
def test_ambiguous_need_context(pipe: Language, text: str, expected: str | None) -> None:
    doc = pipe(text)
    short = {"Rx", "PE", "IV"}
    token = next(t for t in doc if t.text in short)
    assert token._.expansion == expected


def test_an_ambiguous_abbreviation_without_cues_in_its_sentence_reads_the_note(pipe: Language) -> None:
    doc = pipe("Alcoholic cirrhosis with ascites; diagnostic paracentesis done.\nDischarge dx:\n- SBP\n")
    assert next(t for t in doc if t.text == "SBP")._.expansion == "spontaneous bacterial peritonitis"
    both = pipe("SBP 150 mmHg. Cirrhosis with ascites.\nDx:\n- SBP\n")
    assert next(t for t in reversed(both) if t.text == "SBP")._.expansion is None  # both senses cued: left alone


def test_token_and_span_getters(pipe: Language) -> None:
    doc = pipe("History of MI and DM2.")
    assert [t._.expansion for t in doc][:3] == [None, None, "myocardial infarction"]
    assert doc[0:5]._.expanded == "history of myocardial infarction and type 2 diabetes mellitus"


def test_resource_is_versioned_data() -> None:
    data = load_resource("abbreviations.json")
    assert data["version"]
    assert len(data["abbreviations"]) >= 300
    assert "PE" in data["ambiguous"] and "PE" not in data["abbreviations"]
