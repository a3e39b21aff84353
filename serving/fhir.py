"""FHIR in and out: a `DocumentReference` (or a `Bundle` holding one) in, a `Bundle` of `Condition` and
`Procedure` resources out.

fhir.resources 8.x ships R5 by default and R4B (R4's technical correction, same resources and wire
format for what we use) as `fhir.resources.R4B`; there is no separate R4 module, so R4B is what
validates what we accept and what we emit.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError

from coding.types import Coding
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import Suggestion
from nlp.note import decode_note
from serving.schemas import EncounterMeta
from validation.types import Patient

FHIR_JSON = "application/fhir+json"
EXT = "https://medcode.dev/fhir/StructureDefinition/"
SYSTEM_URI = {
    "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD-10-PCS": "http://www.cms.gov/Medicare/Coding/ICD10",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
}


def _bad(error: ValidationError | str) -> MedcodeError:
    if isinstance(error, str):
        return MedcodeError(ErrorCode.BAD_FHIR, detail=error)
    # Locations and messages only: pydantic's own text quotes the input, which may be the note.
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "resource"
    return MedcodeError(ErrorCode.BAD_FHIR, detail=f"{where}: {first['msg']}")


def read_document(payload: dict[str, Any]) -> tuple[str, EncounterMeta, dict[str, Any] | None]:
    """The note text, the encounter it belongs to, and the patient reference, from a FHIR resource."""
    kind = payload.get("resourceType")
    patient: FhirPatient | None = None
    try:
        if kind == "Bundle":
            _check_entries(payload)
            bundle = Bundle.model_validate(payload)
            resources = [e.resource for e in bundle.entry or () if e.resource is not None]
            docs = [r for r in resources if isinstance(r, DocumentReference)]
            patient = next((r for r in resources if isinstance(r, FhirPatient)), None)
            if not docs:
                raise _bad("the Bundle holds no DocumentReference")
            doc = docs[0]
        elif kind == "DocumentReference":
            doc = DocumentReference.model_validate(payload)
        else:
            raise _bad("expected a DocumentReference or a Bundle")
        meta = _meta(doc, patient)
    except ValidationError as error:
        raise _bad(error) from None
    except (KeyError, TypeError, ValueError, AttributeError):
        # fhir.resources' factories on input they have no class for, and its validators on values of a type they
        # do not expect (a boolean `url`: AttributeError in fhir_core)
        raise _bad(f"the {kind} does not parse as FHIR R4") from None
    return _attachment_text(doc), meta, _subject(doc)


def _check_entries(payload: dict[str, Any]) -> None:
    """E056 for a Bundle entry of a resourceType fhir.resources has no class for: its factory raises
    KeyError or TypeError there, not a ValidationError."""
    from fhir.resources.R4B import get_fhir_model_class

    entries = payload.get("entry")
    for n, entry in enumerate(entries if isinstance(entries, list) else ()):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        try:
            if not isinstance(kind, str) or not kind.isidentifier():
                raise ValueError(kind)
            get_fhir_model_class(kind)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise _bad(f"entry.{n}.resource: unknown resourceType") from None


def _attachment_text(doc: DocumentReference) -> str:
    for content in doc.content or ():
        attachment = content.attachment
        if attachment is None or attachment.data is None:
            continue
        kind = (attachment.contentType or "text/plain").split(";")[0].strip().lower()
        if kind != "text/plain":
            continue
        raw = attachment.data
        if isinstance(raw, str):
            try:
                raw = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise _bad("the attachment's data is not base64") from None
        return decode_note(raw)
    raise _bad("no text/plain attachment with inline base64 data")


def _meta(doc: DocumentReference, patient: FhirPatient | None) -> EncounterMeta:
    context = doc.context
    encounter_id = None
    service: date | None = None
    if context is not None:
        if context.encounter:
            encounter_id = context.encounter[0].reference
        if context.period is not None and context.period.start is not None:
            start = context.period.start  # FHIR dateTime: a date, or a datetime with its zone
            service = start.date() if isinstance(start, datetime) else start
    sex = "unknown"
    age = None
    if patient is not None:
        sex = patient.gender if patient.gender in ("male", "female") else "unknown"
        if patient.birthDate is not None:
            on = service or date.today()
            born = patient.birthDate
            age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
            age = age if 0 <= age <= 130 else None
    return EncounterMeta(id=encounter_id, date_of_service=service, patient=Patient(age=age, sex=sex))


def _subject(doc: DocumentReference) -> dict[str, Any] | None:
    if doc.subject is None:
        return None
    return doc.subject.model_dump(exclude_none=True, mode="json")


def _evidence(s: Suggestion) -> list[dict[str, Any]]:
    return [{"url": EXT + "evidence", "extension": [
        {"url": "start", "valueInteger": e.start}, {"url": "end", "valueInteger": e.end},
        {"url": "text", "valueString": e.text}, {"url": "assertion", "valueCode": e.assertion},
        *([{"url": "section", "valueString": e.section}] if e.section else []),
    ]} for e in s.evidence]


#: A code to emit: (system, code, description, the suggestion behind it if there was one).
Coded = tuple[str, str, str, Suggestion | None]


@dataclass(frozen=True)
class Place:
    """A code's place on the claim: its sequence in its list, whether it is the principal, its POA."""

    sequence: int
    principal: bool
    poa: str | None = None


def _place(place: Place) -> list[dict[str, Any]]:
    return [{"url": EXT + "sequence", "valueInteger": place.sequence},
            {"url": EXT + "principal", "valueBoolean": place.principal},
            *([{"url": EXT + "poa", "valueCode": place.poa}] if place.poa else [])]


def _resource(item: Coded, *, subject: dict[str, Any], final: bool, encounter: str | None,
              place: Place | None = None) -> dict[str, Any]:
    system, code, description, s = item
    coding = {"system": SYSTEM_URI[system], "code": code, "display": description or None}
    resource: dict[str, Any] = {"id": uuid.uuid4().hex, "subject": subject,
                                "code": {"coding": [{k: v for k, v in coding.items() if v}]}}
    if s is not None:
        resource["extension"] = [{"url": EXT + "score", "valueDecimal": s.score},
                                 {"url": EXT + "rank", "valueInteger": s.rank},
                                 {"url": EXT + "why", "valueString": s.why}, *_evidence(s)]
    if place is not None:
        resource["extension"] = [*_place(place), *resource.get("extension", [])]
    if encounter:
        resource["encounter"] = {"reference": encounter}
    if system == "ICD-10-CM":
        status = "confirmed" if final else "provisional"
        resource |= {"resourceType": "Condition", "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": status}]}}
    else:
        resource |= {"resourceType": "Procedure", "status": "completed" if final else "unknown"}
    return resource


def bundle(items: list[Coded], *, subject: dict[str, Any] | None = None, final: bool = False,
           encounter: str | None = None, places: dict[tuple[str, str], Place] | None = None) -> dict[str, Any]:
    """A collection Bundle of Condition / Procedure resources, validated against R4(B) before it leaves.

    `places` marks the codes of a claim coding with their sequence, principal flag and POA (extensions
    `sequence`, `principal`, `poa`)."""
    subject = subject or {"display": "unknown patient"}
    places = places or {}
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r}
               for r in (_resource(i, subject=subject, final=final, encounter=encounter,
                                   place=places.get((i[0], i[1]))) for i in items)]
    document = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return Bundle.model_validate(document).model_dump(mode="json", exclude_none=True)


def suggestions_bundle(suggestions: list[Suggestion], *, coding: Coding | None = None,
                       **options: Any) -> dict[str, Any]:
    """The suggestions of a note as a Bundle (provisional conditions, procedures of unknown status); with
    a coding, its codes come first in claim order, marked with their sequence and principal flag."""
    if coding is None:
        return bundle([(s.system, s.code, s.description, s) for s in suggestions], **options)
    by_key = {(s.system, s.code): s for s in suggestions}
    coded = [*sorted(coding.diagnoses, key=lambda d: d.sequence), *sorted(coding.procedures, key=lambda p: p.sequence)]
    places: dict[tuple[str, str], Place] = {}
    items: list[Coded] = []
    for c in coded:
        key = (getattr(c, "system", "ICD-10-CM"), c.code)
        if key not in places:
            places[key] = Place(c.sequence, c.principal, getattr(c, "poa", None))
            items.append((*key, c.description, by_key.get(key)))
    items += [(s.system, s.code, s.description, s) for s in suggestions if (s.system, s.code) not in places]
    return bundle(items, places=places, **options)
