import gc
import pickle
from pathlib import Path

import pytest

from codesets.cache import CACHE_LAYOUT, cached_codes, gc_paused, load_pickle
from codesets.types import Code

CHOLERA = Code("A00.0", "ICD-10-CM", "Cholera due to Vibrio cholerae 01, biovar cholerae", synonyms=("classical cholera",),
               parent="A00", seventh=(("A", "initial encounter"),), axes=(("section", "Medical"),))


def test_a_code_pickles_as_a_constructor_call_and_comes_back_equal():
    again = pickle.loads(pickle.dumps(CHOLERA, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == CHOLERA and hash(again) == hash(CHOLERA) and again.key == "A000"
    assert CHOLERA.__reduce__()[0] is Code


def test_cached_codes_are_built_once_then_read_back(data_dir: Path):
    built: list[int] = []

    def build() -> list[Code]:
        built.append(1)
        return [CHOLERA]

    assert cached_codes("test-cholera", build) == [CHOLERA]
    assert cached_codes("test-cholera", build) == [CHOLERA]
    assert built == [1]
    assert (data_dir / "codesets" / f"test-cholera.v{CACHE_LAYOUT}.pkl").is_file()


def test_a_cache_written_under_another_layout_is_rebuilt_not_read(data_dir: Path):
    (data_dir / "codesets").mkdir(exist_ok=True)
    (data_dir / "codesets" / "test-old-layout.pkl").write_bytes(b"not what this layout reads")
    assert cached_codes("test-old-layout", lambda: [CHOLERA]) == [CHOLERA]


def test_loading_a_pickle_pauses_the_gc_and_gives_it_back(tmp_path: Path):
    path = tmp_path / "codes.pkl"
    path.write_bytes(pickle.dumps([CHOLERA]))
    assert gc.isenabled()
    assert load_pickle(path) == [CHOLERA]
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a load that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
