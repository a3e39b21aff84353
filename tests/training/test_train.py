"""`medcode train`'s plumbing with tiny settings: every step runs, artefacts land versioned, the
engine loads the newest, and a failing step is reported by name."""

import json

import pytest
from rich.console import Console

from medcode.errors import MedcodeError
from medcode.settings import RerankSettings
from nlp.ranker import Ranker
from training.train import TrainOptions, step_names, train


def test_train_runs_every_step_and_the_engine_loads_the_result(tiny, tmp_path):
    options = TrainOptions(skip_encoder=True, skip_distill=True, report=tmp_path / "report", train_limit=12,
                           dev_limit=6)
    result = train(tiny, options, console=Console(file=open(tmp_path / "log", "w")))  # noqa: SIM115
    assert [s.name for s in result.steps] == list(step_names(options))
    assert result.ranker is not None and result.ranker.parent == tiny.data_dir / "models" / "ranker"
    card = json.loads((result.ranker / "card.json").read_text())
    assert card["objective"] == "lambdarank" and card["metrics"]["ICD-10-CM"]["trees"] >= 1
    # Fitted on train and dev (the default splits), so dev cannot measure it: no dev MAP, no reliability plot.
    assert "CodiEsp train+dev, 18 notes" in card["data"][0] and card["corpus_splits"] == ["train", "dev"]
    assert "dev_map" not in card["metrics"] and not (result.ranker / "reliability.png").exists()
    assert Ranker.newest(tiny.data_dir) == result.ranker
    assert (tmp_path / "report" / "report.md").exists()
    before = json.loads((tiny.data_dir / "models" / "baseline-dev.json").read_text())
    assert before["label"] == "before" and before["notes"] == 6


def test_a_bad_decisions_file_stops_training_with_its_error(tiny, tmp_path):
    options = TrainOptions(skip_encoder=True, skip_distill=True, decisions=(tmp_path / "missing.jsonl",),
                           train_limit=12, dev_limit=6)
    with pytest.raises(MedcodeError) as e:
        train(tiny, options, console=Console(file=open(tmp_path / "log", "w")))  # noqa: SIM115
    assert e.value.code.value == "E031"


def test_step_names_follow_the_options():
    assert step_names(TrainOptions()) == ["encoder", "index", "query encoder", "ranker + calibration"]
    assert step_names(TrainOptions(skip_encoder=True)) == ["query encoder", "ranker + calibration"]
    assert step_names(TrainOptions(skip_encoder=True, skip_distill=True)) == ["ranker + calibration"]


def test_fitted_on_train_alone_the_ranker_is_measured_on_dev(tiny, coder, tmp_path):
    from training.evaluate import evaluate, held_out
    from training.rows import read_split
    from training.tune import tune_ranker

    only_train = tiny.model_copy(update={"corpus_splits": ["train"]})
    tuned = tune_ranker(only_train, console=Console(file=open(tmp_path / "log", "w")),  # noqa: SIM115
                        train_limit=12, dev_limit=6)
    card = json.loads((tuned.path / "card.json").read_text())
    assert card["corpus_splits"] == ["train"] and "CodiEsp train, 12 notes" in card["data"][0]
    assert set(card["metrics"]["dev_map"]) == {"ICD-10-CM", "ICD-10-PCS"}
    assert (tuned.path / "reliability.png").exists()
    # The card's dev MAP is the one `medcode eval codiesp --split dev` prints: nothing dev taught enters it,
    # the CodiEsp forms its rankings bring included.
    with held_out(coder, "dev", limit=12) as view:
        report = evaluate(view, read_split(tiny, "dev")[:6], split="dev")
    assert card["metrics"]["dev_map"] == {"ICD-10-CM": round(report.diagnoses.map, 4),
                                          "ICD-10-PCS": round(report.procedures.map, 4)}
    # The engine's index learnt from train and dev: it keeps to a ranker fitted on both.
    assert Ranker.newest(tiny.data_dir, ["train"]) == tuned.path
    assert Ranker.newest(tiny.data_dir, ["train", "dev"]) != tuned.path


def test_early_stopping_on_dev_needs_dev_held_out(tiny):
    from training.tune import tune_ranker

    on_dev = tiny.model_copy(update={"rerank": tiny.rerank.model_copy(update={"tune_on": "dev"})})
    with pytest.raises(MedcodeError) as e:
        tune_ranker(on_dev, train_limit=12, dev_limit=6)
    assert e.value.code.value == "E040" and "MEDCODE_CORPUS_SPLITS" in str(e.value)
