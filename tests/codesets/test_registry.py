"""The registry: loaders by system name, one code set per process, display forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets import registry
from codesets.types import CodeSet, display_code
from medcode.errors import ErrorCode, MedcodeError


def test_registry_names_the_shipped_systems() -> None:
    assert set(registry.CODESETS) == {"ICD-10-CM", "ICD-10-PCS"}
    assert set(registry.USER_FILE_SYSTEMS) == {"CPT", "HCPCS"}


def test_same_object_each_time(icd10cm: CodeSet, icd10pcs: CodeSet) -> None:
    assert registry.load_codeset("ICD-10-CM") is icd10cm
    assert registry.load_codeset("icd10cm") is icd10cm
    assert registry.load_codeset("icd-10-pcs") is icd10pcs
    assert icd10cm.system == "ICD-10-CM" and icd10pcs.system == "ICD-10-PCS"


def test_user_file_systems(fixtures: Path) -> None:
    path = fixtures / "cpt_madeup.csv"
    cpt = registry.load_codeset("CPT", path)
    assert cpt is registry.load_codeset("cpt", str(path))
    assert "99991" in cpt
    assert registry.load_codeset("HCPCS", fixtures / "hcpcs_madeup.csv").system == "HCPCS"


@pytest.mark.parametrize("system", ["CPT", "HCPCS"])
def test_user_file_systems_need_a_path(system: str) -> None:
    with pytest.raises(MedcodeError) as caught:
        registry.load_codeset(system)
    assert caught.value.code is ErrorCode.BAD_CODE_FILE


def test_unknown_system() -> None:
    with pytest.raises(MedcodeError) as caught:
        registry.load_codeset("SNOMED")
    assert caught.value.code is ErrorCode.UNKNOWN_SYSTEM
    assert "ICD-10-CM" in str(caught.value)


def test_unknown_code_error(icd10cm: CodeSet) -> None:
    with pytest.raises(MedcodeError) as caught:
        icd10cm["Q99.99"]
    assert caught.value.code is ErrorCode.UNKNOWN_CODE


@pytest.mark.parametrize(
    ("system", "code", "shown"),
    [
        ("ICD-10-CM", "i5023", "I50.23"),
        ("ICD-10-CM", " I50.23 ", "I50.23"),
        ("ICD-10-CM", "i10", "I10"),
        ("ICD-10-PCS", "0ft44zz", "0FT44ZZ"),
        ("CPT", "9999t", "9999T"),
        ("HCPCS", "z9991", "Z9991"),
    ],
)
def test_display_code(system: str, code: str, shown: str) -> None:
    assert display_code(system, code) == shown  # type: ignore[arg-type]


def test_with_prefix_lists_the_codes_under_a_pcs_table_or_cm_category():
    pcs = registry.load_codeset("ICD-10-PCS")
    under = [c.code for c in pcs.with_prefix("bw20")]
    assert under and all(c.startswith("BW20") and len(c) == 7 for c in under) and under == sorted(under)
    assert [c.code for c in registry.load_codeset("ICD-10-CM").with_prefix("E11.6")][:2] == ["E11.61", "E11.610"]
    assert pcs.with_prefix("QQQQ") == []


def test_count_under_counts_what_with_prefix_lists():
    pcs, cm = registry.load_codeset("ICD-10-PCS"), registry.load_codeset("ICD-10-CM")
    for codeset, prefix in ((pcs, "bw20"), (pcs, "0DT"), (cm, "E11"), (cm, "E11.6"), (cm, "I10"), (pcs, "QQQQ")):
        assert codeset.count_under(prefix) == len(codeset.with_prefix(prefix))
    assert cm.count_under("E11") > 50 and cm.count_under("I10") == 0
