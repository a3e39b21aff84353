"""medcode_sections: headers → normalized categories, section bodies, `Token._.section`."""

import pytest
import spacy
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.language import Language

import nlp.sections  # noqa: F401  (registers the factory)
import nlp.sentences  # noqa: F401

NOTE = (
    "Seen today in clinic.\r\n"
    "HPI: 63 yo man with cough.  PMH:\r\n"
    "- HTN\n"
    "- DM2\n"
    "Family history: mother had breast cancer.\n"
    "SOCIAL HISTORY\n"
    "Never smoker.\n"
    "Assessment and Plan:\n"
    "1. Pneumonia: start antibiotics.\n"
    "The physical exam: was normal."
)


@pytest.fixture(scope="module")
def pipe() -> Language:
    blank = spacy.blank("en")
    blank.tokenizer = combined_rule_tokenizer(blank)
    blank.add_pipe("medcode_sentences")
    blank.add_pipe("medcode_sections")
    return blank


def test_sections_and_bodies(pipe: Language) -> None:
    doc = pipe(NOTE)
    assert [(s.label_, s.text) for s in doc.spans["sections"]] == [
        ("history_of_present_illness", "63 yo man with cough."),
        ("past_medical_history", "- HTN\n- DM2"),
        ("family_history", "mother had breast cancer."),
        ("social_history", "Never smoker."),
        ("assessment_and_plan", "1. Pneumonia: start antibiotics.\nThe physical exam: was normal."),
    ]
    assert [h.text for h in doc.spans["section_headers"]] == [
        "HPI:", "PMH:", "Family history:", "SOCIAL HISTORY", "Assessment and Plan:"
    ]


def test_token_section(pipe: Language) -> None:
    doc = pipe(NOTE)
    by_text = {t.text: t._.section for t in doc}
    assert doc[0]._.section is None  # before any header
    assert by_text["cough"] == "history_of_present_illness"
    assert by_text["HTN"] == "past_medical_history"
    assert by_text["breast"] == "family_history"
    assert by_text["smoker"] == "social_history"
    assert by_text["antibiotics"] == "assessment_and_plan"
    cancer = doc.char_span(NOTE.index("breast"), NOTE.index("cancer") + len("cancer"))
    assert cancer is not None and cancer._.section == "family_history"


@pytest.mark.parametrize(
    "text",
    [
        "The family history was reviewed.",  # no colon, not alone on its line
        "He had a past medical history: of note.",  # not at the start of a line or sentence
        "A 29-year-old woman with a history of duodenal ulcer.\nNo history of nephrolithiasis.",
    ],
)
def test_no_header(pipe: Language, text: str) -> None:
    doc = pipe(text)
    assert list(doc.spans["sections"]) == []
    assert all(t._.section is None for t in doc)


def test_case_and_bullets(pipe: Language) -> None:
    doc = pipe("  * family HX:  father with MI\n2) Allergies: none")
    assert [s.label_ for s in doc.spans["sections"]] == ["family_history", "allergies"]
    assert doc.spans["sections"][0].text == "father with MI"


def test_section_lookup_agrees_with_span_section(pipe: Language) -> None:
    from nlp.sections import section_lookup

    doc = pipe(NOTE)
    section_of = section_lookup(doc)
    spans = [doc[i : i + n] for i in range(len(doc)) for n in (0, 1, 3) if i + n <= len(doc)]
    assert [section_of(s) for s in spans] == [s._.section for s in spans]
    assert {section_of(s) for s in spans} >= {None, "family_history", "assessment_and_plan"}
    assert section_lookup(pipe("No headers here."))(doc[0:1]) is None


def test_abbreviated_us_headers(pipe: Language) -> None:
    doc = pipe("78 yo M adm w/ hematochezia. PMH: HTN on amlodipine.\nHosp course: colonoscopy HD#2.\n"
               "D/C dx:\n1. Diverticular bleed\nPre/postop dx: closed bimalleolar fx.\nPath: tubular adenoma.\n")
    assert [s.label_ for s in doc.spans["sections"]] == [
        "past_medical_history", "hospital_course", "diagnoses", "diagnoses", "labs"]
