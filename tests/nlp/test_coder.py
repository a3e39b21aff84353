"""End to end: real pipeline, real encoder, real code sets, a small real index."""

from pathlib import Path

import pytest

from medcode.errors import ErrorCode, MedcodeError

REPO = Path(__file__).resolve().parents[2]
NOTE = (REPO / "examples" / "note.txt").read_text(encoding="utf-8")


def _codes(suggestions):
    return {s.code for s in suggestions}


def test_example_note_gets_its_main_codes_with_evidence(coder):
    suggestions = coder.suggest(NOTE)
    codes = _codes(suggestions)
    assert "I10" in codes
    assert codes & {"K81.0", "K80.00", "K80.01", "K80.10", "K80.12"}  # acute cholecystitis / cholelithiasis
    assert any(c.startswith("0FT4") for c in codes)  # cholecystectomy
    assert [s.rank for s in suggestions] == list(range(1, len(suggestions) + 1))
    assert all(0.0 <= s.score <= 1.0 for s in suggestions)
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)


def test_every_evidence_span_is_the_note_text(coder):
    note = "Café owner, 60 y.\r\n\tHypertension and fever.\r\nNo chest pain.  Chest X-ray: normal ✓\n"
    for s in coder.suggest(note, negated="flag"):
        assert s.evidence, s
        for ev in s.evidence:
            assert note[ev.start:ev.end] == ev.text


def test_denied_chest_pain_gives_no_chest_pain_code(coder):
    note = "Patient denies chest pain. She has hypertension."
    codes = _codes(coder.suggest(note))
    assert not {c for c in codes if c.startswith("R07")}
    assert "I10" in codes
    flagged = [s for s in coder.suggest(note, negated="flag") if s.code.startswith("R07")]
    assert flagged and all(s.assertion == "negated" for s in flagged)


def test_mothers_breast_cancer_is_not_the_patients(coder):
    note = "Mother had breast cancer. The patient has type 2 diabetes."
    codes = _codes(coder.suggest(note))
    assert not {c for c in codes if c.startswith("C50")}
    assert codes & {"E11.9", "E11.65", "E11.8"}


def test_same_input_same_output(coder):
    assert coder.suggest(NOTE) == coder.suggest(NOTE)


def test_suggest_many_matches_suggest(coder):
    notes = ["Fever and cough.", "Chest X-ray showed pneumonia.", NOTE]
    assert coder.suggest_many(notes) == [coder.suggest(n) for n in notes]


def test_systems_and_top_options(coder):
    only_pcs = coder.suggest(NOTE, systems=["ICD-10-PCS"], top=3)
    assert 0 < len(only_pcs) <= 3 and {s.system for s in only_pcs} == {"ICD-10-PCS"}


@pytest.mark.parametrize(("text", "code"), [("", ErrorCode.EMPTY_NOTE), ("  \n\t", ErrorCode.EMPTY_NOTE),
                                            ("x" * 300_000, ErrorCode.NOTE_TOO_LARGE)])
def test_bad_notes_raise_clear_errors(coder, text, code):
    with pytest.raises(MedcodeError) as err:
        coder.suggest(text)
    assert err.value.code == code


def test_the_engine_ranks_the_codes_worth_it_and_training_gets_every_code(coder):
    ranked = {(g.system, g.code): g for g in coder.rank([NOTE])[0]}
    every = {(g.system, g.code): g for g in coder.rank([NOTE], every_code=True)[0]}
    left_out = every.keys() - ranked.keys()
    assert ranked.keys() < every.keys() and left_out
    floor = coder.settings.ranking.dense_floor
    for key in left_out:
        assert all(c.channel == "dense" and c.similarity <= floor for c in every[key].candidates)
        assert every[key].features["neighbors"] == 0.0
    # The codes left out still count in the others' family and note features.
    assert all(g.features == every[key].features for key, g in ranked.items())


def test_why_warns_when_the_evidence_names_another_side():
    from medcode.types import Candidate, Mention
    from nlp.evidence import group, why

    mention = Mention(0, 16, "left nephrectomy", "procedure", None)
    g = group([Candidate("0TT00ZZ", "ICD-10-PCS", mention, "fuzzy", 0.9, "Resection of Right Kidney")])[0]
    g.features = {"side_conflict": 1.0}
    assert "check the side" in why(g)
    g.features = {"side_conflict": 0.5}
    assert "check the side" not in why(g)
