"""`medcode export` and `medcode remit import` against a store of submitted encounters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving import cli, cli_store
from serving.store import Store
from serving.store.models import Encounter, utcnow

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "remittance.835"
runner = CliRunner()


def _final(*codes: tuple[str, str]) -> list[dict]:
    return [{"code": c, "system": s, "description": "", "source": "added", "replaces": None, "decided_by": "ann",
             "decided_at": utcnow().isoformat()} for s, c in codes]


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    """A fresh store with ENC-A (inpatient, submitted), ENC-C (submitted) and a pending one."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    made = Store(url)
    with made.session() as session:
        for external, status, codes in (
                ("ENC-A", "submitted", _final(("ICD-10-CM", "I50.23"), ("ICD-10-PCS", "02703ZZ"))),
                ("ENC-C", "submitted", _final(("ICD-10-CM", "I10"))),
                ("ENC-P", "pending", None)):
            session.add(Encounter(id=external.lower(), external_id=external, note="n", setting="inpatient",
                                  date_of_service=dt.date(2026, 5, 1), suggestions=[], findings=[], status=status,
                                  created_at=utcnow(), created_by="t", final_codes=codes,
                                  submitted_at=utcnow() if codes else None))
    made.close()
    monkeypatch.setattr(cli_store, "open_store", lambda: Store(url))
    return made


def test_export_prints_the_claim_in_each_format(store):
    result = runner.invoke(cli.app, ["export", "enc-a", "--format", "x12"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "HI*ABK:I5023~"
    assert "HI*BBR:02703ZZ:D8:20260501~" in result.stdout
    fhir = json.loads(runner.invoke(cli.app, ["export", "enc-a"]).stdout)
    assert fhir["resourceType"] == "Claim"
    assert fhir["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "I50.23"
    hl7 = runner.invoke(cli.app, ["export", "enc-a", "--format", "hl7"]).stdout
    assert hl7.startswith("MSH|^~\\&|") and "\nDG1|1||I50.23^" in hl7


@pytest.mark.parametrize(("encounter", "code"), [("enc-p", "E055"), ("nope", "E050")])
def test_export_refusals_are_one_clear_line(store, encounter, code):
    result = runner.invoke(cli.app, ["export", encounter, "--format", "fhir"])
    assert result.exit_code == 2 and result.stderr.startswith(f"error {code}:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_remit_import_then_again_then_malformed(store, tmp_path):
    result = runner.invoke(cli.app, ["remit", "import", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["claims"] == 5 and sorted(done["unmatched"]) == ["ENC-B", "ENC-D", "UNKNOWN-9"]
    assert sorted(done["denied"]) == ["enc-a", "enc-c"]
    again = runner.invoke(cli.app, ["remit", "import", str(FIXTURE)])
    assert again.exit_code == 2 and again.stderr.startswith("error E055:")
    bad = tmp_path / "bad.835"
    bad.write_text(FIXTURE.read_text().replace("CLP*ENC-B*1*1800", "CLP*ENC-B*1*lots"))
    result = runner.invoke(cli.app, ["remit", "import", str(bad)])
    assert result.exit_code == 2 and result.stderr.startswith("error E070: Remittance bad.835: line ")
    missing = runner.invoke(cli.app, ["remit", "import", str(tmp_path / "none.835")])
    assert missing.exit_code == 2 and "No such file" in missing.stderr
