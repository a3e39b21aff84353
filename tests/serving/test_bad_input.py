"""Issue 23's bad-input table: every input a hostile but fair client sends is a 4xx problem, never a 500,
and the service goes on answering."""

from __future__ import annotations

import base64
import json
import time

import pytest

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
SURROGATE = b'{"text": "fever \\ud800"}'  # valid JSON; no UTF-8 encoder takes it


def _problem(r, status: int | tuple[int, ...], code: str | None = None) -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == r.status_code and body["code"].startswith("E")
    if code:
        assert body["code"] == code, body
    return body


def _wait(api, job_id, role="service", timeout=180):
    deadline = time.time() + timeout
    while (job := api.client.get(f"/v1/jobs/{job_id}", headers=api.as_(role)).json())["status"] != "done":
        assert time.time() < deadline, job
        time.sleep(0.2)
    return api.client.get(f"/v1/jobs/{job_id}/results", headers=api.as_(role)).json()["results"]


@pytest.mark.parametrize("path", ["/v1/suggest", "/v1/encounters"])
def test_a_lone_surrogate_in_a_note_is_422(api, path):
    r = api.client.post(path, content=SURROGATE, headers={**api.as_("service"), **JSON})
    assert "fever" not in r.text and "surrogate" in _problem(r, 422, "E040")["detail"]  # named, never quoted


def test_a_lone_surrogate_in_a_json_job_is_422(api):
    body = b'{"notes": [{"id": "a", "text": "ok"}, {"id": "b", "text": "x \\udfff"}]}'
    _problem(api.client.post("/v1/jobs", content=body, headers={**api.as_("service"), **JSON}), 422, "E040")


def test_bad_jsonl_lines_in_a_job_fail_alone_with_their_ids(api):
    lines = b"\n".join([b'{"id": "s", "text": "fever \\ud800"}', b"[" * 100_000, b'{"id": "u", "text": "\xff\xfe"}',
                        json.dumps({"id": "ok", "text": "Known hypertension."}).encode()])
    r = api.client.post("/v1/jobs", content=lines, headers={**api.as_("service"), **NDJSON})
    assert r.status_code == 202, r.text
    results = _wait(api, r.json()["id"])
    assert [(x["id"], x["status"], (x["error"] or {}).get("code")) for x in results] == [
        ("s", "failed", "E003"), ("line 2", "failed", "E040"), ("u", "failed", "E003"), ("ok", "done", None)]


@pytest.mark.parametrize("top", ["²", "-1", "0", "201", "1e3", "٣"])
def test_a_jsonl_job_top_that_is_not_1_to_200_is_422(api, top):
    r = api.client.post(f"/v1/jobs?top={top}", content=b'{"id": "a", "text": "x"}',
                        headers={**api.as_("service"), **NDJSON})
    _problem(r, 422, "E040")


@pytest.mark.parametrize("resource", [{"resourceType": "Nope"}, {"resourceType": 5}, {"resourceType": "__class__"},
                                      {"resourceType": "Bundle"}])
def test_a_fhir_bundle_entry_of_an_unknown_type_is_422(api, resource):
    doc = {"resourceType": "DocumentReference", "status": "current", "content": [
        {"attachment": {"contentType": "text/plain", "data": base64.b64encode(b"Hypertension.").decode()}}]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}, {"resource": doc}]}
    r = api.client.post("/v1/suggest", json=bundle, headers={**api.as_("coder"), "Content-Type": "application/fhir+json"})
    _problem(r, 422, "E056")


@pytest.mark.parametrize("path", ["/v1/suggest", "/v1/encounters", "/v1/jobs", "/v1/validate"])
def test_deeply_nested_json_is_422_before_any_parser_recurses(api, path):
    r = api.client.post(path, content=b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                        headers={**api.as_("admin"), **JSON})
    _problem(r, 422, "E040")


def test_sixty_thousand_stray_keys_get_a_short_answer(api):
    body = {"text": "Hypertension."} | {f"k{i}": 0 for i in range(60_000)}
    r = api.client.post("/v1/suggest", json=body, headers=api.as_("coder"))
    _problem(r, (413, 422))
    assert len(r.content) < 2_000


def test_many_invalid_fields_list_only_the_first_few(api):
    body = {"text": "Hypertension.", **{f"k{i}": 0 for i in range(500)}}
    r = api.client.post("/v1/suggest", json=body, headers=api.as_("coder"))
    problem = _problem(r, 422, "E040")
    assert len(problem["errors"]) == 10 and "501 errors" in problem["detail"] and len(r.content) < 5_000


def test_oversized_headers_and_urls_are_refused(api):
    _problem(api.client.get("/healthz", headers={"X-Big": "a" * 100_000}), 431, "E061")
    _problem(api.client.get("/v1/codes/search?q=" + "a" * 20_000, headers=api.as_("coder")), 414, "E061")
    assert api.client.get("/healthz").status_code == 200


def test_a_body_that_is_not_json_is_a_400_problem(api):
    for raw in (b"{oops", b'{"text": "\xff"}', b""):
        _problem(api.client.post("/v1/suggest", content=raw, headers={**api.as_("coder"), **JSON}), (400, 422), "E040")


def test_405_names_every_method_the_path_serves(api):
    r = api.client.request("OPTIONS", "/v1/encounters", headers=api.as_("coder"))
    problem = _problem(r, 405, "E062")
    assert r.headers["allow"] == "GET, HEAD, POST" and "OPTIONS" in problem["detail"]
    r = api.client.put("/v1/suggest", json={}, headers=api.as_("coder"))
    assert _problem(r, 405, "E062") and r.headers["allow"] == "POST"


def test_401_says_how_to_authenticate(api):
    r = api.client.post("/v1/suggest", json={"text": "x"})
    _problem(r, 401, "E051")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_key_over_its_notes_in_flight_is_429_and_others_go_on(api):
    from contextlib import ExitStack

    services = api.client.app.state.services
    key = _key_id(api, "coder")
    with ExitStack() as held:  # the coder key's slots all taken, as by a burst still being coded
        for _ in range(services.in_flight.limit):
            held.enter_context(services.in_flight.hold(key))
        r = api.client.post("/v1/suggest", json={"text": "Hypertension."}, headers=api.as_("coder"))
        assert _problem(r, 429, "E053") and r.headers["retry-after"] == "1"
        assert api.client.post("/v1/suggest", json={"text": "Hypertension."},
                               headers=api.as_("service")).status_code == 200
    assert api.client.post("/v1/suggest", json={"text": "Hypertension."}, headers=api.as_("coder")).status_code == 200


def _key_id(api, role: str) -> int:
    from serving.security import authenticate

    with api.store.session() as session:
        return authenticate(session, api.as_(role)["Authorization"]).key_id


def test_after_the_whole_table_the_service_still_codes(api):
    r = api.client.post("/v1/suggest", json={"text": "Known hypertension."}, headers=api.as_("coder"))
    assert r.status_code == 200 and "I10" in {s["code"] for s in r.json()["suggestions"]}
