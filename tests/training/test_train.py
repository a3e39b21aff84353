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
    assert "CodiEsp train, 12 notes" in card["data"][0]
    assert (result.ranker / "reliability.png").exists()
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
