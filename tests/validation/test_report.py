"""`medcode validate`: the JSON it prints, its exit codes, and one clear line for bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from medcode.types import Suggestion
from serving import cli
from validation import check_suggestions

runner = CliRunner()
STAY = {"setting": "inpatient", "date_of_service": "2026-05-01", "patient": {"age": 67, "sex": "male"},
        "diagnoses": [{"code": "I5023", "principal": True, "poa": "Y"}, {"code": "E87.1", "poa": "Y"}],
        "procedures": []}


def invoke(tmp_path, body):
    path = tmp_path / "encounter.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return runner.invoke(cli.app, ["validate", str(path)])


def test_clean_encounter_prints_findings_and_drg(tmp_path, cm):
    result = invoke(tmp_path, STAY)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"findings", "drg"}
    assert body["drg"]["drg"] == 292 and body["drg"]["relative_weight"] > 0
    for finding in body["findings"]:
        assert set(finding) == {"severity", "rule", "codes", "message", "fix"}
        assert finding["severity"] != "error"


def test_an_error_finding_exits_1(tmp_path, cm):
    result = invoke(tmp_path, {**STAY, "diagnoses": [{"code": "I50", "principal": True, "poa": "Y"}]})
    assert result.exit_code == 1
    assert "header-code" in {f["rule"] for f in json.loads(result.stdout)["findings"]}


def test_outpatient_has_no_drg(tmp_path, cm):
    result = invoke(tmp_path, {**STAY, "setting": "outpatient"})
    assert result.exit_code == 0 and json.loads(result.stdout)["drg"] is None


def test_reads_standard_input(cm):
    result = runner.invoke(cli.app, ["validate", "-"], input=json.dumps(STAY))
    assert result.exit_code == 0 and json.loads(result.stdout)["drg"]["drg"] == 292


@pytest.mark.parametrize(("body", "says"), [
    ("{not json", "not JSON"),
    ({**STAY, "setting": "emergency"}, "setting"),
    ({**STAY, "patient": {"age": -3, "sex": "male"}}, "patient.age"),
    ({**STAY, "diagnoses": [{"code": "I10", "poa": "Q"}]}, "diagnoses.0.poa"),
    ({**STAY, "extra": 1}, "extra"),
    ({**STAY, "procedures": [{"code": "0FT4;4ZZ"}]}, "procedures.0.code"),
])
def test_bad_input_is_one_clear_line(tmp_path, body, says):
    result = invoke(tmp_path, body)
    assert result.exit_code == 2
    line = " ".join(result.stderr.split())  # rich may wrap the line at the console width
    assert line.startswith("error E041:") and says in line


def test_missing_file(tmp_path):
    result = runner.invoke(cli.app, ["validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "E040" in result.stderr


def test_check_suggestions(encounter):
    stay = encounter(["I50.23", "E11.9"], age=67, sex="male")
    suggestions = [Suggestion(code=c, system=s, description="", score=0.5, rank=i + 1, evidence=[], why="test")
                   for i, (c, s) in enumerate([("E87.1", "ICD-10-CM"), ("I50", "ICD-10-CM"), ("O80", "ICD-10-CM"),
                                               ("E11.A", "ICD-10-CM"), ("B88.0", "ICD-10-CM"),
                                               ("0FT44ZZ", "ICD-10-PCS")])]
    found = {(f.rule, tuple(f.codes)) for f in check_suggestions(stay, suggestions)}
    assert ("header-code", ("I50",)) in found
    assert ("mce-age-conflict", ("O80",)) in found
    assert ("excludes1", ("E11.9", "E11.A")) in found
    assert ("code-not-valid-on-date", ("B88.0",)) in found
    assert not [f for f in found if f[1] in (("E87.1",), ("0FT44ZZ",))]
