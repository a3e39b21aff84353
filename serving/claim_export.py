"""A submitted encounter's claim coding, and the claim in the format patient accounting asks for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import validation
from claims.fhir_claim import claim_resource
from claims.hl7_dft import dft_message
from claims.types import ClaimCoding, ClaimType, Format
from claims.x12_hi import hi_segments
from codesets.types import normalize_code
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from serving import review
from serving.store.models import Encounter
from validation.types import CodedDiagnosis, CodedProcedure
from validation.types import Encounter as CodedEncounter

MEDIA = {"fhir": "application/fhir+json", "hl7": "x-application/hl7-v2+er7", "x12": "application/edi-x12"}


def claim_coding_for(row: Encounter, settings: Settings, *, with_drg: bool = True) -> ClaimCoding:
    """The claim coding of an encounter's final codes: their claim sequence, principal and POA as the coder set them.

    `with_drg=False` skips grouping where only the codes matter.
    """
    final = review.final_codes(row)
    cm = [c for c in final if c.system == "ICD-10-CM"]
    # Final codes stored before they carried a principal: the first-listed diagnosis is the claim's principal.
    flagged = any(c.principal for c in cm)
    encounter = CodedEncounter(
        setting=row.setting or "outpatient", date_of_service=row.date_of_service,
        patient=review.meta_of(row).patient,
        diagnoses=[CodedDiagnosis(code=c.code, principal=c.principal if flagged else i == 0, poa=c.poa)
                   for i, c in enumerate(cm)],
        procedures=[CodedProcedure(code=c.code, date=row.date_of_service) for c in final if c.system == "ICD-10-PCS"])
    drg = validation.group(encounter) if with_drg and encounter.setting == "inpatient" and cm else None
    kind = settings.billing.claim_type
    claim_type: ClaimType = kind if kind != "auto" else (
        "institutional" if encounter.setting == "inpatient" else "professional")
    return ClaimCoding.of(encounter, encounter_id=row.id, claim_id=row.external_id or row.id, claim_type=claim_type,
                          descriptions={normalize_code(c.code): c.description for c in final}, drg=drg,
                          submitted_at=row.submitted_at)


def render(coding: ClaimCoding, fmt: Format, settings: Settings) -> str:
    """The claim as text: FHIR JSON, an HL7 ER7 message, or the X12 HI segments."""
    if fmt == "fhir":
        return json.dumps(claim_resource(coding, settings.billing), ensure_ascii=False)
    if fmt == "hl7":
        return dft_message(coding, settings.billing)
    return hi_segments(coding)


def claim_of(row: Encounter, fmt: Format, settings: Settings) -> str:
    """The claim of a submitted encounter; E055 (409) for one that is not submitted."""
    if row.status != "submitted":
        raise MedcodeError(ErrorCode.CONFLICT, detail=f"encounter {row.id} is {row.status}; only submitted "
                           "encounters have a claim")
    return render(claim_coding_for(row, settings), fmt, settings)


def claims_since(session: Session, since: datetime | None, fmt: Format, settings: Settings) -> Iterator[str]:
    """One JSON line per encounter submitted since `since`: `{encounter_id, claim_id, format, claim | error}`.

    An encounter whose claim cannot be built is reported on its line and the rest goes on.
    """
    query = select(Encounter).where(Encounter.status == "submitted").order_by(Encounter.submitted_at, Encounter.id)
    if since is not None:
        query = query.where(Encounter.submitted_at >= since)
    for row in session.scalars(query):
        line: dict[str, object] = {"encounter_id": row.id, "claim_id": row.external_id or row.id, "format": fmt}
        try:
            text = render(claim_coding_for(row, settings), fmt, settings)
            line["claim"] = json.loads(text) if fmt == "fhir" else text
        except MedcodeError as error:
            line["error"] = error.as_dict()
        yield json.dumps(line, ensure_ascii=False) + "\n"
