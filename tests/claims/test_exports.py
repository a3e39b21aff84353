"""Claim exports built from hand-made codings, read back through the validators they were built with."""

from __future__ import annotations

import datetime as dt

import pytest
from fhir.resources.R4B.claim import Claim
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from claims.fhir_claim import claim_resource
from claims.hl7_dft import dft_message, read_diagnoses, validate_message
from claims.types import ClaimCoding
from claims.x12_hi import hi_segments, read_hi
from medcode.errors import MedcodeError
from medcode.settings import BillingSettings
from validation.types import CodedDiagnosis, CodedProcedure, DrgResult, Encounter

DAY = dt.date(2026, 5, 1)
DRG = DrgResult(drg=291, description="Heart failure & shock with MCC", mdc=5, severity="MCC", relative_weight=1.27,
                grouper_version="43.1")


def coding(claim_type: str = "institutional", *, others: int = 0, procedures: bool = True,
           admitting: str | None = "R07.9") -> ClaimCoding:
    """Heart failure (POA Y) principal, diabetes (POA exempt) and hypertension (POA N), two procedures."""
    diagnoses = [CodedDiagnosis(code="I50.23", principal=True, poa="Y"), CodedDiagnosis(code="E11.9", poa="1"),
                 CodedDiagnosis(code="I10", poa="N")]
    diagnoses += [CodedDiagnosis(code=f"Z85.{i % 10}") for i in range(others)]
    encounter = Encounter(setting="inpatient" if claim_type == "institutional" else "outpatient",
                          date_of_service=DAY, diagnoses=diagnoses,
                          procedures=[CodedProcedure(code="02703ZZ"), CodedProcedure(code="B2111ZZ",
                                                                                     date=DAY - dt.timedelta(days=1))]
                          if procedures else [])
    return ClaimCoding.of(encounter, encounter_id="e1", claim_id="ENC-1001",
                          claim_type=claim_type,  # type: ignore[arg-type]
                          admitting=admitting if claim_type == "institutional" else None,
                          drg=DRG if claim_type == "institutional" else None,
                          descriptions={"I5023": "Acute on chronic systolic (congestive) heart failure"})


def test_fhir_claim_round_trips_through_r4_with_sequence_types_poa_and_drg() -> None:
    out = claim_resource(coding(), BillingSettings(facility="General Hospital", provider_npi="1234567893"))
    claim = Claim.model_validate(out)
    assert claim.type.coding[0].code == "institutional" and claim.use == "claim"
    rows = [(d.sequence, d.diagnosisCodeableConcept.coding[0].code, d.type[0].coding[0].code,
             d.onAdmission.coding[0].code if d.onAdmission else None) for d in claim.diagnosis]
    assert rows == [(1, "I50.23", "principal", "y"), (2, "E11.9", "secondary", None), (3, "I10", "secondary", "n"),
                    (4, "R07.9", "admitting", None)]
    assert claim.diagnosis[0].packageCode.coding[0].code == "291"
    assert all(d.packageCode is None for d in claim.diagnosis[1:])
    assert [(p.sequence, p.procedureCodeableConcept.coding[0].code, str(p.date)[:10]) for p in claim.procedure] == [
        (1, "02703ZZ", "2026-05-01"), (2, "B2111ZZ", "2026-04-30")]
    assert claim.provider.identifier.value == "1234567893"
    assert claim.identifier[0].value == "ENC-1001"


def test_fhir_professional_claim_has_no_poa_nor_drg() -> None:
    claim = Claim.model_validate(claim_resource(coding("professional", procedures=False), BillingSettings()))
    assert claim.type.coding[0].code == "professional"
    assert all(d.onAdmission is None and d.packageCode is None for d in claim.diagnosis)
    assert claim.procedure is None


def test_a_coding_without_principal_is_refused_in_every_format() -> None:
    empty = coding().model_copy(update={"diagnoses": []})
    for build in (lambda c: claim_resource(c, BillingSettings()), lambda c: dft_message(c, BillingSettings()),
                  hi_segments):
        with pytest.raises(MedcodeError, match="E071|principal"):
            build(empty)


def test_hl7_dft_p03_validates_strictly_and_reads_back() -> None:
    text = dft_message(coding(), BillingSettings(facility="GEN HOSP"), control_id="c1")
    message = parse_message(text.split("\rDG1")[0], validation_level=VALIDATION_LEVEL.STRICT)
    assert message.msh.msh_9.to_er7() == "DFT^P03^DFT_P03" and message.msh.msh_12.to_er7() == "2.5.1"
    validate_message(text)
    assert read_diagnoses(text) == [("I50.23", "F", "1", "Y"), ("E11.9", "F", "2", "E"), ("I10", "F", "3", "N"),
                                    ("R07.9", "A", "", "")]
    segments = text.split("\r")
    pr1 = [s.split("|") for s in segments if s.startswith("PR1")]
    assert [(p[3].split("^")[0], p[5], p[14]) for p in pr1] == [("02703ZZ", "20260501", "1"),
                                                                ("B2111ZZ", "20260430", "2")]
    assert any(s.startswith("DRG|291^Heart failure \\T\\ shock with MCC^MS-DRG") for s in segments)
    assert "PID|||ENC-1001^^^^VN" in text


def test_hl7_validator_refuses_a_broken_message() -> None:
    text = dft_message(coding(), BillingSettings())
    with pytest.raises(MedcodeError, match="E071|SI"):
        validate_message(text.replace("DG1|1|", "DG1|one|"))
    with pytest.raises(MedcodeError):
        validate_message(text.replace("|Y", "|YY"))  # POA outside HL7 table 0895's form


def test_x12_institutional_hi_segments() -> None:
    text = hi_segments(coding())
    assert text.splitlines() == ["HI*ABK:I5023:::::::Y~", "HI*ABJ:R079~", "HI*ABF:E119*ABF:I10:::::::N~",
                                 "HI*BBR:02703ZZ:D8:20260501~", "HI*BBQ:B2111ZZ:D8:20260430~", "HI*DR:291~"]
    assert read_hi(text)[0] == ("ABK", "I5023", None, "Y")
    assert ("BBQ", "B2111ZZ", "20260430", None) in read_hi(text)


def test_x12_splits_composites_twelve_to_a_segment_and_refuses_past_the_form() -> None:
    text = hi_segments(coding(others=13))
    abf = [line for line in text.splitlines() if "ABF" in line]
    assert [line.count("ABF") for line in abf] == [12, 3]
    with pytest.raises(MedcodeError, match="at most 24"):
        hi_segments(coding(others=30))


def test_x12_professional_has_one_hi_without_poa_or_procedures() -> None:
    text = hi_segments(coding("professional"))
    assert text == "HI*ABK:I5023*ABF:E119*ABF:I10~\n"
    with pytest.raises(MedcodeError, match="at most 11"):
        hi_segments(coding("professional", others=10))


def _in_837i(hi: str) -> list[str]:
    """pyx12's errors for an 837I (005010X223A2) claim carrying these HI segments, the rest fixed."""
    import io

    import pyx12.params
    import pyx12.x12context

    from claims.remittance import _Errors

    body = ["ST*837*0001*005010X223A2", "BHT*0019*00*0123*20260515*0930*CH", "NM1*41*2*GENERAL HOSPITAL*****46*TGJ23",
            "PER*IC*BILLING*TE*3055552222", "NM1*40*2*ACME HEALTH PLAN*****46*66783JJT", "HL*1**20*1",
            "NM1*85*2*GENERAL HOSPITAL*****XX*1234567893", "N3*1 HOSPITAL DR", "N4*SPRINGFIELD*IL*627010001",
            "REF*EI*123456789", "HL*2*1*22*0", "SBR*P*18*******MB", "NM1*IL*1*DOE*JANE****MI*111111111A",
            "N3*1 MAIN ST", "N4*SPRINGFIELD*IL*62701", "DMG*D8*19560101*F", "NM1*PR*2*ACME HEALTH PLAN*****PI*00435",
            "CLM*ENC-1001*12500***11:A:1**A*Y*Y", "DTP*434*RD8*20260501-20260505", "CL1*1*7*01",
            *(line.rstrip("~") for line in hi.splitlines()), "NM1*71*1*DOE*JOHN****XX*1234567893", "LX*1",
            "SV2*0300*HC:81000*120*UN*1", "DTP*472*D8*20260501"]
    body.append(f"SE*{len(body) + 1}*0001")
    text = "~\n".join(["ISA*00*          *00*          *ZZ*GENHOSP        *ZZ*ACMEPAYER      *260515*0930*^*00501*"
                       "000000001*0*P*:", "GS*HC*GENHOSP*ACMEPAYER*20260515*0930*1*X*005010X223A2", *body, "GE*1*1",
                       "IEA*1*000000001"]) + "~\n"
    errors = _Errors()
    for _ in pyx12.x12context.X12ContextReader(pyx12.params.params(), errors, io.StringIO(text)).iter_segments():
        pass
    return errors.found


def test_x12_fragment_validates_inside_an_837i_with_pyx12() -> None:
    hi = hi_segments(coding())
    assert _in_837i(hi) == []
    assert _in_837i(hi.replace("ABF:E119", "XYZ:E119"))  # the map knows the qualifiers
    assert _in_837i(hi.replace(":::::::Y", ":::::::Q"))  # and the POA values
