"""`/v1/codes`: type-ahead search and one code's details."""

from __future__ import annotations

import pytest


def test_search_by_words_and_prefix(api):
    r = api.client.get("/v1/codes/search", params={"q": "essential hypert", "limit": 5}, headers=api.as_("coder"))
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["code"] == "I10"
    r = api.client.get("/v1/codes/search", params={"q": "i50.2", "system": "ICD-10-CM"}, headers=api.as_("coder"))
    codes = [h["code"] for h in r.json()["items"]]
    assert codes[0] == "I50.2" and "I50.23" in codes


def test_search_within_a_system(api):
    r = api.client.get("/v1/codes/search", params={"q": "resection", "system": "ICD-10-PCS", "limit": 10},
                       headers=api.as_("service"))
    items = r.json()["items"]
    assert items and {h["system"] for h in items} == {"ICD-10-PCS"}


def test_search_bad_parameters(api):
    h = api.as_("coder")
    assert api.client.get("/v1/codes/search", params={"q": ""}, headers=h).json()["code"] == "E040"
    r = api.client.get("/v1/codes/search", params={"q": "x", "system": "ICD-9"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "E040"
    assert api.client.get("/v1/codes/search", params={"q": "x", "limit": 0}, headers=h).status_code == 422


def test_code_details(api):
    r = api.client.get("/v1/codes/ICD-10-CM/i5023", headers=api.as_("coder"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == "I50.23" and body["billable"] is True
    assert [p["code"] for p in body["parents"]] == ["I50", "I50.2"]
    header = api.client.get("/v1/codes/ICD-10-CM/I50.2", headers=api.as_("coder")).json()
    assert header["billable"] is False and "I50.23" in [c["code"] for c in header["children"]]
    assert api.client.get("/v1/codes/ICD-10-CM/E11.9", headers=api.as_("coder")).json()["excludes1"] is not None


def test_unknown_code_and_wrong_system(api):
    r = api.client.get("/v1/codes/ICD-10-CM/Q99.999", headers=api.as_("coder"))
    assert r.status_code == 404 and r.json()["code"] == "E011"
    r = api.client.get("/v1/codes/ICD-9-CM/401.9", headers=api.as_("coder"))
    assert r.status_code == 422 and r.json()["code"] == "E010"
    r = api.client.get("/v1/codes/ICD-10-PCS/I10", headers=api.as_("coder"))  # a CM code asked of PCS
    assert r.status_code == 404 and r.json()["code"] == "E011"


@pytest.mark.parametrize(("query", "expected"), [
    ("chf", "I50."), ("gerd", "K21.9"), ("afib", "I48."), ("uti", "N39.0"), ("esophageal cancer", "C15.9"),
    ("AFib", "I48."),
])
def test_search_reads_abbreviations_and_coders_words(api, query, expected):
    """Issue 21: type-ahead found nothing for these; abbreviations and synonyms are searched as their long forms."""
    r = api.client.get("/v1/codes/search", params={"q": query, "system": "ICD-10-CM", "limit": 5},
                       headers=api.as_("coder"))
    codes = [h["code"] for h in r.json()["items"]]
    assert codes and codes[0][:2] == expected[:2], codes  # "afib" is not afibrinogenemia, "uti" not utilities
    assert any(c.startswith(expected) for c in codes), codes
