"""`error_operations` reads which operations schemathesis's ERRORS section names (its JSON report does not)."""

from __future__ import annotations

from benchmarks.robustness import error_operations

OUTPUT = """\
 ✅  Fuzzing (in 24.55s)

==================================== ERRORS ====================================
________________________________ POST /v1/jobs _________________________________
Runtime Error

    | SystemError: AST constructor recursion depth mismatch (before=270, after=201)

Serialization not possible
_________________________ GET /v1/encounters/{encounter_id} _________________________
Network Error
=================================== WARNINGS ===================================
______ not an operation ______
=================================== SUMMARY ====================================
"""


def test_error_operations_are_the_headers_of_the_errors_section_only():
    assert error_operations(OUTPUT) == ["GET /v1/encounters/{encounter_id}", "POST /v1/jobs"]


def test_no_errors_section_names_no_operation():
    assert error_operations(OUTPUT.replace(" ERRORS ", " PASSES ")) == []
