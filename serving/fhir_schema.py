"""The OpenAPI schema of the FHIR input (`application/fhir+json`): a `DocumentReference`, or a `Bundle` holding
one and perhaps its `Patient`.

The elements are R4B's own names, read from fhir.resources (which validates what the server accepts), so the
document lists every element the server takes and no other: an unknown element is refused (E056). The elements
medcode reads are typed; the others are FHIR's to validate, and documented as such.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.documentreference import (
    DocumentReference,
    DocumentReferenceContent,
)
from pydantic import BaseModel

_BASE64 = r"^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
EXAMPLE = {"resourceType": "DocumentReference", "status": "current",
           "content": [{"attachment": {"contentType": "text/plain", "data": "SHlwZXJ0ZW5zaW9uLg=="}}]}
_FHIR = "Any FHIR R4 value of this element: the server validates it as FHIR."


def _object(model: type[BaseModel], typed: dict[str, Any], *, required: list[str], title: str,
            kind: str | None = None) -> dict[str, Any]:
    """Every element of `model`, `typed` ones as given; a resource's `resourceType` first, as a constant."""
    properties: dict[str, Any] = {"resourceType": {"const": kind}} if kind else {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if alias != "fhir_comments":  # fhir.resources' own attribute, not a FHIR element
            properties[alias] = typed.get(alias, {"description": _FHIR})
    return {"title": title, "type": "object", "additionalProperties": False,
            "required": (["resourceType"] if kind else []) + required, "properties": properties}


_CODE = {"type": "string", "pattern": r"^[^\s]+(\s[^\s]+)*$"}


def _document_reference() -> dict[str, Any]:
    attachment = _object(Attachment, {
        "contentType": {"type": "string", "description": "text/plain (also when absent) is the note; attachments "
                                                         "of other types are skipped."},
        "data": {"type": "string", "pattern": _BASE64, "description": "The note: UTF-8 text, base64-encoded."},
    }, required=[], title="FhirAttachment")
    content = _object(DocumentReferenceContent, {"attachment": attachment}, required=["attachment"],
                      title="FhirDocumentReferenceContent")
    return _object(DocumentReference, {
        "status": _CODE | {"description": "current | superseded | entered-in-error"},
        "content": {"type": "array", "items": content,
                    "description": "The first text/plain attachment with inline data is the note (E056 if none)."},
        "context": {"description": "context.encounter[0].reference is the encounter's id and context.period.start "
                                   "its date of service. " + _FHIR},
    }, required=["status", "content"], title="FhirDocumentReference", kind="DocumentReference")


def fhir_input_schema(schema: dict[str, Any]) -> None:
    """pydantic's `json_schema_extra` hook for `FhirInput`: its schema becomes the FHIR resources it stands for."""
    resource = {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}},
                "description": "An R4 resource: the DocumentReference is the note, a Patient gives age and sex "
                               "(gender, birthDate); others are validated and not read."}
    entry = _object(BundleEntry, {"resource": resource}, required=[], title="FhirBundleEntry")
    bundle = _object(Bundle, {
        "type": _CODE | {"description": "document | message | transaction | collection | ..."},
        "entry": {"type": "array", "items": entry, "description": "One entry's resource is the DocumentReference "
                                                                  "(E056 if none)."},
    }, required=["type"], title="FhirBundle", kind="Bundle")
    schema.clear()
    schema.update({"title": "FhirInput", "oneOf": [_document_reference(), bundle], "examples": [EXAMPLE],
                   "description": "A FHIR R4 DocumentReference with a base64 text/plain attachment, or a Bundle "
                                  "holding one (and perhaps its Patient)."})
