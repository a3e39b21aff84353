"""End to end: the real engine (the tests' small index) then the coding step, on the guideline notes.

The accuracy targets are the benchmark's (`python -m benchmarks.coding`, full index); here the small index
ranks fewer codes, so the test holds what must never happen and a floor on what the rules find.
"""

from __future__ import annotations

import pytest

from benchmarks.claim_exports import export_failures
from benchmarks.coding import load_notes, score
from coding import Coding, propose
from medcode.settings import get_settings


@pytest.fixture(scope="module")
def codings(coder) -> dict[str, Coding]:
    notes = load_notes()
    ranked = coder.suggest_many([n.text for n in notes.values()], top=get_settings().coding.top, negated="flag")
    return {name: propose(note.text, suggestions, note.encounter)
            for (name, note), suggestions in zip(notes.items(), ranked, strict=True)}


def test_at_least_thirty_notes_inpatient_and_outpatient():
    notes = load_notes()
    assert len(notes) >= 30
    assert {n.encounter.setting for n in notes.values()} == {"inpatient", "outpatient"}
    assert all(e.section for n in notes.values() for e in [*n.expected, *n.excluded])


def test_guideline_notes_end_to_end(codings):
    s = score(load_notes(), codings)
    assert s.excludes1_pairs == []
    assert s.share >= 0.75, s.missing
    assert s.principal_right >= 0.75 * s.inpatient, s.wrong_principal
    assert len(s.excluded_present) <= 3, s.excluded_present


def test_codings_are_claim_shaped(codings):
    notes = load_notes()
    for name, coding in codings.items():
        setting = notes[name].encounter.setting
        assert [d.sequence for d in coding.diagnoses] == list(range(1, len(coding.diagnoses) + 1))
        assert [d.principal for d in coding.diagnoses][:1] == [True] and sum(d.principal for d in coding.diagnoses) == 1
        assert all(d.rules for d in coding.diagnoses) and all(d.section and d.rule for d in coding.dropped)
        if setting == "outpatient":
            assert not any(p.system == "ICD-10-PCS" for p in coding.procedures) and coding.drg is None
            assert all(d.poa is None for d in coding.diagnoses)
        else:
            assert coding.drg is not None and all(d.poa for d in coding.diagnoses)



def test_every_guideline_coding_exports_through_its_validators(codings):
    """Issue 26: each note's coding, as billing gets it (FHIR Claim, HL7 DFT^P03, X12 HI), passes its validator
    and reads back with its principal first, its POA and its procedures in sequence."""
    contexts = {name: note.encounter for name, note in load_notes().items()}
    checked, failures = export_failures(codings, contexts)
    assert failures == []
    assert checked == 3 * len(codings)
