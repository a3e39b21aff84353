"""`medcode eval codiesp --cv K` with tiny settings: every note of train and dev is scored once, by a fold
that never saw its codes."""

from rich.console import Console

from training.crossval import cross_validate


def test_cross_validation_scores_train_and_dev_notes_fold_by_fold(tiny, tmp_path):
    result = cross_validate(tiny, folds=2, train_limit=30, dev_limit=10,
                            console=Console(file=open(tmp_path / "log", "w")))  # noqa: SIM115
    # Enough notes that each inner fold of each system holds assigned and unassigned candidates.
    assert result["notes"] == 40 and result["cv"] == 2
    assert [f["notes"] for f in result["folds"]] == [20, 20]
    assert 0.0 < result["map_diagnoses"] <= 1.0
    assert result["documents"]["diagnoses"] == 40
    # Pooled MAP is the fold MAPs weighed by their documents.
    assert min(f["ICD-10-CM"] for f in result["folds"]) <= result["map_diagnoses"] <= max(
        f["ICD-10-CM"] for f in result["folds"])
