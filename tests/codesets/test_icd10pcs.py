"""ICD-10-PCS from the drg package's Tuva list: axes read off the descriptions, paraphrases, prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets import icd10pcs as icd10pcs_loader
from codesets.types import CodeSet
from medcode.errors import ErrorCode, MedcodeError


def axes(codeset: CodeSet, code: str) -> dict[str, str]:
    return dict(codeset[code].axes)


def test_release_and_size(icd10pcs: CodeSet) -> None:
    assert icd10pcs.tag == "ICD-10-PCS FY2024"
    assert len(icd10pcs) > 78_000
    assert all(len(c.code) == 7 and len(c.axes) == 7 for c in icd10pcs)


def test_record_fields(icd10pcs: CodeSet) -> None:
    code = icd10pcs["0ft44zz"]
    assert code.description == "Resection of Gallbladder, Percutaneous Endoscopic Approach"
    assert (code.chapter, code.block, code.parent, code.billable) == ("0", "0FT", None, True)


def test_medical_surgical_axes(icd10pcs: CodeSet) -> None:
    assert axes(icd10pcs, "0FT44ZZ") == {
        "section": "Medical and Surgical",
        "body system": "Hepatobiliary System and Pancreas",
        "root operation": "Resection",
        "body part": "Gallbladder",
        "approach": "Percutaneous Endoscopic",
        "device": "No Device",
        "qualifier": "No Qualifier",
    }
    bypass = axes(icd10pcs, "0016070")
    assert (bypass["root operation"], bypass["body part"]) == ("Bypass", "Cerebral Ventricle")
    assert (bypass["device"], bypass["qualifier"], bypass["approach"]) == ("Autologous Tissue Substitute", "Nasopharynx", "Open")
    assert axes(icd10pcs, "0FB44ZX")["qualifier"] == "Diagnostic"
    assert axes(icd10pcs, "02HV33Z")["device"] == "Infusion Device"
    assert axes(icd10pcs, "02HV33Z")["body part"] == "Superior Vena Cava"


def test_other_section_axes(icd10pcs: CodeSet) -> None:
    ct = axes(icd10pcs, "BW200ZZ")
    assert (ct["section"], ct["type"], ct["body part"]) == ("Imaging", "Computerized Tomography (CT Scan)", "Abdomen")
    assert ct["contrast"] == "High Osmolar Contrast"
    admin = axes(icd10pcs, "3E0336Z")
    assert (admin["root operation"], admin["substance"], admin["approach"]) == ("Introduction", "Nutritional Substance", "Percutaneous")


def test_paraphrases(icd10pcs: CodeSet) -> None:
    gallbladder = icd10pcs["0FT44ZZ"].synonyms
    assert "laparoscopic cholecystectomy" in gallbladder
    assert "laparoscopic resection of gallbladder" in gallbladder
    assert "chest x-ray" in icd10pcs["BW03ZZZ"].synonyms
    assert {"abdominal CT", "CT of abdomen"} <= set(icd10pcs["BW200ZZ"].synonyms)
    assert "biopsy of gallbladder" in icd10pcs["0FB44ZX"].synonyms
    assert "thoracoscopic" in " ".join(icd10pcs["0BTC4ZZ"].synonyms)
    assert "arthroscopic" in " ".join(icd10pcs["0SJC4ZZ"].synonyms)


def test_paraphrases_are_few_and_unique(icd10pcs: CodeSet) -> None:
    for code in icd10pcs:
        assert len(code.synonyms) <= 6
        assert len({s.lower() for s in code.synonyms}) == len(code.synonyms)
        assert code.description.lower() not in {s.lower() for s in code.synonyms}


def test_prefix_description(icd10pcs: CodeSet) -> None:
    described = icd10pcs_loader.prefix_description(icd10pcs, "bw20")
    assert described == "Imaging, Anatomical Regions, Computerized Tomography (CT Scan), Abdomen"
    assert "CT" in icd10pcs_loader.prefix_description(icd10pcs, "BW24")
    assert icd10pcs_loader.prefix_description(icd10pcs, "0FT4") == (
        "Medical and Surgical, Hepatobiliary System and Pancreas, Resection, Gallbladder"
    )
    assert icd10pcs_loader.prefix_description(icd10pcs, "B") == "Imaging"


@pytest.mark.parametrize(("prefix", "error"), [("", ErrorCode.BAD_INPUT), ("QQ", ErrorCode.UNKNOWN_CODE)])
def test_prefix_description_errors(icd10pcs: CodeSet, prefix: str, error: ErrorCode) -> None:
    with pytest.raises(MedcodeError) as caught:
        icd10pcs_loader.prefix_description(icd10pcs, prefix)
    assert caught.value.code is error


def test_build_from_rows() -> None:
    rows = [
        ("0FT40ZZ", "Resection of Gallbladder, Open Approach"),
        ("0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach"),
        ("0FTG0ZZ", "Resection of Pancreas, Open Approach"),
    ]
    built = {c.code: dict(c.axes) for c in icd10pcs_loader.build(rows)}
    assert built["0FTG0ZZ"]["body part"] == "Pancreas"
    assert built["0FT40ZZ"]["approach"] == "Open"


def test_cache_written(icd10pcs: CodeSet, data_dir: Path) -> None:
    assert len(list((data_dir / "codesets").glob("icd10pcs-FY2024-*.pkl"))) == 1
    assert icd10pcs_loader.load().fingerprint() == icd10pcs.fingerprint()
