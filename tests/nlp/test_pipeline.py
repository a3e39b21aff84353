"""build_pipeline: component order, and offsets that index the note exactly as given."""

import pytest
from spacy.language import Language

from nlp.pipeline import PIPELINE, build_pipeline


@pytest.fixture(scope="module")
def pipe() -> Language:
    return build_pipeline(include_mentions=False)


def test_order_without_mentions(pipe: Language) -> None:
    assert PIPELINE == (
        "medcode_sentences", "medcode_sections", "medcode_abbreviations", "medcode_mentions", "medcode_context"
    )
    assert pipe.pipe_names == [n for n in PIPELINE if n != "medcode_mentions"]
    assert type(pipe.tokenizer).__module__.startswith("spacy.tokenizer")
    assert pipe.tokenizer("T.A: 109/68")[0].text == "T.A"  # scispaCy's rules, not spaCy's defaults


def test_with_mentions() -> None:
    assert build_pipeline().pipe_names == list(PIPELINE)


@pytest.mark.parametrize(
    "note",
    [
        "  Patient denies chest pain.\r\nHx of HTN.\r\n",
        "\tFamily history:\tcolon cancer in his father.\t\n\n",
        "Paciente: niño de 5 años — fiebre 39 °C, SatO2 95 %.\u2028No tos. 😷 COPD\u00a0exacerbation",
        "\ufeffPMH:\r\n- DM2 (type 2 diabetes mellitus)\r\n- CHF   \r\n",
    ],
)
def test_offsets_index_the_original_text(pipe: Language, note: str) -> None:
    doc = pipe(note)
    assert doc.text == note
    spans = [*doc.sents, *doc.spans["sections"], *doc.spans["section_headers"]]
    for span in spans:
        assert note[span.start_char : span.end_char] == span.text
    for (start, end), long_form in doc._.expansions.items():
        assert note[start:end].strip() == note[start:end] != ""
        assert long_form
    # hand-made mentions keep their offsets through context
    mentions = [doc.char_span(t.idx, t.idx + len(t), label="finding") for t in doc if t.is_alpha]
    doc.spans["mentions"] = mentions
    pipe.get_pipe("medcode_context")(doc)
    for span in doc.spans["mentions"]:
        assert note[span.start_char : span.end_char] == span.text
        assert span._.assertion in {"present", "negated", "possible", "historical", "family", "hypothetical"}


def test_deterministic(pipe: Language) -> None:
    note = "No fever. Possible PE, started heparin IV.\nFamily history: father with MI."
    first, second = pipe(note), pipe(note)
    assert first._.expansions == second._.expansions
    assert [s.text for s in first.sents] == [s.text for s in second.sents]


def test_with_mentions_context_covers_clauses() -> None:
    pipe = build_pipeline()
    assert pipe.get_pipe("medcode_context").span_groups == ("mentions", "clauses")
    doc = pipe("Patient denies chest pain. She has hypertension.")
    assert [s._.assertion for s in doc.spans["clauses"]] == ["negated", "present"]


def test_a_term_is_found_through_an_abbreviation_inside_a_longer_phrase() -> None:
    """"acute on chronic systolic CHF" is the term "acute on chronic systolic (congestive) heart failure" once
    CHF is spelled out; the mention stays on the note's own words, from "Acute" to "CHF"."""
    from codesets.lexicon import Lexicon, Term

    pipe = build_pipeline()
    pipe.get_pipe("medcode_mentions").lexicon = Lexicon([
        Term("I50.23", "ICD-10-CM", "Acute on chronic systolic (congestive) heart failure", "description"),
        Term("I50.9", "ICD-10-CM", "Heart failure, unspecified", "description"),
    ])
    note = "Assessment: 1. Acute on chronic systolic CHF exacerbation, IV furosemide."
    doc = pipe(note)
    found = {(h.term.code, note[h.start:h.end]) for span in doc.spans["mentions"] for h in span._.hits}
    assert ("I50.23", "Acute on chronic systolic CHF") in found
    # without the abbreviation's long form the phrase names no term
    bare = build_pipeline()
    bare.get_pipe("medcode_mentions").lexicon = pipe.get_pipe("medcode_mentions").lexicon
    doc = bare(note.replace("CHF", "XYZ"))
    assert not any(h.term.code == "I50.23" for span in doc.spans["mentions"] for h in span._.hits)


def test_a_term_found_through_abbreviations_covers_only_its_own_words() -> None:
    """The coverage matcher spans from each word's first occurrence: in "AKI on CKD 3b" spelled out, the CKD terms
    would start at AKI's "kidney". Narrowed, they cover the shortest stretch of their clause holding their words."""
    from codesets.lexicon import Hit, Term
    from nlp.mentions import _tightest

    text = "Assessment: acute kidney injury on chronic kidney disease 3b due to dehydration."
    wide = Hit(Term("N18.9", "ICD-10-CM", "chronic renal", "usage"), text.index("kidney"), text.index(" disease"),
               "coverage", 1.0)
    narrow = _tightest(wide, text)
    assert text[narrow.start:narrow.end] == "chronic kidney"
    both = Hit(Term("N28.9", "ICD-10-CM", "acute renal disease", "synonym"), text.index("acute"),
               text.index(" 3b"), "coverage", 1.0)
    assert _tightest(both, text) == both  # already the shortest stretch with "acute", "kidney" and "disease"
