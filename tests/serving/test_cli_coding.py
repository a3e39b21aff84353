"""`medcode suggest` and `medcode batch` print and write the proposed coding beside the suggestions."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving import cli

REPO = Path(__file__).resolve().parents[2]
NOTE = REPO / "examples" / "note.txt"
runner = CliRunner()


@pytest.fixture
def loaded(coder, monkeypatch):
    monkeypatch.setattr(cli, "_coder", lambda: coder)
    return coder


def test_suggest_prints_the_coding_of_the_encounter(loaded, tmp_path):
    encounter = tmp_path / "enc.json"
    encounter.write_text(json.dumps({"setting": "inpatient", "date_of_service": "2026-05-15",
                                     "patient": {"age": 58, "sex": "female"}, "diagnoses": []}))
    result = runner.invoke(cli.app, ["suggest", str(NOTE), "--encounter", str(encounter), "--top", "5"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["suggestions"]) == 5
    coding = body["coding"]
    assert coding["context"]["patient"] == {"age": 58, "sex": "female"}
    assert coding["diagnoses"][0]["principal"] and coding["diagnoses"][0]["poa"] in ("Y", "N", "U", "W", "1")
    assert coding["drg"] is not None


def test_options_override_the_encounter_and_outpatient_carries_no_pcs(loaded, tmp_path):
    encounter = tmp_path / "enc.json"
    encounter.write_text(json.dumps({"setting": "inpatient"}))
    result = runner.invoke(cli.app, ["suggest", str(NOTE), "--encounter", str(encounter), "--setting", "outpatient",
                                     "--age", "58", "--sex", "female", "--date", "2026-05-15"])
    assert result.exit_code == 0, result.output
    coding = json.loads(result.stdout)["coding"]
    assert coding["context"] == {"setting": "outpatient", "date_of_service": "2026-05-15",
                                 "patient": {"age": 58, "sex": "female"}}
    assert coding["procedures"] == [] and coding["drg"] is None
    assert all(d["poa"] is None for d in coding["diagnoses"])


def test_suggestions_are_the_same_as_without_coding(loaded):
    result = runner.invoke(cli.app, ["suggest", str(NOTE)])
    shown = json.loads(result.stdout)["suggestions"]
    assert shown == [s.model_dump(mode="json") for s in loaded.suggest(NOTE.read_text())]


@pytest.mark.parametrize(("content", "fragment"), [('{"setting": "ambulatory"}', "setting"), ("[1]", "object"),
                                                   ("not json", "JSON")])
def test_a_bad_encounter_is_one_clear_line(tmp_path, content, fragment):
    encounter = tmp_path / "enc.json"
    encounter.write_text(content)
    result = runner.invoke(cli.app, ["suggest", str(NOTE), "--encounter", str(encounter)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error E041:") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_batch_lines_carry_their_encounter_and_every_output_line_a_coding(loaded, tmp_path):
    src = tmp_path / "notes.jsonl"
    text = NOTE.read_text()
    src.write_text("\n".join(json.dumps(r) for r in [
        {"id": "in", "text": text, "encounter": {"setting": "inpatient", "patient": {"age": 58, "sex": "female"}}},
        {"id": "out", "text": text, "encounter": {"setting": "outpatient"}},
        {"id": "plain", "text": "Known hypertension."},
        {"id": "bad", "text": text, "encounter": {"setting": "home"}},
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli.app, ["batch", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(lines) == {"in", "out", "plain"}
    assert all("coding" in r and "suggestions" in r for r in lines.values())
    assert lines["in"]["coding"]["drg"] is not None and lines["out"]["coding"]["procedures"] == []
    assert lines["plain"]["coding"]["context"]["setting"] == "inpatient"
    errors = [json.loads(line) for line in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [("bad", "E041")]
