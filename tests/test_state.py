"""The trainer's resumable state (train/state.py) and the shape of the train package."""

import ast
from pathlib import Path

import pytest
import torch

from ganzoo import GanzooError, create_model
from ganzoo.train import checkpoint as ckpt
from ganzoo.train.state import TrainingState
from tiny import TinyTrainConfig, TinyTrainer


def _trainer(data, out, **overrides):
    torch.manual_seed(0)
    config = TinyTrainConfig(device="cpu", quiet=True, out_dir=str(out), **overrides)
    return TinyTrainer(create_model("tiny"), data, config)


def test_state_survives_its_file_format(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, tmp_path / "run", steps=3, ema_decay=0.9)
    trainer.fit()
    saved = TrainingState.capture(trainer).to_dict()
    assert "cuda_rng" not in saved  # only a CUDA run has one
    back = TrainingState.from_dict(saved, "x")
    assert back.step == 3 and back.ema_updates == 3
    assert set(back.optimizers) == {"g", "d"}
    assert torch.equal(back.torch_rng, torch.get_rng_state())
    state = ckpt.load_state(tmp_path / "run" / "checkpoint" / ckpt.STATE_NAME)
    assert sorted(state) == sorted(saved)


def test_an_old_state_without_ema_updates_counts_one_per_step():
    state = {"step": 5, "optimizers": {}, "schedulers": {}, "generators": {}}
    state["torch_rng"] = torch.get_rng_state()
    assert TrainingState.from_dict(state, "old.pt").ema_updates == 5


@pytest.mark.parametrize(
    ("state", "key"),
    [
        ({"step": 2}, "optimizers"),
        ({"step": "2"}, "step"),
        ({"step": 2, "optimizers": [], "schedulers": {}, "generators": {}}, "optimizers"),
        ([1, 2], None),
    ],
)
def test_a_damaged_training_state_is_refused_in_one_line(tiny_data, tmp_path, state, key):
    _trainer(tiny_data, tmp_path / "run", steps=2).fit()
    torch.save(state, tmp_path / "run" / "checkpoint" / ckpt.STATE_NAME)
    resumed = _trainer(tiny_data, tmp_path / "run", steps=4)
    with pytest.raises(GanzooError, match="start a new run") as caught:
        resumed.load_checkpoint()
    message = str(caught.value)
    assert "\n" not in message and ckpt.STATE_NAME in message
    if key is not None:
        assert f"'{key}'" in message


@pytest.mark.parametrize("commands", ["ganzoo train", [1], {"a": "b"}])
def test_a_state_whose_commands_are_not_lines_is_refused(tiny_data, tmp_path, commands):
    trainer = _trainer(tiny_data, tmp_path / "run", steps=1)
    trainer.fit()
    saved = {**TrainingState.capture(trainer).to_dict(), "commands": commands}
    with pytest.raises(GanzooError, match="invalid 'commands'; start a new run"):
        TrainingState.from_dict(saved, "x")


def test_moved_names_still_import_from_base():
    from ganzoo.train import base, config, signals

    assert base.TrainConfig is config.TrainConfig
    assert base.TrainResult is config.TrainResult
    assert base.check_at_least is config.check_at_least
    assert base.check_positive is config.check_positive
    assert base.TrainingInterrupted is signals.TrainingInterrupted


def test_the_loops_neighbours_do_not_import_the_loop():
    import ganzoo.train

    package = Path(ganzoo.train.__file__).parent
    for name in ("config", "state", "signals", "export", "run_folder", "checkpoint"):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert "ganzoo.train.base" not in imported, name
