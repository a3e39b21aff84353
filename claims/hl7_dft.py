"""The coding as an HL7 v2.5.1 `DFT^P03` (DG1 diagnoses, PR1 procedures, DRG), built and validated with hl7apy.

v2.5.1's DG1 has no element for present-on-admission; v2.6 added it as DG1-26 and interfaces on 2.5.1
pre-adopt it there, which HL7 allows for trailing fields. So the message is validated twice: as a strict
2.5.1 `DFT_P03` without the POA values, and each DG1 that carries one as a strict 2.6 segment.
"""

from __future__ import annotations

import datetime as dt
import uuid

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message, parse_segment

from claims.types import ClaimCoding
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import BillingSettings

VERSION = "2.5.1"
#: DG1-26 in v2.6 onwards.
POA_FIELD = 26
#: HL7 table 0052: final diagnoses and the admitting one; table 0396: the code systems.
DIAGNOSIS_TYPE = {"principal": "F", "secondary": "F", "admitting": "A"}
SEX = {"male": "M", "female": "F", "unknown": "U"}
#: HL7 table 0895 has E (exempt) where CMS writes 1.
POA = {"Y": "Y", "N": "N", "U": "U", "W": "W", "1": "E"}
CM, PCS = "I10C", "I10P"


#: ER7 escape sequences of the delimiters (MSH-2 `^~\&`, field `|`); the escape character goes first.
ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def _escape(text: str) -> str:
    """Free text as an ER7 component: delimiters escaped, line breaks as spaces."""
    text = " ".join(text.split())
    for raw, escaped in ESCAPES:
        text = text.replace(raw, escaped)
    return text[:199]


def dft_message(coding: ClaimCoding, billing: BillingSettings, *, now: dt.datetime | None = None,
                control_id: str | None = None) -> str:
    """The `DFT^P03` in ER7 (segments separated by CR), validated; E071 when it cannot be."""
    if coding.principal is None:
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="HL7", id=coding.encounter_id,
                           detail="it has no principal diagnosis")
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y%m%d%H%M%S")
    m = Message("DFT_P03", version=VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    m.msh.msh_3 = billing.sending_application
    m.msh.msh_4 = billing.facility
    m.msh.msh_5 = billing.receiving_application
    m.msh.msh_6 = billing.facility
    m.msh.msh_7 = stamp
    m.msh.msh_9 = "DFT^P03^DFT_P03"
    m.msh.msh_10 = control_id or uuid.uuid4().hex[:20]
    m.msh.msh_11 = "P"
    m.msh.msh_12 = VERSION
    m.evn.evn_1 = "P03"
    m.evn.evn_2 = stamp
    m.pid.pid_3 = f"{_escape(coding.claim_id)}^^^^VN"
    m.pid.pid_5 = "UNKNOWN"  # required; patient accounting matches on the account number, not the name
    m.pid.pid_8 = SEX[coding.patient.sex]
    m.pid.pid_18 = _escape(coding.claim_id)
    m.pv1.pv1_2 = "I" if coding.setting == "inpatient" else "O"
    m.pv1.pv1_19 = _escape(coding.claim_id)
    financial = m.add_group("DFT_P03_FINANCIAL")
    financial.ft1.ft1_4 = coding.day.strftime("%Y%m%d")
    financial.ft1.ft1_6 = "CG"
    financial.ft1.ft1_7 = "CODING^Claim coding^L"
    for p in coding.procedures:
        procedure = financial.add_group("DFT_P03_FINANCIAL_PROCEDURE")
        procedure.pr1.pr1_1 = str(p.sequence)
        procedure.pr1.pr1_3 = f"{p.code}^{_escape(p.description)}^{PCS}"
        if p.date:
            procedure.pr1.pr1_5 = p.date.strftime("%Y%m%d")
        procedure.pr1.pr1_14 = str(p.sequence)  # procedure priority: 1 is the principal procedure
    for d in coding.diagnoses:
        dg1 = m.add_segment("DG1")
        dg1.dg1_1 = str(d.sequence)
        dg1.dg1_3 = f"{d.code}^{_escape(d.description)}^{CM}"
        dg1.dg1_6 = DIAGNOSIS_TYPE[d.role]
        if d.role != "admitting":
            dg1.dg1_15 = str(d.sequence)  # table 0359: 1 the principal diagnosis, 2 … the ranked secondaries
    if coding.drg and coding.drg.drg != 999:
        m.add_segment("DRG").drg_1 = f"{coding.drg.drg:03d}^{_escape(coding.drg.description)}^MS-DRG"
    try:
        m.validate()
    except (HL7apyException, ValueError) as error:  # hl7apy raises ValueError for bad data types
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="HL7", id=coding.encounter_id, detail=str(error)) from None
    poa = {str(d.sequence): POA[d.poa] for d in coding.diagnoses if d.poa in POA and coding.setting == "inpatient"}
    text = "\r".join(_with_poa(line, poa) for line in m.to_er7().split("\r"))
    validate_message(text, coding.encounter_id)
    return text


def _with_poa(line: str, poa: dict[str, str]) -> str:
    fields = line.split("|")
    if fields[0] != "DG1" or fields[1] not in poa:
        return line
    fields += [""] * (POA_FIELD + 1 - len(fields))
    fields[POA_FIELD] = poa[fields[1]]
    return "|".join(fields)


def validate_message(text: str, encounter_id: str = "") -> None:
    """Check an ER7 `DFT^P03` strictly: 2.5.1 for the message, 2.6 for DG1s carrying POA; E071 if it fails."""
    lines = text.split("\r")
    try:
        core = ["|".join(line.split("|")[:POA_FIELD]).rstrip("|") if line.startswith("DG1|") else line
                for line in lines]
        parse_message("\r".join(core), validation_level=VALIDATION_LEVEL.STRICT).validate()
        for line in lines:
            if line.startswith("DG1|") and len(line.split("|")) > POA_FIELD:
                parse_segment(line, version="2.6", validation_level=VALIDATION_LEVEL.STRICT).validate()
                # hl7apy checks the field's type, not its table: the POA must be one of table 0895's.
                if line.split("|")[POA_FIELD] not in POA.values():
                    raise MedcodeError(ErrorCode.BAD_CLAIM, format="HL7", id=encounter_id,
                                       detail="DG1-26 is not a present-on-admission value of HL7 table 0895")
    except (HL7apyException, ValueError) as error:  # hl7apy raises ValueError for bad data types
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="HL7", id=encounter_id, detail=str(error)) from None


def read_diagnoses(text: str) -> list[tuple[str, str, str, str]]:
    """(code, type, priority, POA) of each DG1 of an ER7 message, as a receiving system reads them."""
    out = []
    for line in text.split("\r"):
        fields = line.split("|")
        if fields[0] == "DG1":
            fields += [""] * (POA_FIELD + 1 - len(fields))
            out.append((fields[3].split("^")[0], fields[6], fields[15], fields[POA_FIELD]))
    return out
