import pytest

from codesets import registry
from codesets.usage import Usage
from medcode.types import ICD10_SYSTEMS, Candidate, Mention
from nlp.resolve import Resolver


@pytest.fixture(scope="module")
def resolver():
    codesets = {s: registry.load_codeset(s) for s in ICD10_SYSTEMS}
    usage = Usage(n_notes={"ICD-10-PCS": 10}, counts={("ICD-10-PCS", "BW20ZZZ"): 3, ("ICD-10-PCS", "BW201ZZ"): 1})
    return Resolver(codesets, usage)


def test_billable_codes_stay(resolver):
    assert resolver.target("ICD-10-CM", "I10") == "I10"
    assert resolver.target("ICD-10-PCS", "0FT44ZZ") == "0FT44ZZ"


def test_headers_go_to_their_unspecified_billable_child(resolver):
    assert resolver.target("ICD-10-CM", "E11") == "E119"
    assert resolver.target("ICD-10-CM", "C50") is not None
    assert resolver.target("ICD-10-CM", "C50").startswith("C50")


def test_pcs_prefixes_go_to_the_most_used_full_code(resolver):
    assert resolver.target("ICD-10-PCS", "BW20") == "BW20ZZZ"
    assert resolver.target("ICD-10-PCS", "0FT4").startswith("0FT4")


def test_unknown_codes_are_dropped(resolver):
    m = Mention(0, 3, "abc", "finding")
    out = resolver.resolve([Candidate("Q9999", "ICD-10-CM", m, "exact", 1.0),
                            Candidate("E11", "ICD-10-CM", m, "exact", 1.0),
                            Candidate("ZZZZ", "ICD-10-PCS", m, "usage", 0.5)])
    assert [(c.code, c.features.get("header")) for c in out] == [("E119", 1.0)]
