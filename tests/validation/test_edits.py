"""Code edits, one rule at a time: an encounter that fires it and one that does not."""

from __future__ import annotations

import pytest

from validation import validate


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


@pytest.mark.parametrize(("fires", "clean", "rule"), [
    (["I50"], ["I50.23"], "header-code"),
    (["S72.001"], ["S72.001A"], "seventh-character"),
    (["S72.001Z"], ["S72.001A"], "seventh-character"),
    (["T36.01A"], ["T36.0X1A"], "placeholder-x"),
    (["E11.9", "E11.A"], ["E11.9", "I10"], "excludes1"),
    (["I50.23", "I50.23"], ["I50.23", "I50.22"], "duplicate"),
    (["I11.0"], ["I11.0", "I50.23"], "use-additional"),
    (["I50.23", "F02.80"], ["G30.9", "F02.80"], "code-first"),
    (["I50.23", "I11.0"], ["I11.0", "I50.23"], "code-first-sequence"),
    (["XYZ.12"], ["I10"], "invalid-code"),
])
def test_rule_fires_and_not(encounter, fires, clean, rule):
    assert by_rule(validate(encounter(fires)), rule), f"{rule} should fire on {fires}"
    assert not by_rule(validate(encounter(clean)), rule), f"{rule} should not fire on {clean}"


def test_header_offers_billable_children(encounter):
    (finding,) = by_rule(validate(encounter(["I50"])), "header-code")
    assert finding.severity == "error" and finding.codes == ["I50"]
    assert "I50.23" in finding.fix and "I50.2 " not in finding.fix  # children billable only


def test_seventh_character_offers_the_episodes(encounter):
    (finding,) = by_rule(validate(encounter(["S72.001"])), "seventh-character")
    assert "S72.001A" in finding.fix and "S72.001D" in finding.fix


def test_placeholder_fix_is_the_padded_code(encounter):
    (finding,) = by_rule(validate(encounter(["T36.01A"])), "placeholder-x")
    assert finding.fix.startswith("Use T36.0X1A")


def test_excludes1_names_both_codes_once(encounter):
    findings = by_rule(validate(encounter(["E11.9", "E11.A"])), "excludes1")
    assert len(findings) == 1 and set(findings[0].codes) == {"E11.9", "E11.A"} and findings[0].severity == "error"


def test_excludes1_inherited_from_the_category(encounter):
    # E11 (category) excludes type 1 diabetes E10.-; neither E11.9 nor E10.9 says so itself.
    assert by_rule(validate(encounter(["E11.9", "E10.9"])), "excludes1")


def test_code_first_sequence_names_the_order(encounter):
    (finding,) = by_rule(validate(encounter(["I50.23", "I11.0"])), "code-first-sequence")
    assert finding.codes == ["I11.0", "I50.23"]


def test_use_additional_says_what_to_add(encounter):
    findings = [f for f in by_rule(validate(encounter(["N18.6"])), "use-additional") if "Z99.2" in f.fix]
    assert findings and findings[0].severity == "warning"
    assert not [f for f in by_rule(validate(encounter(["N18.6", "Z99.2"])), "use-additional") if "Z99.2" in f.fix]


def test_manifestation_first_wants_its_underlying_condition(encounter):
    findings = by_rule(validate(encounter(["F02.80"], setting="outpatient")), "code-first")
    assert findings and findings[0].severity == "warning"


def test_codes_with_or_without_dots(encounter):
    assert validate(encounter(["I5023", "E871"])) == validate(encounter(["I50.23", "E87.1"]))


def test_principal_missing_and_multiple(encounter):
    none = encounter(["I50.23"]).model_copy(update={"diagnoses": []})
    assert not by_rule(validate(none), "principal-missing")
    missing = encounter(["I50.23", "E87.1"])
    missing.diagnoses[0].principal = False
    assert by_rule(validate(missing), "principal-missing")
    both = encounter(["I50.23", "E87.1"])
    both.diagnoses[1].principal = True
    assert by_rule(validate(both), "principal-multiple")
    assert not by_rule(validate(encounter(["I50.23", "E87.1"])), "principal-missing")


def test_procedure_duplicate_only_on_the_same_date(encounter):
    same = encounter(["I50.23"], ["0FT44ZZ", "0FT44ZZ"])
    assert by_rule(validate(same), "duplicate")[0].severity == "warning"
    other = type(same).model_validate({**same.model_dump(), "procedures": [
        {"code": "0FT44ZZ", "date": "2026-04-29"}, {"code": "0FT44ZZ", "date": "2026-04-30"}]})
    assert not by_rule(validate(other), "duplicate")


def test_incomplete_pcs_code_offers_completions(encounter):
    (finding,) = by_rule(validate(encounter(["I50.23"], ["0FT4"])), "invalid-code")
    assert "0FT44ZZ" in finding.fix


def test_poa_missing_is_info_for_inpatient_only(encounter):
    stay = encounter(["I50.23"])
    stay.diagnoses[0].poa = None
    assert by_rule(validate(stay), "poa-missing")[0].severity == "info"
    visit = encounter(["I50.23"], setting="outpatient")
    visit.diagnoses[0].poa = None
    assert not by_rule(validate(visit), "poa-missing")


def test_findings_come_errors_first(encounter):
    severities = [f.severity for f in validate(encounter(["E11.9", "E11.A", "I50"]))]
    order = {"error": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=order.__getitem__) and severities[0] == "error"
