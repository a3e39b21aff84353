"""Claims out and remittances back through the API: exports, the 835 import, the denied worklist, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.claim import Claim
from sqlalchemy import func, select

from claims.hl7_dft import read_diagnoses, validate_message
from claims.x12_hi import read_hi
from serving.store.models import Adjustment, Denial, Remittance

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "remittance.835"
NOTE = "Acute on chronic systolic heart failure. Type 2 diabetes. Coronary angioplasty performed."
#: External id -> (setting, [(system, code, poa)]): ENC-A..D are the claims of the fixture 835.
ENCOUNTERS = {
    "ENC-A": ("inpatient", [("ICD-10-CM", "I50.23", "Y"), ("ICD-10-CM", "E11.9", "1"), ("ICD-10-PCS", "02703ZZ", None)]),
    "ENC-B": ("outpatient", [("ICD-10-CM", "I10", None), ("ICD-10-CM", "E11.9", None)]),
    "ENC-C": ("inpatient", [("ICD-10-CM", "I50.23", "N")]),
    "ENC-D": ("outpatient", [("ICD-10-CM", "R07.9", None)]),
}


@pytest.fixture(scope="module")
def submitted(api) -> dict[str, str]:
    """The four encounters, coded by hand and submitted: external id -> medcode id."""
    ids = {}
    for external, (setting, codes) in ENCOUNTERS.items():
        r = api.client.post("/v1/encounters", headers=api.as_("service"), json={
            "text": NOTE, "top": 5, "encounter": {"id": external, "setting": setting, "date_of_service": "2026-05-01",
                                                  "patient": {"age": 70, "sex": "female"}}})
        assert r.status_code == 201, r.text
        eid = r.json()["id"]
        for system, code, poa in codes:
            r = api.client.post(f"/v1/encounters/{eid}/decisions", headers=api.as_("coder"), json={
                "action": "add", "system": system, "code": code, "coder": "ann"})
            assert r.status_code == 201, r.text
            if poa:
                r = api.client.post(f"/v1/encounters/{eid}/decisions", headers=api.as_("coder"), json={
                    "action": "poa", "system": system, "code": code, "coder": "ann", "poa": poa})
                assert r.status_code in (200, 201), r.text  # 200: the coding had that POA already
        assert api.client.post(f"/v1/encounters/{eid}/submit", headers=api.as_("coder")).status_code == 200
        ids[external] = eid
    return ids


def test_claim_exports_validate_in_each_format(api, submitted):
    h, a = api.as_("coder"), submitted["ENC-A"]
    r = api.client.get(f"/v1/encounters/{a}/claim", params={"format": "fhir"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    claim = Claim.model_validate(r.json())
    assert claim.type.coding[0].code == "institutional"
    assert [(d.diagnosisCodeableConcept.coding[0].code, d.type[0].coding[0].code) for d in claim.diagnosis] == [
        ("I50.23", "principal"), ("E11.9", "secondary")]
    assert claim.diagnosis[0].onAdmission.coding[0].code == "y" and claim.diagnosis[1].onAdmission is None
    assert claim.diagnosis[0].packageCode.coding[0].code.isdigit()  # the MS-DRG of the final codes
    assert claim.procedure[0].procedureCodeableConcept.coding[0].code == "02703ZZ"
    hl7 = api.client.get(f"/v1/encounters/{a}/claim", params={"format": "hl7"}, headers=h).text
    validate_message(hl7)
    assert read_diagnoses(hl7) == [("I50.23", "F", "1", "Y"), ("E11.9", "F", "2", "E")]
    x12 = api.client.get(f"/v1/encounters/{a}/claim", params={"format": "x12"}, headers=h).text
    assert read_hi(x12)[:2] == [("ABK", "I5023", None, "Y"), ("ABF", "E119", None, None)]
    b = api.client.get(f"/v1/encounters/{submitted['ENC-B']}/claim", params={"format": "fhir"}, headers=h).json()
    assert b["type"]["coding"][0]["code"] == "professional"


def test_claim_of_an_unsubmitted_or_unknown_encounter_is_refused(api, submitted):
    h = api.as_("service")
    r = api.client.post("/v1/encounters", headers=h, json={"text": NOTE, "top": 3})
    r = api.client.get(f"/v1/encounters/{r.json()['id']}/claim", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "E055"
    assert api.client.get("/v1/encounters/nope/claim", headers=h).status_code == 404
    assert api.client.get(f"/v1/encounters/{submitted['ENC-A']}/claim", params={"format": "pdf"},
                          headers=h).status_code == 422


def test_batch_export_of_everything_submitted_since(api, submitted):
    r = api.client.get("/v1/claims", params={"format": "x12", "since": "2000-01-01T00:00:00Z"},
                       headers=api.as_("coder"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert {x["claim_id"] for x in lines} >= set(ENCOUNTERS)
    assert all(x["claim"].startswith("HI*ABK:") for x in lines if x["claim_id"] in ENCOUNTERS)
    later = api.client.get("/v1/claims", params={"since": "2999-01-01T00:00:00Z"}, headers=api.as_("coder"))
    assert later.text == ""


def _count(api, model) -> int:
    with api.store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_malformed_835_imports_nothing(api, submitted):
    text = FIXTURE.read_text()
    # The second transaction set is broken: the first, good one must not be stored either.
    second = text.split("ST*835*0001~\n", 1)[1].split("GE*1*123~")[0].replace("CAS*CO*16*12500", "CAS*CO**12500")
    two = text.replace("GE*1*123~", "ST*835*0002~\n" + second.replace("SE*46*0001", "SE*46*0002")
                       + "GE*2*123~")
    before = (_count(api, Remittance), _count(api, Adjustment), _count(api, Denial))
    for body in (two, text.replace("CLP*ENC-B*1*1800", "CLP*ENC-B*1*lots"), "ISA*garbage", ""):
        r = api.client.post("/v1/remittances", content=body, headers={**api.as_("service"),
                                                                       "Content-Type": "application/edi-x12"})
        assert r.status_code == 422 and r.json()["code"] == "E070", r.text
        assert "DOE" not in r.text
    assert (_count(api, Remittance), _count(api, Adjustment), _count(api, Denial)) == before
    statuses = {api.client.get(f"/v1/encounters/{e}", headers=api.as_("coder")).json()["status"]
                for e in submitted.values()}
    assert statuses == {"submitted"}


def test_835_import_reopens_coding_denials_into_the_denied_worklist(api, submitted):
    assert api.client.post("/v1/remittances", content=FIXTURE.read_bytes(),
                           headers=api.as_("coder")).status_code == 403
    r = api.client.post("/v1/remittances", content=FIXTURE.read_bytes(), headers=api.as_("service"))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["claims"] == 5 and result["matched"] == 4 and result["unmatched"] == ["UNKNOWN-9"]
    assert result["adjustments"] == 10 and result["coding_denials"] == 4
    assert sorted(result["denied"]) == sorted(submitted[e] for e in ("ENC-A", "ENC-C", "ENC-D"))
    again = api.client.post("/v1/remittances", content=FIXTURE.read_bytes(), headers=api.as_("service"))
    assert again.status_code == 409 and again.json()["code"] == "E055"
    h = api.as_("coder")
    denied = api.client.get("/v1/encounters", params={"status": "denied"}, headers=h).json()
    assert {e["external_id"] for e in denied["items"]} == {"ENC-A", "ENC-C", "ENC-D"}
    b = api.client.get(f"/v1/encounters/{submitted['ENC-B']}", headers=h).json()
    assert b["status"] == "submitted"  # contractual and patient-responsibility adjustments leave it alone
    worklist = api.client.get("/v1/denials", headers=h).json()
    by_claim = {(d["external_id"], d["carc"]): d for d in worklist}
    assert set(by_claim) == {("ENC-A", "16"), ("ENC-C", "167"), ("ENC-D", "16"), ("ENC-D", "236")}
    a = by_claim[("ENC-A", "16")]
    assert a["rarcs"] == ["MA63"] and a["concerns"] == "principal" and a["codes"] == ["I50.23"]
    assert "principal diagnosis" in a["reason"] and a["payer"] == "ACME HEALTH PLAN" and a["status"] == "open"
    assert by_claim[("ENC-C", "167")]["codes"] == ["I50.23"]
    assert by_claim[("ENC-D", "236")]["codes"] == ["93000"]  # the service line's code: nothing coded matches


def test_corrections_after_a_denial_are_tagged_and_resubmission_resolves_it(api, submitted):
    a, h = submitted["ENC-A"], api.as_("coder")
    denial = api.client.get("/v1/denials", params={"encounter_id": a}, headers=h).json()[0]
    r = api.client.post(f"/v1/encounters/{a}/decisions", headers=h, json={
        "action": "modify", "system": "ICD-10-CM", "code": "I50.43", "replaces": "I50.23", "coder": "ann",
        "reason": "payer: principal diagnosis"})
    assert r.status_code == 201, r.text
    enc = r.json()
    assert enc["decisions"][-1]["denial_id"] == denial["id"]
    assert {c["code"] for c in enc["final_codes"]} == {"I50.43", "E11.9", "02703ZZ"}
    lines = [json.loads(x) for x in api.client.get("/v1/exports/decisions", headers=api.as_("admin")).text.splitlines()]
    tagged = [x for x in lines if x["encounter_id"] == a and x["denial"]]
    assert [(x["code"], x["denial"]["carc"], x["denial"]["rarcs"]) for x in tagged] == [("I50.43", "16", ["MA63"])]
    assert api.client.post(f"/v1/encounters/{a}/submit", headers=h).json()["status"] == "submitted"
    assert api.client.get("/v1/denials", params={"encounter_id": a}, headers=h).json() == []
    resolved = api.client.get("/v1/denials", params={"encounter_id": a, "status": "resolved"}, headers=h).json()
    assert resolved[0]["resolved_at"] is not None
    claim = api.client.get(f"/v1/encounters/{a}/claim", params={"format": "x12"}, headers=h).text
    assert claim.startswith("HI*ABK:I5043:::::::Y~")


def test_coding_metrics(api, submitted):
    assert api.client.get("/v1/metrics/coding", headers=api.as_("service")).status_code == 403
    m = api.client.get("/v1/metrics/coding", headers=api.as_("coder")).json()
    assert m["remitted_claims"] == 5
    rates = {d["carc"]: d for d in m["denials"]}
    assert rates["16"]["claims"] == 2 and rates["16"]["rate"] == 0.4 and rates["16"]["coding"] is True
    assert rates["45"]["coding"] is False and rates["146"]["claims"] == 1
    assert m["open_denials"] == 3
    added = {(x["system"], x["code"]): x["times"] for x in m["added_not_suggested"]}
    assert added.get(("ICD-10-CM", "I50.43")) == 1
    assert m["open_to_submit"]["encounters"] >= 2 and m["open_to_submit"]["median_hours"] >= 0
    assert all(0 <= x["rate"] <= 1 for x in m["by_code"] + m["by_coder"])
    later = api.client.get("/v1/metrics/coding", params={"since": "2999-01-01T00:00:00Z"},
                           headers=api.as_("coder")).json()
    assert later["remitted_claims"] == 0 and later["open_to_submit"]["encounters"] == 0
