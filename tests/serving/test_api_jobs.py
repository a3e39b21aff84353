"""`/v1/jobs`: a JSON list or a JSONL upload, coded by the worker; bad notes reported and skipped."""

from __future__ import annotations

import json
import time


def _wait(api, job_id, role="service", timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = api.client.get(f"/v1/jobs/{job_id}", headers=api.as_(role)).json()
        if job["status"] == "done":
            return job
        time.sleep(0.3)
    raise AssertionError(f"job not done: {job}")


def test_job_from_a_json_list(api):
    r = api.client.post("/v1/jobs", headers=api.as_("service"), json={
        "notes": [{"id": "a", "text": "Known hypertension."}, {"id": "b", "text": "   "},
                  {"id": "c", "text": "Fever and cough."}], "top": 3})
    assert r.status_code == 202, r.text
    job = _wait(api, r.json()["id"])
    assert (job["total"], job["done"], job["failed"]) == (3, 2, 1)
    results = api.client.get(f"/v1/jobs/{job['id']}/results", headers=api.as_("service")).json()["results"]
    assert [x["id"] for x in results] == ["a", "b", "c"]
    assert "I10" in {s["code"] for s in results[0]["suggestions"]} and len(results[0]["suggestions"]) <= 3
    assert results[1]["status"] == "failed" and results[1]["error"]["code"] == "E001"


def test_job_from_a_jsonl_upload(api):
    lines = "\n".join([json.dumps({"id": "n1", "text": "Hypertension."}), "{not json",
                       json.dumps({"text": "no id"}), json.dumps({"id": 7, "text": "Fever."})]) + "\n"
    r = api.client.post("/v1/jobs", content=lines.encode(), headers={
        **api.as_("admin"), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    job = _wait(api, r.json()["id"], role="admin")
    assert (job["total"], job["done"], job["failed"]) == (4, 2, 2)
    results = api.client.get(f"/v1/jobs/{job['id']}/results", headers=api.as_("admin")).json()["results"]
    assert [(x["id"], x["status"]) for x in results] == [("n1", "done"), ("line 2", "failed"),
                                                         ("line 3", "failed"), ("7", "done")]


def test_bad_job_requests(api):
    h = api.as_("service")
    assert api.client.post("/v1/jobs", json={"notes": []}, headers=h).status_code == 422
    assert api.client.post("/v1/jobs", content=b"{oops", headers={**h, "Content-Type": "application/json"}
                           ).json()["code"] == "E040"
    r = api.client.post("/v1/jobs", content=b"x", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["code"] == "E057"
    assert api.client.get("/v1/jobs/nope", headers=h).status_code == 404
    r = api.client.post("/v1/jobs", json={"notes": [{"id": "a", "text": "x"}]}, headers=api.as_("coder"))
    assert r.status_code == 403
