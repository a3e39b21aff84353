"""medcode_context: one assertion per mention, from ConText cues and the section."""

import pytest
from spacy.language import Language
from spacy.tokens import Doc

from nlp.context import PRECEDENCE, Context
from nlp.pipeline import build_pipeline


@pytest.fixture(scope="module")
def pipe() -> Language:
    return build_pipeline(include_mentions=False)


def assert_on(pipe: Language, text: str, *mentions: str, group: str = "mentions") -> dict[str, str]:
    """Run the pipeline, mark `mentions` (first occurrence each) by hand, run context: text → assertion."""
    doc = pipe(text)
    spans = []
    for mention in mentions:
        start = text.index(mention)
        span = doc.char_span(start, start + len(mention), label="finding")
        assert span is not None, mention
        spans.append(span)
    doc.spans[group] = spans
    pipe.get_pipe("medcode_context")(doc)
    return {s.text: s._.assertion for s in doc.spans[group]}


@pytest.mark.parametrize(
    ("text", "mentions", "expected"),
    [
        ("Patient denies chest pain.", ["chest pain"], ["negated"]),
        ("No fever or chills.", ["fever", "chills"], ["negated", "negated"]),
        ("Mother had breast cancer.", ["breast cancer"], ["family"]),
        ("Family history of colon cancer in his father.", ["colon cancer"], ["family"]),
        ("Rule out pneumonia.", ["pneumonia"], ["possible"]),
        ("Findings of possible pneumonia.", ["pneumonia"], ["possible"]),
        ("suspected appendicitis", ["appendicitis"], ["possible"]),
        ("History of myocardial infarction in 2010.", ["myocardial infarction"], ["historical"]),
        ("Extremities without varices or edemas.", ["varices", "edemas"], ["negated", "negated"]),
        ("The chest X-ray did not show significant pathology", ["pathology"], ["negated"]),
        ("She has hypertension.", ["hypertension"], ["present"]),
        ("Return to the ED if chest pain recurs.", ["chest pain"], ["hypothetical"]),
        ("No history of nephrolithiasis, hematuria or urinary tract infections.",
         ["nephrolithiasis", "urinary tract infections"], ["negated", "negated"]),
        ("Blood cultures were negative.", ["Blood cultures"], ["negated"]),
        ("Pulmonary embolism was ruled out.", ["Pulmonary embolism"], ["negated"]),
        # A US note's "X ruled out" has no verb; its reach stops before a finding three tokens back.
        ("Chest pain, likely GERD related, ACS ruled out.", ["Chest pain", "GERD", "ACS"],
         ["present", "possible", "negated"]),
        ("Acute coronary syndrome ruled out.", ["Acute coronary syndrome"], ["negated"]),
        # A finding stated normal is not a condition; the cue reaches back three tokens only.
        ("Kidney function is normal.", ["Kidney function"], ["negated"]),
        ("Heart failure with dyspnea on exertion; the echocardiogram was unremarkable.",
         ["Heart failure", "echocardiogram"], ["present", "negated"]),
        ("A 45-year-old man with abdominal pain and gram negative sepsis.",
         ["abdominal pain", "sepsis"], ["present", "present"]),
    ],
)
def test_must_pass(pipe: Language, text: str, mentions: list[str], expected: list[str]) -> None:
    assert list(assert_on(pipe, text, *mentions).values()) == expected


@pytest.mark.parametrize(
    "text",
    [
        "No fever. Cough since Monday.",
        "No fever\nCough since Monday.",
        "No fever but cough since Monday.",
        "No fever, however cough since Monday.",
        "No fever although cough since Monday.",
        "No fever; cough since Monday.",
    ],
)
def test_negation_stops_at_sentence_ends_and_terminators(pipe: Language, text: str) -> None:
    assert assert_on(pipe, text, "fever", "cough" if "cough" in text else "Cough") in (
        {"fever": "negated", "cough": "present"},
        {"fever": "negated", "Cough": "present"},
    )


def test_sections_decide_when_no_cue_does(pipe: Language) -> None:
    text = "HPI: cough.\nPMH: asthma, no diabetes.\nPSH: appendectomy.\nFamily history: colon cancer.\nNo asthma in his sister."
    doc = pipe(text)
    targets = [("cough", 0), ("asthma", 0), ("diabetes", 0), ("appendectomy", 0), ("colon cancer", 0)]
    doc.spans["mentions"] = [
        doc.char_span(text.index(t, k), text.index(t, k) + len(t), label="finding") for t, k in targets
    ]
    last_asthma = text.rindex("asthma")
    doc.spans["mentions"].append(doc.char_span(last_asthma, last_asthma + 6, label="finding"))
    pipe.get_pipe("medcode_context")(doc)
    assert [s._.assertion for s in doc.spans["mentions"]] == [
        "present", "historical", "negated", "historical", "family", "family"
    ]
    assert doc.spans["mentions"][1]._.assertion_cue == "section:past_medical_history"


def test_cue_is_recorded(pipe: Language) -> None:
    doc = pipe("Patient denies chest pain.")
    doc.spans["mentions"] = [doc.char_span(15, 25, label="finding")]
    pipe.get_pipe("medcode_context")(doc)
    assert doc.spans["mentions"][0]._.assertion_cue == "denies"


def test_other_span_groups(pipe: Language) -> None:
    ctx = Context(pipe, span_groups=["mentions", "clauses"])
    doc = pipe("No fever. Cough.")
    doc.spans["clauses"] = [doc.char_span(3, 8), doc.char_span(10, 15)]
    ctx(doc)  # no "mentions" group: skipped, not an error
    assert [s._.assertion for s in doc.spans["clauses"]] == ["negated", "present"]


def test_without_mentions_does_nothing(pipe: Language) -> None:
    doc: Doc = pipe("No fever.")
    assert "mentions" not in doc.spans


def test_precedence_and_config_checks(pipe: Language) -> None:
    assert PRECEDENCE == ("family", "negated", "hypothetical", "possible", "historical", "present")
    with pytest.raises(ValueError, match="unknown assertion"):
        Context(pipe, section_assertions={"family_history": "relative"})


def test_cues_inside_count_only_for_clause_groups(pipe: Language) -> None:
    ctx = Context(pipe, span_groups=["mentions", "clauses"])
    text = "Patient denies chest pain. Mother had breast cancer. Lack of coordination."
    doc = pipe(text)
    doc.spans["clauses"] = [doc.char_span(0, 25), doc.char_span(27, 51)]
    start = text.index("Lack")
    doc.spans["mentions"] = [doc.char_span(start, start + len("Lack of coordination"), label="finding")]
    ctx(doc)
    assert [s._.assertion for s in doc.spans["clauses"]] == ["negated", "family"]
    assert doc.spans["mentions"][0]._.assertion == "present"
