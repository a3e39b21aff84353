"""Code-set releases by date of service (codesets/versions.py) and codes retired between two releases."""

from __future__ import annotations

import json
from datetime import date

import pytest

from codesets import versions
from medcode.errors import MedcodeError
from medcode.settings import get_settings
from validation import validate


@pytest.mark.parametrize(("day", "release"), [
    ("2024-10-01", "FY2025"), ("2025-09-30", "FY2025"), ("2025-10-01", "FY2026"), ("2026-03-31", "FY2026"),
    ("2026-04-01", "2026-04"), ("2026-10-01", "FY2027"),
])
def test_the_date_of_service_picks_the_release(day, release):
    assert versions.release_on("ICD-10-CM", date.fromisoformat(day)).name == release


def test_no_release_before_the_first():
    with pytest.raises(MedcodeError) as caught:
        versions.release_on("ICD-10-CM", date(2015, 1, 1))
    assert caught.value.code.value == "E013"


def test_a_code_knows_its_releases():
    # B88.0 was split into B88.01 / B88.09 on 2025-10-01 (FY2026).
    assert [r.name for r in versions.valid_in("ICD-10-CM", "B88.0")][-1] == "FY2025"
    assert versions.valid_in("ICD-10-CM", "B8801")[0].name == "FY2026"
    assert versions.valid_on("ICD-10-CM", "B88.0", date(2025, 5, 1)) is True  # from the FY2025 file
    assert versions.valid_on("ICD-10-CM", "B88.0", date(2026, 5, 1)) is False  # from the 2026-04 code set
    assert versions.valid_on("ICD-10-CM", "B88.0", date(2025, 11, 1)) is False  # from the MCE code master


def test_retired_code_is_flagged_with_its_successor(encounter):
    (finding,) = [f for f in validate(encounter(["B88.0"], day="2026-05-01")) if f.rule == "code-not-valid-on-date"]
    assert finding.severity == "error" and finding.codes == ["B88.0"]
    assert "retired" in finding.message and finding.fix.startswith("Use B88.01")
    assert not [f for f in validate(encounter(["B88.0"], day="2025-05-01")) if f.rule == "code-not-valid-on-date"]


def test_code_too_new_for_the_date_gets_its_predecessor(encounter):
    (finding,) = [f for f in validate(encounter(["B88.01"], day="2025-05-01")) if f.rule == "code-not-valid-on-date"]
    assert "not yet valid" in finding.message and finding.fix.startswith("Use B88.0 ")


def test_retired_procedure_code(encounter):
    findings = validate(encounter(["I50.23"], ["0SG604Z"], day="2026-05-01"))
    assert [f.codes for f in findings if f.rule == "code-not-valid-on-date"] == [["0SG604Z"]]
    assert not [f for f in validate(encounter(["I50.23"], ["0SG604Z"], day="2025-05-01"))
                if f.rule == "code-not-valid-on-date"]


@pytest.fixture
def dropped(tmp_path, monkeypatch):
    """A FY2028 ICD-10-CM release dropped in as data: a CMS code file and its description."""
    folder = tmp_path / "releases"
    folder.mkdir()
    (folder / "icd10cm-codes-2028.txt").write_text(
        "I10     Essential (primary) hypertension\nI5023   Acute on chronic systolic heart failure\n", encoding="utf-8")
    (folder / "fy2028.json").write_text(json.dumps({"releases": [
        {"system": "ICD-10-CM", "name": "FY2028", "effective": "2027-10-01", "fiscal_year": 2028,
         "codes": {"file": "icd10cm-codes-2028.txt", "format": "cms-codes"}}]}), encoding="utf-8")
    monkeypatch.setenv("MEDCODE_VALIDATION__RELEASES_DIR", str(folder))
    get_settings.cache_clear()
    versions.clear_cache()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()
    versions.clear_cache()


def test_a_newer_release_is_a_data_drop(dropped, encounter):
    assert versions.release_on("ICD-10-CM", date(2027, 11, 1)).name == "FY2028"
    assert versions.valid_on("ICD-10-CM", "I50.23", date(2027, 11, 1)) is True
    assert versions.valid_on("ICD-10-CM", "E87.1", date(2027, 11, 1)) is False
    assert "FY2028" in [r.name for r in versions.valid_in("ICD-10-CM", "I10")]
    findings = validate(encounter(["I50.23", "E87.1"], day="2027-11-01"))
    assert [f.codes for f in findings if f.rule == "code-not-valid-on-date"] == [["E87.1"]]


def test_a_bad_release_file_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "broken.json").write_text('{"releases": [{"system": "ICD-10-CM"}]}', encoding="utf-8")
    monkeypatch.setenv("MEDCODE_VALIDATION__RELEASES_DIR", str(tmp_path))
    get_settings.cache_clear()
    versions.clear_cache()
    try:
        with pytest.raises(MedcodeError) as caught:
            versions.releases("ICD-10-CM")
        assert caught.value.code.value == "E013" and "broken.json" in str(caught.value)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        versions.clear_cache()
