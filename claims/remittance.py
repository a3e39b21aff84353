"""An X12 835 (005010X221A1) remittance read with pyx12: its claims, their adjustments and remark codes.

pyx12 walks the file against the 835 map and reports every syntax or map error; a file with any error is
refused whole (E070, the first error with its line), so nothing of it is half-imported. The payer's file
holds PHI (patient names in NM1): pyx12's own error log, which quotes bad values, is kept quiet here and
our messages name lines and elements, never values.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal
from typing import Any

import pyx12.error_handler
import pyx12.errors
import pyx12.params
import pyx12.x12context
from pydantic import BaseModel, ConfigDict, Field

from medcode.errors import ErrorCode, MedcodeError

#: CAS holds up to six (reason, amount, quantity) triplets after its group code.
CAS_TRIPLETS = 6


class Adjustment(BaseModel):
    """One CAS triplet: group (CO, PR, OA, PI, CR), claim adjustment reason code, amount."""

    model_config = ConfigDict(frozen=True)

    group: str
    carc: str
    amount: Decimal
    quantity: Decimal | None = None


class ServiceLine(BaseModel):
    """One SVC of a claim, with its own adjustments and remark codes (LQ*HE)."""

    model_config = ConfigDict(frozen=True)

    procedure: str | None = Field(default=None, description="SVC01's code (HC:99213 gives 99213), if any.")
    adjustments: list[Adjustment] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)


class RemittedClaim(BaseModel):
    """One CLP loop (2100): the payer's answer for one claim."""

    model_config = ConfigDict(frozen=True)

    claim_id: str = Field(description="CLP01, the patient control number the claim went out with.")
    status: str = Field(description="CLP02: 1 processed as primary … 4 denied, 22 reversal.")
    charged: Decimal
    paid: Decimal
    payer_claim_id: str | None = None
    adjustments: list[Adjustment] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)
    services: list[ServiceLine] = Field(default_factory=list)


class Remittance(BaseModel):
    """An 835 transaction set: who paid, its trace number, and the claims it answers."""

    model_config = ConfigDict(frozen=True)

    payer: str = ""
    trace: str | None = Field(default=None, description="TRN02, the check or EFT trace number.")
    paid_on: dt.date | None = Field(default=None, description="BPR16.")
    claims: list[RemittedClaim] = Field(default_factory=list)


#: X12 segment syntax error codes (IK304 / AK304), what pyx12 reports for a segment.
SEGMENT_ERRORS = {"1": "unrecognized segment", "2": "unexpected segment", "3": "required segment missing",
                  "4": "loop occurs over its maximum", "5": "segment exceeds its maximum use",
                  "6": "segment not in the transaction set", "7": "segment not in proper sequence",
                  "8": "segment has data element errors"}


class _Errors(pyx12.error_handler.err_handler):
    """pyx12's error tree, collecting (line, what) without logging the offending values."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def isa_error(self, err_cde: str, err_str: str) -> None:
        self.found.append(f"ISA: {err_str}")

    def gs_error(self, err_cde: str, err_str: str) -> None:
        self.found.append(f"GS: {err_str}")

    def st_error(self, err_cde: str, err_str: str) -> None:
        self.found.append(f"ST: {err_str}")

    def seg_error(self, err_cde: str, err_str: str, err_value: str | None = None, src_line: int | None = None) -> None:
        # pyx12's text quotes the whole segment (an NM1 holds the patient's name): keep its id only.
        seg_id = err_str[8:].split("*")[0][:3] + " " if err_str.startswith("Segment ") else ""
        self.found.append(f"line {src_line or self._line()}: {seg_id}{SEGMENT_ERRORS.get(err_cde, err_str)}")

    def ele_error(self, err_cde: str, err_str: str, bad_value: str | None, refdes: str | None = None) -> None:
        self.found.append(f"line {self._line()}: {err_str}")

    def _line(self) -> int:
        node = self.cur_seg_node
        return node.get_cur_line() if node is not None else self.cur_line


def _amount(value: str | None) -> Decimal:
    """An amount pyx12 has checked (type R) already."""
    return Decimal(value or "0")


def _fields(segment: Any) -> list[list[str]]:
    """A segment's elements, each as its components (pyx12's own path lookups cost more than its parse)."""
    return [[e.get_value() for e in composite.elements] for composite in segment.elements]


def _field(fields: list[list[str]], position: int, component: int = 1) -> str:
    """Element `position` (1-based, as in CLP01), component `component`; '' when absent."""
    if position > len(fields) or component > len(fields[position - 1]):
        return ""
    return fields[position - 1][component - 1]


def _cas(fields: list[list[str]]) -> list[Adjustment]:
    group = _field(fields, 1)
    out = []
    for k in range(CAS_TRIPLETS):
        reason, amount, quantity = (_field(fields, 2 + 3 * k + j) for j in range(3))
        if reason:
            out.append(Adjustment(group=group, carc=reason, amount=_amount(amount),
                                  quantity=_amount(quantity) if quantity else None))
    return out


#: Remark codes' element positions in MOA (03–07) and MIA (05, 20–24).
REMARKS_AT = {"MOA": (3, 4, 5, 6, 7), "MIA": (5, 20, 21, 22, 23, 24)}


def _claim(loop: Any) -> RemittedClaim:
    """The 2100 loop pyx12 has validated, read in segment order: after an SVC, CAS and LQ are its own."""
    claim: list[list[str]] = []
    adjustments: list[Adjustment] = []
    remarks: list[str] = []
    services: list[dict[str, Any]] = []
    for item in loop.iterate_segments():
        segment = item["segment"]
        seg_id, fields = segment.get_seg_id(), _fields(segment)
        if seg_id == "CLP":
            claim = fields
        elif seg_id == "SVC":
            services.append({"procedure": _field(fields, 1, 2) or _field(fields, 1) or None, "adjustments": [],
                             "remarks": []})
        elif seg_id == "CAS":
            (services[-1]["adjustments"] if services else adjustments).extend(_cas(fields))
        elif seg_id == "LQ" and services and _field(fields, 2):
            services[-1]["remarks"].append(_field(fields, 2))
        elif seg_id in REMARKS_AT:
            remarks += [v for v in (_field(fields, i) for i in REMARKS_AT[seg_id]) if v]
    return RemittedClaim(claim_id=_field(claim, 1), status=_field(claim, 2), charged=_amount(_field(claim, 3)),
                         paid=_amount(_field(claim, 4)), payer_claim_id=_field(claim, 7) or None,
                         adjustments=adjustments, remarks=remarks,
                         services=[ServiceLine.model_validate(s) for s in services])


def read_835(data: str | bytes, source: str = "835") -> list[Remittance]:
    """Every 835 transaction set of an interchange; E070 for anything pyx12 finds wrong, or not an 835."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source, detail="not ASCII X12 text") from None
    errors = _Errors()
    remittances: list[dict[str, Any]] = []
    logger = logging.getLogger("pyx12")
    quiet, logger.disabled = logger.disabled, True  # it logs bad values, which may be PHI
    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.params(), errors, io.StringIO(data))
        for node in reader.iter_segments("2100"):
            if errors.found:
                break  # what pyx12 found in this segment comes first, before we read its values
            seg = node.id
            if seg == "ST":
                if node.get_value("ST01") != "835":
                    raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source,
                                       detail=f"transaction set {node.get_value('ST01')!s}, not an 835")
                remittances.append({"claims": []})
            elif not remittances:
                continue
            elif seg == "BPR" and node.get_value("BPR16"):
                remittances[-1]["paid_on"] = _date(node.get_value("BPR16"), source)
            elif seg == "TRN":
                remittances[-1]["trace"] = node.get_value("TRN02")
            elif seg == "N1" and node.get_value("N101") == "PR":
                remittances[-1]["payer"] = node.get_value("N102") or ""
            elif seg == "2100":
                remittances[-1]["claims"].append(_claim(node))
    except pyx12.errors.X12Error as error:
        raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source, detail=str(error)) from None
    except (pyx12.errors.EngineError, pyx12.errors.X12PathError) as error:
        # Raised when the walk loses its place: the error that led there says more.
        if not errors.found:
            raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source, detail=type(error).__name__) from None
    finally:
        logger.disabled = quiet
    if not errors.found and not all(isa.is_closed() for isa in errors.children):
        errors.found.append("the interchange ends before its IEA segment: the file is cut short")
    if errors.found:
        more = f" (and {len(errors.found) - 1} more)" if len(errors.found) > 1 else ""
        raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source, detail=errors.found[0] + more)
    if not remittances:
        raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source, detail="no 835 transaction set")
    return [Remittance.model_validate(r) for r in remittances]


def _date(value: str, source: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise MedcodeError(ErrorCode.BAD_REMITTANCE, source=source, detail="BPR16 is not a date") from None
