"""Billing on the review page, in headless Chromium against a real server: a payer's 835 denies a submitted
encounter's principal diagnosis; the denied worklist shows the reason beside the code, the coder corrects it
and resubmits, and the coding metrics count the denial."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.ui.conftest import medcode

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "remittance.835"


def test_denied_worklist_correction_and_metrics(page, server, shot, tmp_path):
    body = server.create_encounter("inpatient", "UI-DENY-1")
    eid = body["id"]
    with server.client() as client:
        for code, poa in (("I50.23", "Y"), ("I10", "Y")):
            r = client.post(f"/v1/encounters/{eid}/decisions", json={
                "action": "add", "system": "ICD-10-CM", "code": code, "coder": "Jo Coder"})
            assert r.status_code == 201, r.text
            r = client.post(f"/v1/encounters/{eid}/decisions", json={
                "action": "poa", "system": "ICD-10-CM", "code": code, "coder": "Jo Coder", "poa": poa})
            assert r.status_code in (200, 201), r.text  # 200: the coding had that POA already
        assert client.post(f"/v1/encounters/{eid}/submit").status_code == 200
    # The fixture's first claim (CARC 16 with MA63: invalid principal diagnosis) becomes this encounter's.
    remit = tmp_path / "payer.835"
    remit.write_text(FIXTURE.read_text().replace("CLP*ENC-A*", "CLP*UI-DENY-1*"))
    medcode(server.env, "remit", "import", str(remit))

    server.sign_in(page)
    page.get_by_role("link", name="Denied").click()
    expect(page.get_by_role("heading", name="Denied by payers")).to_be_visible()
    row = page.locator("#denied-rows tr", has_text="UI-DENY-1")
    expect(row).to_have_count(1)
    expect(row.locator("td.reason")).to_contain_text("CARC 16, RARC MA63")
    expect(row.locator("td.reason")).to_contain_text("principal diagnosis")
    expect(row.locator("td.codes")).to_have_text("I50.23")
    expect(row).to_contain_text("ACME HEALTH PLAN")
    shot(page, "billing-01-denied-worklist")

    row.get_by_role("link", name="UI-DENY-1").click()
    expect(page.locator("#encounter-h")).to_have_text("Encounter UI-DENY-1")
    expect(page.locator("#enc-status")).to_have_text("denied")
    denial = page.locator("#enc-denials")
    expect(denial).to_be_visible()
    expect(denial).to_contain_text("I50.23")
    expect(denial).to_contain_text("MA63")
    shot(page, "billing-02-denied-encounter")

    # The coder corrects the principal by adding the documented code and removing the denied one.
    page.get_by_label("Search codes").fill("I50.43")
    option = page.get_by_role("option", name=re.compile(r"^I50\.43\b"))
    option.click()
    final = page.locator("#final-list")
    expect(final).to_contain_text("I50.43")
    page.get_by_role("button", name="Submit codes").click()
    page.get_by_role("dialog", name="Submit these codes?").get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    with server.client() as client:
        stored = client.get(f"/v1/encounters/{eid}").json()
        assert stored["status"] == "submitted"
        tagged = [d for d in stored["decisions"] if d["denial_id"]]
        assert [d["code"] for d in tagged] == ["I50.43"]
        assert client.get("/v1/denials", params={"encounter_id": eid}).json() == []

    page.goto(f"{server.url}/ui/#/denied")
    expect(page.locator("#denied-rows tr", has_text="UI-DENY-1")).to_have_count(0)
    page.get_by_role("link", name="Coding metrics").click()
    expect(page.get_by_role("heading", name="Denial rate by reason")).to_be_visible()
    carc16 = page.locator("#m-denials tbody tr").filter(has=page.locator("td:first-child", has_text=re.compile(r"^16$")))
    expect(carc16).to_contain_text("yes")
    expect(page.locator("#m-added")).to_contain_text("I50.43")
    shot(page, "billing-03-metrics")
