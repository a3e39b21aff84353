"""Keys, roles, rate limits, body limits, problem bodies, CORS, health, metrics, and no PHI in logs."""

from __future__ import annotations

import logging

import pytest

from serving.security import RateLimiter, revoke_key

SECRET_NOTE = "Patient Zebediah Quux has hypertension."


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer "}])
def test_missing_or_bad_key_is_401(api, headers):
    r = api.client.post("/v1/suggest", json={"text": "Fever."}, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "E051"
    assert r.headers["content-type"].startswith("application/problem+json")


def test_revoked_key_is_refused(api):
    from serving.security import create_key

    with api.store.session() as session:
        _, key = create_key(session, name="temp-key", role="coder")
    h = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/encounters", headers=h).status_code == 200
    with api.store.session() as session:
        revoke_key(session, "temp-key")
    assert api.client.get("/v1/encounters", headers=h).status_code == 401


def test_rate_limit_is_429_with_retry_after(api):
    services = api.client.app.state.services
    saved = services.limiter
    services.limiter = RateLimiter(per_minute=6, burst=2)
    try:
        codes = [api.client.get("/v1/encounters", headers=api.as_("coder")).status_code for _ in range(3)]
        r = api.client.get("/v1/encounters", headers=api.as_("coder"))
        other = api.client.get("/v1/encounters", headers=api.as_("admin"))
    finally:
        services.limiter = saved
    assert codes[:2] == [200, 200] and r.status_code == 429
    assert r.json()["code"] == "E053" and int(r.headers["Retry-After"]) >= 1
    assert other.status_code == 200  # per key


def test_unknown_route_and_method_are_problems(api):
    r = api.client.get("/v1/nothing-here", headers=api.as_("coder"))
    assert r.status_code == 404 and r.json()["code"] == "E050"
    r = api.client.delete("/v1/suggest", headers=api.as_("coder"))
    assert r.status_code == 405 and r.json()["status"] == 405


def test_cors_is_closed_by_default(api):
    r = api.client.options("/v1/suggest", headers={"Origin": "https://evil.example",
                                                   "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_health_ready_metrics(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json()["status"] == "ready"
    api.client.post("/v1/suggest", json={"text": "Fever."}, headers=api.as_("coder"))
    text = api.client.get("/metrics").text
    assert 'medcode_http_requests_total{method="POST",route="/v1/suggest",status="200"}' in text
    assert "medcode_http_request_seconds_bucket" in text and "medcode_suggestions_per_note_count" in text
    assert "medcode_acceptance_rate" in text


def test_note_text_never_reaches_the_logs(api, caplog):
    with caplog.at_level(logging.DEBUG):
        api.client.post("/v1/suggest", json={"text": SECRET_NOTE}, headers=api.as_("coder"))
        api.client.post("/v1/suggest", json={"text": SECRET_NOTE, "top": -1}, headers=api.as_("coder"))
        api.client.post("/v1/encounters", json={"text": SECRET_NOTE}, headers=api.as_("coder"))
    assert "Zebediah" not in caplog.text


def test_openapi_has_examples(api):
    doc = api.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for name in ("SuggestRequest", "DecisionCreate", "JobCreate", "Suggestion", "Problem"):
        assert name in schemas
    assert schemas["SuggestRequest"].get("examples")
