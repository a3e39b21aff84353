"""Over real HTTP (uvicorn in a subprocess): concurrency and restart persistence (the schemathesis run over
the same server is tests/serving/test_contract.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serving.conftest import LiveServer, fresh_database, make_keys

NOTES = ["History of hypertension.", "Fever and cough for three days.", "Type 2 diabetes mellitus.",
         "Chest X-ray performed. Known hypertension.", "Acute myocardial infarction."]


def test_fifty_concurrent_suggests_all_answered_correctly(live):
    server, keys = live
    expected = {}
    with httpx.Client(base_url=server.url, headers=keys["coder"], timeout=300) as client:
        for note in NOTES:
            expected[note] = [s["code"] for s in client.post("/v1/suggest", json={"text": note}).json()["suggestions"]]

        def call(i: int) -> tuple[str, int, list[str]]:
            note = NOTES[i % len(NOTES)]
            r = client.post("/v1/suggest", json={"text": note})
            return note, r.status_code, [s["code"] for s in r.json()["suggestions"]]

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(call, range(50)))
    assert all(status == 200 for _, status, _ in results)
    for note, _, codes in results:
        assert codes == expected[note]  # each answer is its own note's, batched or not


@pytest.mark.parametrize("backend", ["sqlite"])
def test_encounters_decisions_and_jobs_survive_a_restart(small_index, data_dir, tmp_path, backend):
    url = fresh_database(backend, tmp_path)
    from serving.store import Store

    store = Store(url)
    keys = make_keys(store)
    store.close()
    server = LiveServer(data_dir, url, tmp_path / "server.log", MEDCODE_SERVING__RATE_LIMIT="0",
                        MEDCODE_SERVING__JOB_CHUNK="1")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            enc = client.post("/v1/encounters", json={"text": NOTES[3]}, headers=keys["service"]).json()
            code = enc["suggestions"][0]
            client.post(f"/v1/encounters/{enc['id']}/decisions", headers=keys["coder"], json={
                "action": "accept", "code": code["code"], "system": code["system"], "coder": "jdoe"})
            notes = [{"id": f"n{i}", "text": NOTES[i % 5] + f" Day {i}."} for i in range(40)]
            job = client.post("/v1/jobs", json={"notes": notes}, headers=keys["service"]).json()
            # Stop it hard while the job is under way: no chance to tidy up.
            deadline = time.time() + 120
            while client.get(f"/v1/jobs/{job['id']}", headers=keys["service"]).json()["done"] < 2:
                assert time.time() < deadline
                time.sleep(0.1)
        server.stop(kill=True)
        server.start()
        with httpx.Client(base_url=server.url, timeout=300) as client:
            again = client.get(f"/v1/encounters/{enc['id']}", headers=keys["coder"]).json()
            assert again["suggestions"] == enc["suggestions"]
            assert [(d["action"], d["code"]) for d in again["decisions"]] == [("accept", code["code"])]
            assert [c["code"] for c in again["final_codes"]] == [code["code"]]
            deadline = time.time() + 300
            while (state := client.get(f"/v1/jobs/{job['id']}", headers=keys["service"]).json())["status"] != "done":
                assert time.time() < deadline, state
                time.sleep(0.3)
            assert (state["total"], state["done"], state["failed"]) == (40, 40, 0)
            results = client.get(f"/v1/jobs/{job['id']}/results", headers=keys["service"]).json()["results"]
            assert [r["id"] for r in results] == [f"n{i}" for i in range(40)]
            assert all(r["suggestions"] for r in results)
    finally:
        server.stop()
