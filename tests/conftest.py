"""Session fixtures: a private data dir, a small real index, and a Coder loaded once.

The small index holds real ICD-10-CM and ICD-10-PCS records (every code of the categories the
tests talk about, plus every code CodiEsp train uses), embedded by the real encoder; building it
takes well under a minute, where the full index takes minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codesets import registry
from codesets.types import CodeSet
from medcode.settings import Settings, get_settings
from medcode.types import ICD10_SYSTEMS

REPO = Path(__file__).resolve().parent.parent
#: Code prefixes kept in the small index besides the codes CodiEsp train uses.
SMALL_CM = ("I10", "I11", "I21", "I25", "E11", "C50", "Z80", "Z85", "Z86", "R07", "R06", "R50", "R11", "K80",
            "K81", "J44", "J18", "R60", "N39", "I50", "S72", "S22",
            # the guideline notes of tests/coding/notes (the coding step's end-to-end test)
            "A04", "A40", "A41", "B95", "B96", "D62", "E03", "E66", "E78", "F17", "G20", "G47", "G81", "I12", "I13",
            "I48", "I635", "I6935", "J01", "J13", "J20", "J45", "J69", "K21", "K25", "K35", "K57", "L031", "N17",
            "N18", "N30", "R05", "R47", "R65", "S525", "W000", "W010", "Z68", "Z79", "Z82", "Z878", "Z99",
            # notes 48-60 (US-style, in abbreviations)
            "A08", "D69", "D70", "E10", "E86", "E87", "F02", "F10", "F33", "F41", "G30", "G43", "H6600", "H664",
            "I26", "I82", "I85", "J12", "J96", "K26", "K70", "K76", "L8915", "O24", "S5230", "T383X6", "T451X5",
            "U07", "Z00", "Z17", "Z28", "Z3A", "Z95")
SMALL_PCS = ("0FT", "BW0", "BW2", "BW4", "BH0", "BW03", "0DT", "3E0", "0TT", "B24", "BF4", "0270", "0W3P")


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh MEDCODE_DATA_DIR for the whole session: caches and the small index go there."""
    path = tmp_path_factory.mktemp("medcode-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDCODE_DATA_DIR", str(path))
        get_settings.cache_clear()
        registry.clear_cache()
        yield path
    get_settings.cache_clear()
    registry.clear_cache()


def _subset(codeset: CodeSet, prefixes: tuple[str, ...], keep: set[str]) -> CodeSet:
    return CodeSet(codeset.system, codeset.release,
                   [c for c in codeset if c.key.startswith(prefixes) or c.key in keep], source="test subset")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def small_index(settings: Settings) -> Path:
    """A real index over a slice of the code sets, built once per session under the data dir."""
    from codesets import index
    from codesets.encoder import Encoder
    from codesets.build import coded_corpus, corpus_splits, usage_from_corpus

    corpus = coded_corpus(settings)
    usage = usage_from_corpus(settings, {s: registry.load_codeset(s) for s in ICD10_SYSTEMS}, corpus)
    assert usage is not None, "CodiEsp train must be under corpora/codiesp"
    used = {c for _, c in usage.counts}
    codesets = {
        "ICD-10-CM": _subset(registry.load_codeset("ICD-10-CM"), SMALL_CM, used),
        "ICD-10-PCS": _subset(registry.load_codeset("ICD-10-PCS"), SMALL_PCS, used),
    }
    inputs = index.Inputs(codesets, Encoder.from_settings(settings), usage, tuple(corpus),
                          corpus_splits=tuple(corpus_splits(settings)))
    return index.build(settings.data_dir / "index", inputs)


@pytest.fixture(scope="session")
def coder(small_index: Path, settings: Settings):
    """The engine, loaded once over the small index."""
    from nlp.coder import Coder

    return Coder.load(settings, index_path=small_index)
