import gc

from codesets.types import Code
from serving.startup import ENGINE_GC_THRESHOLD, settle_gc

CHOLERA = Code("A00.0", "ICD-10-CM", "Cholera due to Vibrio cholerae 01, biovar cholerae")


def test_settling_the_gc_freezes_what_is_loaded_and_collects_young_objects_less_often():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default: an engine loaded earlier in this process may have settled it
    loaded = [[CHOLERA] for _ in range(1000)]  # long-lived, as an index is
    try:
        settle_gc()
        assert gc.get_threshold() == ENGINE_GC_THRESHOLD and ENGINE_GC_THRESHOLD[0] > 700
        assert gc.get_freeze_count() >= len(loaded)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
