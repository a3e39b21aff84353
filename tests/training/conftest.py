"""Training fixtures: tiny reranker settings over the session's small index."""

import shutil

import pytest

from medcode.settings import RerankSettings


@pytest.fixture()
def tiny(settings, small_index):
    """Settings whose ranker fits in seconds: 2 folds, few and small trees."""
    yield settings.model_copy(update={"rerank": RerankSettings(folds=2, max_trees=15, early_stopping=5,
                                                               min_child_samples=3, num_leaves=7)})
    # Later tests in the session load the newest ranker: leave them the shipped one.
    shutil.rmtree(settings.data_dir / "models", ignore_errors=True)
