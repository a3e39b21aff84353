"""medcode_sentences: line breaks always end a sentence; abbreviations and numbers do not."""

import pytest
import spacy
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.language import Language

import nlp.sentences  # noqa: F401  (registers the factory)


@pytest.fixture(scope="module")
def pipe() -> Language:
    blank = spacy.blank("en")
    blank.tokenizer = combined_rule_tokenizer(blank)
    blank.add_pipe("medcode_sentences")
    return blank


def sentences(pipe: Language, text: str) -> list[str]:
    return [s.text.strip() for s in pipe(text).sents]


def test_line_breaks_end_sentences(pipe: Language) -> None:
    text = "A 29-year-old woman with renal colic\nNo history of nephrolithiasis\r\nUltrasound showed ectasia"
    assert sentences(pipe, text) == [
        "A 29-year-old woman with renal colic",
        "No history of nephrolithiasis",
        "Ultrasound showed ectasia",
    ]


def test_final_punctuation_splits(pipe: Language) -> None:
    assert sentences(pipe, "She has fever. He has cough! Why? Unknown") == [
        "She has fever.", "He has cough!", "Why?", "Unknown"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "T.A: 109/68 mmHg and heart rate 80 bpm.",
        "Seen by Dr. Smith in clinic.",
        "Started on 1.5 mg daily.",
        "Several drugs, e.g. Amoxicillin, were tried.",
        "A 45 y.o. male with cough.",
        "Reviewed, i.e. Twice a day.",
    ],
)
def test_no_split_inside_abbreviations_and_numbers(pipe: Language, text: str) -> None:
    assert sentences(pipe, text) == [text]


def test_closing_quote_stays_with_its_sentence(pipe: Language) -> None:
    assert sentences(pipe, 'He said "no pain." Then he left.') == ['He said "no pain."', "Then he left."]


def test_every_token_has_a_boundary_and_text_is_untouched(pipe: Language) -> None:
    text = "\r\n  HPI:\tcough.\r\n\r\nPMH: none  "
    doc = pipe(text)
    assert doc.text == text
    assert doc.has_annotation("SENT_START")
    starts = [t.text for t in doc if t.is_sent_start]
    assert starts[1:] == ["HPI", "PMH"]


def test_empty_doc(pipe: Language) -> None:
    assert len(pipe("")) == 0
