"""The command line, in process (typer's runner) and once as a real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving import cli

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def loaded(coder, monkeypatch):
    """The CLI with the session's coder, so each call skips the load."""
    monkeypatch.setattr(cli, "_coder", lambda: coder)
    return coder


def test_suggest_prints_json(loaded):
    result = runner.invoke(cli.app, ["suggest", str(REPO / "examples" / "note.txt"), "--top", "5"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert 0 < len(body["suggestions"]) <= 5
    assert {"code", "system", "description", "score", "rank", "evidence", "assertion", "why"} <= set(
        body["suggestions"][0])


def test_suggest_reads_stdin(loaded):
    result = runner.invoke(cli.app, ["suggest", "-"], input="Known hypertension.")
    assert result.exit_code == 0
    assert "I10" in {s["code"] for s in json.loads(result.stdout)["suggestions"]}


@pytest.mark.parametrize(("content", "code"), [(b"", "E001"), (b"\xff\xfe\xfa bad", "E003")])
def test_suggest_bad_note_is_one_clear_line(tmp_path, content, code):
    note = tmp_path / "bad.txt"
    note.write_bytes(content)
    result = runner.invoke(cli.app, ["suggest", str(note)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error {code}:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_suggest_missing_file(tmp_path):
    result = runner.invoke(cli.app, ["suggest", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2 and "E040" in result.stderr


def test_batch_over_a_directory_skips_bad_notes(loaded, tmp_path):
    src = tmp_path / "notes"
    src.mkdir()
    (src / "a.txt").write_text("Fever and hypertension.", encoding="utf-8")
    (src / "b.txt").write_bytes(b"")
    (src / "c.txt").write_bytes(b"\xff\xfe\x00\xd8")
    (src / "d.txt").write_text("Chest X-ray normal. Type 2 diabetes.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli.app, ["batch", str(src), "--out", str(out), "--top", "3"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["a", "d"]
    assert all(0 < len(r["suggestions"]) <= 3 for r in lines)
    errors = {json.loads(line)["id"]: json.loads(line)["error"]["code"]
              for line in (tmp_path / "out.errors.jsonl").read_text().splitlines()}
    assert errors == {"b": "E001", "c": "E003"}
    assert "skipped b: error E001" in result.stderr


def test_batch_over_jsonl_reports_broken_lines_and_resumes(loaded, tmp_path):
    src = tmp_path / "notes.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": "n1", "text": "Hypertension."}),
        "{not json",
        json.dumps({"id": "n2"}),
        json.dumps({"id": 7, "text": "Fever."}),
        json.dumps({"text": "no id"}),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli.app, ["batch", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["n1", "7"]
    errors = [json.loads(x)["id"] for x in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert errors == ["line 2", "n2", "line 5"]
    again = runner.invoke(cli.app, ["batch", str(src), "--out", str(out), "--resume"])
    assert again.exit_code == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["n1", "7"]
    assert len((tmp_path / "out.errors.jsonl").read_text().splitlines()) == 3
    assert "5 skipped" in again.stderr


def test_batch_of_only_bad_notes_exits_non_zero(loaded, tmp_path):
    src = tmp_path / "notes.jsonl"
    src.write_text("{broken\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["batch", str(src), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1 and "0 notes coded, 1 failed" in result.stderr


def test_batch_missing_input_fails_clearly(tmp_path):
    result = runner.invoke(cli.app, ["batch", str(tmp_path / "nothing"), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and result.stderr.startswith("error E040")


def test_the_installed_command_codes_a_note_end_to_end(small_index, data_dir, tmp_path):
    note = tmp_path / "n.txt"
    note.write_text("History of hypertension. Denies chest pain.", encoding="utf-8")
    env = {**os.environ, "MEDCODE_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "serving.cli", "suggest", str(note)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    codes = {s["code"] for s in json.loads(proc.stdout)["suggestions"]}
    assert "I10" in codes and not {c for c in codes if c.startswith("R07")}


def _suggest_with_env(monkeypatch, name: str, value: str):
    """`medcode suggest -` run with one MEDCODE_* variable set, the settings read afresh before and after."""
    from medcode.settings import get_settings

    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return runner.invoke(cli.app, ["suggest", "-"], input="Hypertension.")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_suggest_without_an_index_says_how_to_build_one(tmp_path, monkeypatch):
    result = _suggest_with_env(monkeypatch, "MEDCODE_DATA_DIR", str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error E020:") and "medcode index build" in result.stderr


@pytest.mark.parametrize(("name", "value"), [("MEDCODE_TRAIN_DEVICE", "gpu"), ("MEDCODE_THREADS", "many"),
                                             ("MEDCODE_INDEX__NOTE_BATCH_TOKENS", "lots")])
def test_a_bad_setting_is_one_clear_line_naming_it(monkeypatch, name, value):
    result = _suggest_with_env(monkeypatch, name, value)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error E040: {name}:") and repr(value) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _codiesp_folder(root: Path) -> Path:
    """Two coded notes in CodiEsp's layout, named as a site might name its tables."""
    (root / "text_files_en").mkdir(parents=True)
    (root / "text_files_en" / "n1.txt").write_text("Known hypertension. Fever since yesterday.", encoding="utf-8")
    (root / "text_files_en" / "n2.txt").write_text("Laparoscopic cholecystectomy for cholelithiasis.",
                                                   encoding="utf-8")
    (root / "siteD.tsv").write_text("n1\ti10\nn1\tr50.9\nn2\tk80.20\n", encoding="utf-8")
    (root / "siteP.tsv").write_text("n2\t0ft44zz\n", encoding="utf-8")
    return root


def test_eval_codiesp_scores_any_folder_in_codiesp_layout(loaded, tmp_path):
    result = runner.invoke(cli.app, ["eval", "codiesp", "--dir", str(_codiesp_folder(tmp_path / "site"))])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["notes"] == 2
    assert body["documents"] == {"diagnoses": 2, "procedures": 1}
    assert 0.5 < body["map_diagnoses"] <= 1.0 and 0.0 < body["map_procedures"] <= 1.0


def test_eval_codiesp_of_a_folder_without_notes_is_one_clear_line(tmp_path):
    (tmp_path / "text_files_en").mkdir()
    result = runner.invoke(cli.app, ["eval", "codiesp", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr.strip().startswith("error E030:")


def test_batch_codiesp_form_ranks_the_suggestions_as_codiesp_does(loaded, tmp_path):
    notes = _codiesp_folder(tmp_path / "site") / "text_files_en"
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli.app, ["batch", str(notes), "--out", str(out), "--negated", "flag",
                                     "--codiesp-form"])
    assert result.exit_code == 0, result.output
    lines = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    first = lines["n1"]["codiesp"]
    assert "i10" in first["diagnoses"] and "r50.9" in first["diagnoses"]
    # Each procedure comes with its 4-character family, the form CodiEsp's coders often wrote.
    procedures = lines["n2"]["codiesp"]["procedures"]
    assert "0ft44zz" in procedures and "0ft4" in procedures
    plain = tmp_path / "plain.jsonl"
    runner.invoke(cli.app, ["batch", str(notes), "--out", str(plain)])
    assert "codiesp" not in json.loads(plain.read_text(encoding="utf-8").splitlines()[0])
