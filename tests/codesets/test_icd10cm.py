"""ICD-10-CM loaded from simple_icd_10_cm: selection, hierarchy, notes, 7th characters, synonyms, cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets import icd10cm as icd10cm_loader
from codesets.types import CodeSet


def test_release_and_size(icd10cm: CodeSet) -> None:
    assert icd10cm.tag == "ICD-10-CM 2026-04"
    assert icd10cm.source.startswith("simple-icd-10-cm ")
    assert len(icd10cm) > 90_000


@pytest.mark.parametrize("code", ["C50", "B20", "R99", "F99", "T07"])
def test_single_category_blocks_are_codes(icd10cm: CodeSet, code: str) -> None:
    assert icd10cm[code].code == code
    assert icd10cm[code].block == code


def test_no_chapters_or_blocks(icd10cm: CodeSet) -> None:
    assert "I10-I1A" not in icd10cm
    assert "9" not in icd10cm


def test_lookup_ignores_dot_case_and_spaces(icd10cm: CodeSet) -> None:
    found = icd10cm.get("I50.23")
    assert found is not None and found.code == "I50.23"
    assert icd10cm.get("i5023") == found == icd10cm.get(" i50.23 ")


def test_hierarchy(icd10cm: CodeSet) -> None:
    code = icd10cm["I50.23"]
    assert (code.parent, code.chapter, code.block) == ("I50.2", "9", "I30-I5A")
    assert icd10cm["I10"].parent is None and icd10cm["I10"].block == "I10-I1A"
    assert {c.code for c in icd10cm.children("I50.2")} == {"I50.20", "I50.21", "I50.22", "I50.23"}


def test_billable_is_leaf(icd10cm: CodeSet) -> None:
    assert not icd10cm["E11"].billable
    assert icd10cm["E11.9"].billable
    assert icd10cm["S22.49XA"].billable
    assert not icd10cm["S22.49"].billable


def test_seventh_characters(icd10cm: CodeSet) -> None:
    seventh = dict(icd10cm["S22"].seventh)
    assert seventh["A"] == "initial encounter for closed fracture"
    assert seventh["S"] == "sequela"
    assert dict(icd10cm["S22.49XA"].seventh) == seventh
    assert dict(icd10cm["T07"].seventh)["D"] == "subsequent encounter"
    assert icd10cm["I10"].seventh == ()


def test_notes(icd10cm: CodeSet) -> None:
    assert any("Z17" in n for n in icd10cm["C50"].use_additional)
    assert any("O98.7" in n for n in icd10cm["B20"].code_first)
    assert any("E08" in n for n in icd10cm["E11"].excludes1)
    assert "code to identify control using:" in icd10cm["E11"].use_additional


def lowered(synonyms: tuple[str, ...]) -> set[str]:
    return {s.lower() for s in synonyms}


def test_synonyms_from_notes_and_variants(icd10cm: CodeSet) -> None:
    i10 = lowered(icd10cm["I10"].synonyms)
    assert {"hypertension", "high blood pressure", "arterial hypertension", "essential hypertension"} <= i10
    assert "essential (primary) hypertension" not in i10  # the description itself
    assert "fever" in lowered(icd10cm["R50.9"].synonyms)
    assert "fever of unknown origin" in lowered(icd10cm["R50.9"].synonyms)
    assert icd10cm["D64.9"].synonyms == ("anemia",)
    assert "HIV disease" in icd10cm["B20"].synonyms
    assert "pain in joint" in lowered(icd10cm["M25.50"].synonyms)
    assert "unexplained death" in lowered(icd10cm["R99"].synonyms)


def test_synonyms_unique_case_insensitively(icd10cm: CodeSet) -> None:
    for code in ("I10", "R50.9", "B20", "E11", "A41.9"):
        synonyms = icd10cm[code].synonyms
        assert len(lowered(synonyms)) == len(synonyms)


@pytest.mark.parametrize(
    ("description", "terms", "expected"),
    [
        ("Anemia, unspecified", [], ("anemia",)),
        ("Pain in joint, unspecified", [], ("pain in joint",)),
        ("Gout, chronic", [], ("chronic gout",)),
        ("Fracture of rib, left side", [], ()),
        ("X", ["Death (unexplained) NOS"], ("Death (unexplained) NOS", "death (unexplained)", "death", "unexplained death")),
    ],
)
def test_variant_rules(description: str, terms: list[str], expected: tuple[str, ...]) -> None:
    assert icd10cm_loader.synonyms(description, terms) == expected


def test_cache_written_and_reused(icd10cm: CodeSet, data_dir: Path) -> None:
    caches = list((data_dir / "codesets").glob("icd10cm-2026-04-*.pkl"))
    assert len(caches) == 1
    again = icd10cm_loader.load()
    assert again is not icd10cm
    assert again.fingerprint() == icd10cm.fingerprint()
