"""The encoder's pair builders on hand-built code records and notes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from codesets.types import Code, CodeSet
from codesets.usage import CodedNote
from training import pairs as P

_PCS_AXES = ("section", "body system", "root operation", "body part", "approach", "device", "qualifier")


def _pcs(code: str, description: str, body_part: str, approach: str, synonyms: tuple[str, ...] = ()) -> Code:
    meanings = ("Medical and Surgical", "Hepatobiliary System and Pancreas", "Resection", body_part, approach,
                "No Device", "No Qualifier")
    return Code(code, "ICD-10-PCS", description, synonyms=synonyms, chapter="0", block=code[:3],
                axes=tuple(zip(_PCS_AXES, meanings, strict=True)))


@pytest.fixture(scope="module")
def cm() -> CodeSet:
    return CodeSet("ICD-10-CM", "2026-04", [
        Code("S72.00", "ICD-10-CM", "Fracture of unspecified part of neck of femur", billable=False, parent="S72.0"),
        Code("S72.001", "ICD-10-CM", "Fracture of unspecified part of neck of right femur", billable=False,
             parent="S72.00", synonyms=("Hip fracture, right",)),
        Code("S72.002", "ICD-10-CM", "Fracture of unspecified part of neck of left femur", billable=False,
             parent="S72.00"),
        Code("S72.001A", "ICD-10-CM", "Fracture of unspecified part of neck of right femur, initial encounter "
             "for closed fracture", parent="S72.001"),
        Code("S72.001D", "ICD-10-CM", "Fracture of unspecified part of neck of right femur, subsequent "
             "encounter for closed fracture with routine healing", parent="S72.001"),
        Code("I10", "ICD-10-CM", "Essential (primary) hypertension",
             synonyms=("high blood pressure", "hypertension (arterial) (benign) (essential)", "hypertension")),
        Code("I50.9", "ICD-10-CM", "Heart failure, unspecified", parent="I50",
             synonyms=("congestive heart failure (CHF) NOS", "heart failure")),
        Code("I50.1", "ICD-10-CM", "Left ventricular failure, unspecified", parent="I50"),
    ])


@pytest.fixture(scope="module")
def pcs() -> CodeSet:
    return CodeSet("ICD-10-PCS", "FY2024", [
        _pcs("0FT40ZZ", "Resection of Gallbladder, Open Approach", "Gallbladder", "Open",
             ("open cholecystectomy",)),
        _pcs("0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", "Gallbladder",
             "Percutaneous Endoscopic", ("laparoscopic cholecystectomy", "laparoscopic removal of gallbladder")),
        _pcs("0FT00ZZ", "Resection of Liver, Open Approach", "Liver", "Open", ("hepatectomy",)),
        _pcs("0FT04ZZ", "Resection of Liver, Percutaneous Endoscopic Approach", "Liver", "Percutaneous Endoscopic"),
    ])


def test_cm_synonyms_point_at_the_description_with_the_other_side_as_near_miss(cm: CodeSet) -> None:
    found = P.cm_synonym_pairs(cm)
    hip = [p for p in found if p.code == "S72001"]
    assert [p.anchor for p in hip] == ["Hip fracture, right"]
    assert hip[0].positive == "Fracture of unspecified part of neck of right femur"
    assert hip[0].hard_negative == "Fracture of unspecified part of neck of left femur"
    # "hypertension" adds no word to the description: no pair; the others do.
    assert {p.anchor for p in found if p.code == "I10"} == {"high blood pressure",
                                                            "hypertension (arterial) (benign) (essential)"}
    assert all(p.source == "cm_synonym" for p in found)


def test_cm_negative_prefers_the_other_episode_of_care(cm: CodeSet) -> None:
    negative = P.cm_negative(cm, cm["S72.001A"], random.Random(0))
    assert negative is not None and negative.code == "S72.001D"
    assert P.cm_negative(cm, cm["I10"], random.Random(0)) is None  # no parent, no sibling


def test_pcs_pairs_use_paraphrases_and_axes_and_the_other_approach(pcs: CodeSet) -> None:
    found = P.pcs_pairs(pcs)
    lap = [p for p in found if p.code == "0FT44ZZ"]
    assert {(p.anchor, p.source) for p in lap} == {
        ("laparoscopic cholecystectomy", "pcs_paraphrase"),
        ("laparoscopic removal of gallbladder", "pcs_paraphrase"),
        ("resection gallbladder percutaneous endoscopic", "pcs_axes"),
    }
    assert {p.positive for p in lap} == {"Resection of Gallbladder, Percutaneous Endoscopic Approach"}
    assert {p.hard_negative for p in lap} == {"Resection of Gallbladder, Open Approach"}


def test_pcs_negative_prefers_the_other_approach_then_another_body_part(pcs: CodeSet) -> None:
    near = P.PcsNeighbours(pcs)
    liver = near.negative(pcs["0FT00ZZ"], random.Random(0))
    assert liver is not None and liver.code == "0FT04ZZ"  # the other approach, not the gallbladder
    # The note's own gold prefixes are never its negatives: the gallbladder comes next, then nothing.
    other = near.negative(pcs["0FT00ZZ"], random.Random(0), avoid_prefixes=("0FT0",))
    assert other is not None and other.code == "0FT40ZZ"
    assert near.negative(pcs["0FT00ZZ"], random.Random(0), avoid_prefixes=("0FT0", "0FT4")) is None


def test_abbreviations_pair_with_their_expansion_and_shorten_descriptions(cm: CodeSet) -> None:
    found = P.abbreviation_pairs({"CHF": "congestive heart failure", "HTN": "hypertension", "Htn": "hypertension"},
                                 [(c.code, c.description) for c in cm])
    anchors = {(p.anchor, p.positive) for p in found}
    assert ("CHF", "congestive heart failure") in anchors
    assert ("HTN", "hypertension") in anchors and ("Htn", "hypertension") not in anchors
    assert ("Essential (primary) HTN", "Essential (primary) hypertension") in anchors


def test_codiesp_pairs_find_the_clause_that_names_the_gold_code(cm: CodeSet, pcs: CodeSet) -> None:
    note = CodedNote("n1", "She was admitted with high blood pressure. A laparoscopic cholecystectomy was "
                     "performed; recovery was uneventful.",
                     frozenset({("ICD-10-CM", "I10"), ("ICD-10-PCS", "0FT4"), ("ICD-10-CM", "I501")}))
    found = {p.code: p for p in P.codiesp_pairs([note], {"ICD-10-CM": cm, "ICD-10-PCS": pcs})}
    assert found["I10"].anchor == "high blood pressure"  # clauses are cut as the engine cuts them
    assert found["I10"].positive == "Essential (primary) hypertension"
    # The prefix 0FT4 is matched through the code under it that the clause names.
    assert found["0FT44ZZ"].anchor == "A laparoscopic cholecystectomy was performed"
    # Left ventricular failure has no words in the note: no pair rather than a wrong one.
    assert "I501" not in found and all(p.source == "codiesp" for p in found.values())


def _many() -> list[P.Pair]:
    out = [P.Pair(f"a{i}", f"p{i % 50}", None, "codiesp", f"C{i % 50}") for i in range(300)]
    out += [P.Pair(f"s{i}", f"d{i}", None, "cm_synonym", f"D{i}") for i in range(300)]
    return out


def test_sample_follows_weights_caps_and_seed() -> None:
    chosen = P.sample(_many(), total=120, weights={"codiesp": 0.5, "cm_synonym": 0.5},
                      per_code={"codiesp": 1}, seed=3)
    counts = Counter(p.source for p in chosen)
    assert counts == {"codiesp": 50, "cm_synonym": 70}  # codiesp has only 50 codes at one pair each
    assert chosen == P.sample(_many(), total=120, weights={"codiesp": 0.5, "cm_synonym": 0.5},
                              per_code={"codiesp": 1}, seed=3)
    assert not P.sample(_many(), total=10, weights={"cm_synonym": 0.0, "codiesp": 0.0})


def test_batches_never_repeat_a_code_or_positive() -> None:
    cut = P.batches(_many(), 16, seed=1)
    assert cut and all(len(b) == 16 for b in cut)
    for b in cut:
        assert len({p.code for p in b}) == 16 and len({p.positive for p in b}) == 16
