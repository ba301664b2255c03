"""GANZOO_FAST_DEV_RUN=N: every training run stops after at most N steps (docs/training.md)."""

import pytest
import torch

from ganzoo import GanzooError, create_model
from ganzoo.train import config as train_config
from ganzoo.train.config import FAST_DEV_RUN, TrainConfig
from tiny import TinyTrainConfig, TinyTrainer


@pytest.fixture
def fresh_notice(monkeypatch):
    """Forget that this process already printed the notice."""
    monkeypatch.setattr(train_config, "_fast_dev_run_noticed", False)


def test_it_caps_steps_and_says_so_once(monkeypatch, capsys, fresh_notice):
    monkeypatch.setenv(FAST_DEV_RUN, "3")
    config = TrainConfig(steps=2000)
    config.validate()
    assert config.steps == 3
    config.validate()  # idempotent
    assert config.steps == 3
    short = TrainConfig(steps=2)
    short.validate()
    assert short.steps == 2  # fewer steps than the cap are kept
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{FAST_DEV_RUN}=3: ") and "at most 3 step" in lines[0]


def test_under_torchrun_only_rank_0_says_so(monkeypatch, capsys, fresh_notice):
    monkeypatch.setenv(FAST_DEV_RUN, "3")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    config = TrainConfig(steps=2000)
    config.validate()
    assert config.steps == 3  # capped on every rank
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    TrainConfig(steps=2000).validate()
    assert capsys.readouterr().err.startswith(f"{FAST_DEV_RUN}=3: ")


def test_a_capped_trainer_runs_that_many_steps(monkeypatch, tiny_data, tmp_path, fresh_notice):
    monkeypatch.setenv(FAST_DEV_RUN, "2")
    torch.manual_seed(0)
    config = TinyTrainConfig(steps=500, device="cpu", quiet=True, out_dir=str(tmp_path / "run"))
    result = TinyTrainer(create_model("tiny"), tiny_data, config).fit()
    assert result.steps == 2
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.mark.parametrize("value", [None, "", "0"])
def test_it_is_off_by_default(monkeypatch, capsys, fresh_notice, value):
    if value is None:
        monkeypatch.delenv(FAST_DEV_RUN, raising=False)
    else:
        monkeypatch.setenv(FAST_DEV_RUN, value)
    assert train_config.fast_dev_run_steps() is None
    config = TrainConfig(steps=2000)
    config.validate()
    assert config.steps == 2000
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["yes", "-1", "2.5"])
def test_a_value_that_is_not_a_whole_number_is_one_line(monkeypatch, value):
    monkeypatch.setenv(FAST_DEV_RUN, value)
    with pytest.raises(GanzooError, match=rf"^{FAST_DEV_RUN} must be a whole number") as info:
        TrainConfig().validate()
    assert "\n" not in str(info.value)
