"""schemathesis hooks for medcode's contract run (`SCHEMATHESIS_HOOKS` points here; see schemathesis.toml).

`domain_format_refusal`: a schema-valid body refused with 422 must be an X12 835 or a FHIR resource refused as
such (E070; E056, or the note inside it empty or not text); any other schema-valid body refused with 422 fails the run.
"""

from __future__ import annotations

import json

import schemathesis

#: The problem codes a schema-valid body of these formats may be refused with, and why JSON Schema cannot rule
#: them out beforehand.
DOMAIN_CODES = {
    # FHIR's own rules on a resource's elements (E056), and the note inside the base64: empty, too large, not UTF-8
    "application/fhir+json": {"E056", "E001", "E002", "E003"},
    # an 835's envelope and loops are X12's grammar, not JSON Schema's
    "application/edi-x12": {"E070"},
    "text/plain": {"E070"},
}


@schemathesis.check
def domain_format_refusal(ctx, response, case):
    """Schema-valid data refused with 422 only where the body's format, not its schema, refuses it."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    try:
        code = json.loads(response.text or "{}").get("code")
    except (ValueError, AttributeError):
        code = None
    media = (case.media_type or "").split(";")[0].strip()
    if isinstance(case.body, dict) and "resourceType" in case.body:  # FhirInput is in the JSON body's schema too
        media = "application/fhir+json"
    expected = DOMAIN_CODES.get(media, set())
    if code not in expected:
        raise AssertionError(f"schema-valid {case.media_type} body to {case.method} {case.path} refused with "
                             f"422 {code}; only {', '.join(sorted(expected)) or 'nothing'} may refuse it")
