"""Data lifecycle: deleting an encounter or a job, `medcode purge`, the retention sweep, the deletions record,
the append-only decisions trail, and the note leaving the SQLite files."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from serving import cli
from serving.lifecycle import RetentionSweeper, purge
from serving.store.models import Decision, Deletion, Encounter, Job, JobItem


def _encounter(api, note: str) -> dict:
    r = api.client.post("/v1/encounters", json={"text": note}, headers=api.as_("coder"))
    assert r.status_code == 201, r.text
    enc = r.json()
    top = enc["suggestions"][0]
    r = api.client.post(f"/v1/encounters/{enc['id']}/decisions", headers=api.as_("coder"), json={
        "action": "accept", "code": top["code"], "system": top["system"], "coder": "jdoe"})
    assert r.status_code == 201, r.text
    return enc


def test_an_admin_deletes_an_encounter_its_decisions_go_and_the_deletion_is_recorded(api):
    marker = f"Zebra{uuid.uuid4().hex[:8]}"
    enc = _encounter(api, f"Known hypertension. {marker} was here.")
    assert api.client.delete(f"/v1/encounters/{enc['id']}", headers=api.as_("coder")).status_code == 403
    assert api.client.delete(f"/v1/encounters/{enc['id']}", headers=api.as_("service")).status_code == 403
    r = api.client.delete(f"/v1/encounters/{enc['id']}", headers=api.as_("admin"))
    assert r.status_code == 204 and r.content == b""
    assert api.client.get(f"/v1/encounters/{enc['id']}", headers=api.as_("admin")).status_code == 404
    assert api.client.delete(f"/v1/encounters/{enc['id']}", headers=api.as_("admin")).json()["code"] == "E050"
    with api.store.session() as session:
        assert session.scalar(select(Decision).where(Decision.encounter_id == enc["id"])) is None
        [deletion] = session.scalars(select(Deletion).where(Deletion.target == enc["id"])).all()
        assert (deletion.kind, deletion.reason, deletion.removed) == ("encounter", "request", {"decisions": 1})
        assert deletion.by.startswith("admin-")
    if api.backend == "sqlite":  # the note is in neither file: pages zeroed, WAL checkpointed
        db = Path(api.store.url.removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal")):
            assert not path.exists() or marker.encode() not in path.read_bytes()


def test_the_decisions_trail_stays_append_only_outside_a_recorded_deletion(api):
    enc = _encounter(api, "Fever and cough.")
    for statement in (update(Decision).where(Decision.encounter_id == enc["id"]).values(code="X"),
                      text("DELETE FROM decisions WHERE encounter_id = :e").bindparams(e=enc["id"])):
        with pytest.raises(DBAPIError, match="append-only"), api.store.session() as session:
            session.execute(statement)
    assert len(api.client.get(f"/v1/encounters/{enc['id']}", headers=api.as_("coder")).json()["decisions"]) == 1


def test_an_admin_deletes_a_job_with_its_notes_and_results(api):
    r = api.client.post("/v1/jobs", json={"notes": [{"id": "a", "text": "Known hypertension."}]},
                        headers=api.as_("admin"))
    job = r.json()["id"]
    assert api.client.delete(f"/v1/jobs/{job}", headers=api.as_("service")).status_code == 403
    assert api.client.delete(f"/v1/jobs/{job}", headers=api.as_("admin")).status_code == 204
    assert api.client.get(f"/v1/jobs/{job}", headers=api.as_("admin")).status_code == 404
    with api.store.session() as session:
        assert session.scalar(select(JobItem).where(JobItem.job_id == job)) is None
        assert session.scalar(select(Deletion.kind).where(Deletion.target == job)) == "job"


def test_purge_and_retention_delete_only_what_is_older(api):
    old, new = _encounter(api, "Type 2 diabetes."), _encounter(api, "Acute myocardial infarction.")
    job = api.client.post("/v1/jobs", json={"notes": [{"id": "a", "text": "Fever."}]}, headers=api.as_("admin")).json()
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with api.store.session() as session:
        session.execute(update(Encounter).where(Encounter.id == old["id"]).values(created_at=long_ago))
        session.execute(update(Job).where(Job.id == job["id"]).values(created_at=long_ago))
    purged = RetentionSweeper(api.store, 365).sweep()
    assert (purged.encounters, purged.jobs) == (1, 1)
    assert api.client.get(f"/v1/encounters/{old['id']}", headers=api.as_("coder")).status_code == 404
    assert api.client.get(f"/v1/encounters/{new['id']}", headers=api.as_("coder")).status_code == 200
    with api.store.session() as session:
        assert session.scalar(select(Deletion.reason).where(Deletion.target == old["id"])) == "retention"
    assert purge(api.store, long_ago, by="test") == type(purged)(0, 0)


def test_medcode_purge_before_a_date(tmp_path, monkeypatch):
    from medcode.settings import get_settings
    from serving.store import Store

    url = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store(url)
    with store.session() as session:
        for day, eid in ((1, "a" * 32), (20, "b" * 32)):
            session.add(Encounter(id=eid, note="Secret note.", suggestions=[], findings=[], status="pending",
                                  created_at=datetime(2026, 1, day, tzinfo=UTC), created_by="t"))
    monkeypatch.setenv("MEDCODE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        bad = runner.invoke(cli.app, ["purge", "--before", "last tuesday"])
        assert bad.exit_code == 2 and bad.stderr.startswith("error E040")
        result = runner.invoke(cli.app, ["purge", "--before", "2026-01-10"])
        assert result.exit_code == 0, result.output
        assert "deleted 1 encounters and 0 jobs" in result.stderr
    finally:
        get_settings.cache_clear()
    with store.session() as session:
        assert list(session.scalars(select(Encounter.id))) == ["b" * 32]
        assert session.scalar(select(Deletion.by)) == "cli:purge"
    store.close()


def test_the_access_log_keeps_no_query_string():
    from serving.app import keep_queries_out_of_access_log

    keep_queries_out_of_access_log()
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", "/v1/codes/search?q=patient+words", "1.1", 200), None)
    for f in logging.getLogger("uvicorn.access").filters:
        f.filter(record)
    assert record.getMessage() == '127.0.0.1:1 - "GET /v1/codes/search HTTP/1.1" 200'
    assert json.dumps(record.args).count("patient") == 0
