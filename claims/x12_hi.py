"""The coding as the HI segments of an X12 837I / 837P (005010X223A2 / X222A1), the fragment a billing
system merges into its claim's 2300 loop.

837I: `ABK` principal diagnosis, `ABJ` admitting, `ABF` other diagnoses (POA in the composite's 9th
element), `BBR` principal procedure and `BBQ` other procedures (with their D8 dates), `DR` the MS-DRG.
837P: `ABK` and `ABF` only, no POA. Each HI holds at most 12 composites. POA 1 (exempt) is sent blank,
as 5010 reports exemption.
"""

from __future__ import annotations

from pyx12.segment import Segment

from claims.types import ClaimCoding
from medcode.errors import ErrorCode, MedcodeError

ELEMENT, COMPONENT, TERMINATOR = "*", ":", "~"
PER_SEGMENT = 12
#: The composite's elements before HI-9 (POA): qualifier, code, then six unused ones.
POA_AT = 9


def _composite(qualifier: str, code: str, *, date: str | None = None, poa: str | None = None) -> str:
    parts = [qualifier, code]
    if date:
        parts += ["D8", date]
    if poa and poa != "1":
        parts += [""] * (POA_AT - 1 - len(parts)) + [poa]
    return COMPONENT.join(parts)


def _segments(composites: list[str]) -> list[str]:
    return [ELEMENT.join(["HI", *composites[i:i + PER_SEGMENT]]) + TERMINATOR
            for i in range(0, len(composites), PER_SEGMENT)]


def hi_segments(coding: ClaimCoding) -> str:
    """The HI segments, one per line; E071 without a principal diagnosis or past the form's limits."""
    principal = coding.principal
    if principal is None:
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="X12", id=coding.encounter_id,
                           detail="it has no principal diagnosis")
    institutional = coding.claim_type == "institutional"
    others = [d for d in coding.diagnoses if d.role == "secondary"]
    limit = 24 if institutional else 11  # 837I: 2 HI of ABF; 837P: 12 diagnoses in one HI, the principal included
    if len(others) > limit:
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="X12", id=coding.encounter_id,
                           detail=f"{len(others)} other diagnoses; an {'837I' if institutional else '837P'} "
                           f"carries at most {limit}")
    poa = (lambda d: d.poa) if institutional else (lambda d: None)
    lines = _segments([_composite("ABK", principal.bare, poa=poa(principal))])
    admitting = coding.admitting
    if admitting and institutional:
        lines += _segments([_composite("ABJ", admitting.bare)])
    if not institutional:
        lines = _segments([lines[0][3:-1], *(_composite("ABF", d.bare) for d in others)])
        return "\n".join(lines) + "\n"
    lines += _segments([_composite("ABF", d.bare, poa=poa(d)) for d in others])
    procedures = [_composite("BBR" if i == 0 else "BBQ", p.code, date=(p.date or coding.day).strftime("%Y%m%d"))
                  for i, p in enumerate(coding.procedures)]
    lines += _segments(procedures[:1]) + _segments(procedures[1:])
    if coding.drg and coding.drg.drg != 999:
        lines += _segments([_composite("DR", f"{coding.drg.drg:03d}")])
    return "\n".join(lines) + "\n"


def read_hi(text: str) -> list[tuple[str, str, str | None, str | None]]:
    """(qualifier, code, date, POA) of every composite of HI segments, read back with pyx12."""
    out = []
    for raw in text.split(TERMINATOR):
        raw = raw.strip()
        if not raw:
            continue
        segment = Segment(raw, TERMINATOR, ELEMENT, COMPONENT)
        if segment.get_seg_id() != "HI":
            raise MedcodeError(ErrorCode.BAD_CLAIM, format="X12", id="-", detail=f"not an HI segment: {raw[:3]}")
        for i in range(1, PER_SEGMENT + 1):
            element = segment.get(f"HI{i:02d}")
            if element is None or element.is_empty():
                continue
            values = [segment.get_value(f"HI{i:02d}-{k}") for k in range(1, POA_AT + 1)]
            out.append((values[0], values[1], values[3] or None, values[POA_AT - 1] or None))
    return out
