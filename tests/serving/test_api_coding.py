"""Issue 21 over HTTP: `coding` beside `suggestions` in suggest, encounters and jobs; the coder's principal,
sequence and POA decisions; exports (JSON, CSV, FHIR) with sequence, principal and POA; no duplicate decisions."""

from __future__ import annotations

import csv
import io
import time

from fhir.resources.R4B.bundle import Bundle

NOTE = ("Discharge summary. Admitted with acute on chronic systolic heart failure. "
        "History of essential hypertension and type 2 diabetes mellitus. Fever on admission. "
        "Denies chest pain. Chest X-ray performed.")
INPATIENT = {"id": "ENC-CODING-1", "setting": "inpatient", "date_of_service": "2026-03-02",
             "patient": {"age": 71, "sex": "female"}}
EXT = "https://medcode.dev/fhir/StructureDefinition/"


def _ext(resource: dict, name: str):
    return next((e.get("valueInteger", e.get("valueBoolean", e.get("valueCode")))
                 for e in resource.get("extension", []) if e["url"] == EXT + name), None)


def test_suggest_returns_the_coding_beside_the_suggestions(api):
    r = api.client.post("/v1/suggest", json={"text": NOTE, "top": 5, "encounter": INPATIENT}, headers=api.as_("coder"))
    assert r.status_code == 200, r.text
    body = r.json()
    coding = body["coding"]
    assert len(body["suggestions"]) <= 5 and coding["context"]["setting"] == "inpatient"
    assert coding["diagnoses"], coding
    assert [d["sequence"] for d in coding["diagnoses"]] == list(range(1, len(coding["diagnoses"]) + 1))
    assert [d["principal"] for d in coding["diagnoses"]].count(True) == 1 and coding["diagnoses"][0]["principal"]
    for dropped in coding["dropped"]:
        assert dropped["rule"] and dropped["section"] and dropped["message"]
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert "coding" in schema["SuggestResponse"]["required"] and "Coding" in schema
    assert {"working", "coding"} <= set(schema["EncounterPublic"]["properties"])


def test_suggest_fhir_marks_principal_and_sequence(api):
    r = api.client.post("/v1/suggest", json={"text": NOTE, "encounter": INPATIENT},
                        headers={**api.as_("coder"), "Accept": "application/fhir+json"})
    assert r.status_code == 200, r.text
    Bundle.model_validate(r.json())
    resources = [e["resource"] for e in r.json()["entry"]]
    marked = [(_ext(x, "sequence"), _ext(x, "principal")) for x in resources if _ext(x, "sequence") is not None]
    assert marked and marked[0] == (1, True)
    conditions = [m for m, x in zip(marked, resources, strict=False) if x["resourceType"] == "Condition"]
    assert [seq for seq, _ in conditions] == list(range(1, len(conditions) + 1))


def _create(api, encounter: dict) -> dict:
    r = api.client.post("/v1/encounters", json={"text": NOTE, "encounter": encounter, "negated": "flag"},
                        headers=api.as_("service"))
    assert r.status_code == 201, r.text
    return r.json()


def test_encounter_opens_on_the_proposed_coding_and_the_coder_arranges_it(api):
    enc = _create(api, INPATIENT)
    assert enc["coding"]["diagnoses"] and enc["working"]["diagnoses"]
    proposed = [d["code"] for d in enc["coding"]["diagnoses"]]
    assert [d["code"] for d in enc["working"]["diagnoses"]] == proposed
    assert {d["status"] for d in enc["working"]["diagnoses"]} == {"proposed"} and enc["final_codes"] == []
    in_coding = {d["code"] for d in enc["working"]["diagnoses"]} | {p["code"] for p in enc["working"]["procedures"]}
    assert all(set(f["codes"]) <= in_coding for f in enc["findings"]), enc["findings"]

    eid, h = enc["id"], api.as_("coder")
    post = lambda body: api.client.post(f"/v1/encounters/{eid}/decisions", json={"coder": "jo", **body},  # noqa: E731
                                        headers=h)
    dx = "ICD-10-CM"
    if len(proposed) < 2:  # the small test index may propose one diagnosis: add a second to arrange
        assert post({"action": "add", "code": "E11.9", "system": dx}).status_code == 201
        proposed.append("E11.9")
    last = proposed[-1]
    r = post({"action": "principal", "code": last, "system": dx})
    assert r.status_code == 201, r.text
    working = r.json()["working"]["diagnoses"]
    assert working[0]["code"] == last and working[0]["principal"] and working[0]["status"] == "confirmed"
    assert post({"action": "sequence", "code": last, "system": dx, "position": 2}).status_code == 201
    assert post({"action": "poa", "code": last, "system": dx, "poa": "N"}).status_code == 201
    again = post({"action": "poa", "code": last, "system": dx, "poa": "N"})
    assert again.status_code == 200  # changes nothing: not stored
    assert post({"action": "accept", "code": working[1]["code"], "system": dx}).status_code == 201
    twice = post({"action": "accept", "code": working[1]["code"], "system": dx})
    assert twice.status_code == 200
    enc = twice.json()
    assert [d["action"] for d in enc["decisions"]][-4:] == ["principal", "sequence", "poa", "accept"]
    final = [(c["code"], c["sequence"], c["principal"], c["poa"]) for c in enc["final_codes"] if c["system"] == dx]
    assert final[0][:3] == (working[1]["code"], 1, True) and final[1] == (last, 2, False, "N")

    exported = api.client.get(f"/v1/encounters/{eid}/codes", headers=h).json()["codes"]
    assert [(c["code"], c["sequence"], c["principal"], c["poa"]) for c in exported if c["system"] == dx] == final
    rows = list(csv.DictReader(io.StringIO(api.client.get(f"/v1/encounters/{eid}/codes", params={"format": "csv"},
                                                          headers=h).text)))
    assert [(r["code"], r["sequence"], r["principal"], r["poa"]) for r in rows if r["system"] == dx][1] == (
        last, "2", "false", "N")
    fhir = api.client.get(f"/v1/encounters/{eid}/codes", params={"format": "fhir"}, headers=h).json()
    Bundle.model_validate(fhir)
    marks = {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in fhir["entry"]}
    assert _ext(marks[last], "sequence") == 2 and _ext(marks[last], "principal") is False
    assert _ext(marks[last], "poa") == "N" and _ext(marks[final[0][0]], "principal") is True


def test_job_results_carry_the_coding(api):
    r = api.client.post("/v1/jobs", json={"notes": [{"id": "a", "text": NOTE}], "top": 5,
                                          "encounter": {"setting": "outpatient"}}, headers=api.as_("service"))
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    deadline = time.monotonic() + 120
    while api.client.get(f"/v1/jobs/{job}", headers=api.as_("service")).json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    result = api.client.get(f"/v1/jobs/{job}/results", headers=api.as_("service")).json()["results"][0]
    assert result["status"] == "done" and len(result["suggestions"]) <= 5
    assert result["coding"]["context"]["setting"] == "outpatient"
    assert all(p["system"] != "ICD-10-PCS" for p in result["coding"]["procedures"])  # outpatient: no PCS
