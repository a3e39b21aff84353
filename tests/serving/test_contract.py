"""The OpenAPI document matches what the server does: schemathesis with every check, >= 3,000 cases."""

from __future__ import annotations

import pytest

from benchmarks.robustness import fuzz


@pytest.mark.contract
def test_schemathesis_all_checks_find_nothing(live, tmp_path):
    server, keys = live
    # ~25 operations x (examples + the coverage phase's cases) in both modes: over 3,000 cases, bounded in time.
    result = fuzz(server.url, keys["admin"]["Authorization"], examples=60, seed=23, report=tmp_path / "report.json",
                  timeout_s=1500)
    assert result["cases"] >= 3000, result
    assert result["server_errors"] == 0 and not result["failures"] and not result["errors"], result
