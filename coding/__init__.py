"""The coding step: ranked suggestions and their evidence in, a claim-ready coding out (ICD-10-CM/PCS Official Guidelines)."""

from coding.propose import propose
from coding.types import (
    CodedDiagnosisProposal,
    CodedProcedureProposal,
    Coding,
    CodingContext,
    DroppedCode,
    RuleRef,
)

__all__ = ["CodedDiagnosisProposal", "CodedProcedureProposal", "Coding", "CodingContext", "DroppedCode", "RuleRef",
           "propose"]
