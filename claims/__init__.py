"""Claims: a submitted encounter's coding in the formats patient accounting takes, and the payer's 835 back.

`ClaimCoding` is the typed input; `fhir_claim`, `hl7_dft` and `x12_hi` build and validate the outgoing
formats; `remittance` reads an X12 835 and `denials` says which of its adjustments point at the coding.
Layered beside `coding`: it imports medcode, codesets and validation, and nothing below imports it.
"""
