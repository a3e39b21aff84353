"""`POST /v1/validate` and the validation findings carried by suggest and encounters."""

from __future__ import annotations


def test_validate_groups_an_inpatient_encounter(api):
    r = api.client.post("/v1/validate", headers=api.as_("coder"), json={
        "setting": "inpatient", "date_of_service": "2026-03-02", "patient": {"age": 67, "sex": "male"},
        "diagnoses": [{"code": "I21.4", "principal": True}, {"code": "I10"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["drg"] is not None and body["drg"]["drg"] != 999
    assert isinstance(body["findings"], list)


def test_validate_reports_rule_breaks_and_bad_bodies(api):
    r = api.client.post("/v1/validate", headers=api.as_("coder"), json={
        "setting": "outpatient", "date_of_service": "2026-03-02", "patient": {"age": 30, "sex": "male"},
        "diagnoses": [{"code": "C50.911", "principal": True}, {"code": "O80"}]})  # a pregnancy code in a man
    assert r.status_code == 200
    assert any(f["severity"] in ("error", "warning") for f in r.json()["findings"])
    r = api.client.post("/v1/validate", headers=api.as_("coder"), json={"setting": "ward"})
    assert r.status_code == 422 and r.json()["code"] == "E040"


def test_inpatient_suggest_carries_findings_and_drg_fields(api):
    r = api.client.post("/v1/encounters", headers=api.as_("coder"), json={
        "text": "Acute NSTEMI. History of hypertension.", "top": 5,
        "encounter": {"setting": "inpatient", "date_of_service": "2026-03-02", "patient": {"age": 70, "sex": "male"}}})
    assert r.status_code == 201, r.text
    enc = r.json()
    first = next(s for s in enc["suggestions"] if s["system"] == "ICD-10-CM")
    r = api.client.post(f"/v1/encounters/{enc['id']}/decisions", headers=api.as_("coder"), json={
        "action": "accept", "code": first["code"], "system": "ICD-10-CM", "coder": "jdoe"})
    body = r.json()
    assert body["drg"] is not None and body["drg"]["grouper_version"]
    assert isinstance(body["drg_impact"], list) and isinstance(body["findings"], list)
