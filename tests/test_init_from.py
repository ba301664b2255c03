"""``--init-from``: a new run from a checkpoint's networks, its lineage, its refusals."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from cli_checks import invoke, one_line_error
from ganzoo import GanzooError, create_model
from ganzoo.data import ImageDataset
from ganzoo.hub import ONLINE_WEIGHTS_NAME
from ganzoo.lineage import check_lineage, table_rows
from tiny import TinyTrainConfig, TinyTrainer


def tiny_args(npz, out, *extra):
    data = ["--dataset", f"npz:{npz}", "--device", "cpu", "--quiet", "--ema", "0.9"]
    return ["train", "tiny", "--out", out, *data, *extra]


@pytest.fixture
def first_leg(tiny_npz, tmp_path):
    out = tmp_path / "leg1"
    result = invoke(*tiny_args(tiny_npz, out, "--steps", 4))
    assert result.exit_code == 0, result.output
    return out


def test_a_run_with_an_ema_exports_the_online_weights_beside_the_average(first_leg):
    exported = load_file(str(first_leg / "model.safetensors"))
    online = load_file(str(first_leg / ONLINE_WEIGHTS_NAME))
    assert online and all(k.startswith("generator.") for k in online)
    raw = load_file(str(first_leg / "checkpoint" / "model.safetensors"))
    for key, value in online.items():
        assert torch.equal(value, raw[key])  # the trained network's own weights
    assert any(not torch.equal(exported[k], online[k]) for k in online)  # G is the average


def test_init_from_starts_from_the_checkpoints_networks_and_average(first_leg, tiny_data):
    model = create_model("tiny")
    trainer = TinyTrainer(model, tiny_data, TinyTrainConfig(steps=1, ema_decay=0.9))
    trainer.init_from(str(first_leg))
    raw = load_file(str(first_leg / "checkpoint" / "model.safetensors"))
    for key, value in model.state_dict().items():
        assert torch.equal(value, raw[key]), key  # G online, D as trained
    average = load_file(str(first_leg / "checkpoint" / "ema.safetensors"))
    for key, value in trainer.ema.state_dict().items():
        assert torch.equal(value, average[key]), key
    assert trainer.ema.num_updates >= 4
    assert model.lineage[0]["steps"] == 4 and model.lineage[0]["init_from"] is None


def test_init_from_without_online_weights_starts_g_from_the_average(first_leg, tiny_data):
    (first_leg / ONLINE_WEIGHTS_NAME).unlink()
    model = create_model("tiny")
    trainer = TinyTrainer(model, tiny_data, TinyTrainConfig(steps=1, ema_decay=0.9))
    trainer.init_from(str(first_leg))
    exported = load_file(str(first_leg / "model.safetensors"))
    for key, value in model.state_dict().items():
        assert torch.equal(value, exported[key]), key


def test_lineage_reaches_the_card_the_summary_and_the_config(first_leg, tiny_npz, tmp_path):
    second = tmp_path / "leg2"
    result = invoke(*tiny_args(tiny_npz, second, "--steps", 3, "--init-from", first_leg))
    assert result.exit_code == 0, result.output
    summary = json.loads((second / "train_summary.json").read_text())
    assert summary["init_from"] == str(first_leg)
    assert summary["total_steps"] == 7 and len(summary["lineage"]) == 1
    legs = json.loads((second / "config.json").read_text())["lineage"]
    assert [leg["steps"] for leg in legs] == [4, 3]
    assert legs[1]["init_from"] == first_leg.name and legs[1]["command"]  # no local path
    card = (second / "README.md").read_text()
    assert "## Lineage" in card and "| 2 |" in card and "7 steps in all" in card
    assert ganzoo.from_pretrained(second).lineage == legs


def test_a_resumed_init_from_run_is_bit_identical(first_leg, tiny_npz, tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    start = ["--init-from", first_leg]
    assert invoke(*tiny_args(tiny_npz, straight, "--steps", 6, *start)).exit_code == 0
    assert invoke(*tiny_args(tiny_npz, stopped, "--steps", 3, *start)).exit_code == 0
    resumed = invoke(*tiny_args(tiny_npz, stopped, "--steps", 6, "--resume"))
    assert resumed.exit_code == 0, resumed.output
    for name in ("model.safetensors", "ema.safetensors"):
        a = load_file(str(straight / "checkpoint" / name))
        b = load_file(str(stopped / "checkpoint" / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    legs = json.loads((stopped / "config.json").read_text())["lineage"]
    assert [leg["steps"] for leg in legs] == [4, 6] and legs[1]["init_from"] == first_leg.name


def test_a_resumed_runs_lineage_names_its_first_command_and_each_resume(
    first_leg, tiny_npz, tmp_path, monkeypatch
):
    out = tmp_path / "stopped"
    lines = [
        tiny_args(tiny_npz, out, "--steps", 2, "--init-from", first_leg),
        tiny_args(tiny_npz, out, "--steps", 3, "--resume"),
        tiny_args(tiny_npz, out, "--steps", 5, "--resume", "--lr", "0.001"),
    ]
    for line in lines:
        monkeypatch.setattr("sys.argv", ["ganzoo", *map(str, line)])
        result = invoke(*line)
        assert result.exit_code == 0, result.output
    leg = json.loads((out / "config.json").read_text())["lineage"][-1]
    parts = leg["command"].split(" && ")
    assert len(parts) == 3 and parts[0].endswith("--init-from leg1")
    assert "--steps 3 --resume" in parts[1] and parts[2].endswith("--lr 0.001")
    card = (out / "README.md").read_text()
    assert "--steps 2 --init-from" in card and "--steps 5 --resume --lr 0.001" in card


def test_resume_with_init_from_is_refused(first_leg, tiny_npz, tmp_path):
    out = tmp_path / "run"
    assert invoke(*tiny_args(tiny_npz, out, "--steps", 2)).exit_code == 0
    again = invoke(*tiny_args(tiny_npz, out, "--steps", 4, "--resume", "--init-from", first_leg))
    one_line_error(again, "drop --init-from when resuming")


def test_another_architecture_is_refused_naming_both(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=images)
    result = invoke(
        "train", "cnn", "--out", tmp_path / "r", "--dataset", f"npz:{tmp_path / 'd.npz'}",
        "--init-from", "dcgan-art64", "--device", "cpu", "--quiet",
    )  # fmt: skip
    one_line_error(result, "dcgan-art64", "'dcgan'", "'cnn'")


def test_an_incompatible_preset_is_refused_naming_both(tiny_npz, first_leg, tmp_path):
    args = tiny_args(tiny_npz, tmp_path / "r", "--preset", "wide", "--init-from", first_leg)
    result = invoke(*args)
    one_line_error(result, str(first_leg), "hidden=16 vs 32", "drop --preset/--model-set")


def test_a_missing_source_is_one_line(tiny_npz, tmp_path):
    result = invoke(*tiny_args(tiny_npz, tmp_path / "r", "--init-from", "no-such-model"))
    one_line_error(result, "no-such-model")


def test_init_from_after_training_is_refused(first_leg, tiny_data):
    trainer = TinyTrainer(create_model("tiny"), tiny_data, TinyTrainConfig(steps=1))
    trainer.fit()
    with pytest.raises(GanzooError, match="has not trained yet"):
        trainer.init_from(str(first_leg))


def test_damaged_online_weights_are_refused(first_leg, tiny_data):
    bad = {k: torch.zeros(3) for k in load_file(str(first_leg / ONLINE_WEIGHTS_NAME))}
    from safetensors.torch import save_file

    save_file(bad, str(first_leg / ONLINE_WEIGHTS_NAME))
    trainer = TinyTrainer(create_model("tiny"), tiny_data, TinyTrainConfig(ema_decay=0.9))
    with pytest.raises(GanzooError, match=ONLINE_WEIGHTS_NAME):
        trainer.init_from(str(first_leg))


@pytest.mark.parametrize(
    "raw,fragment",
    [("legs", "must be a list"), ([1], "must be an object"), ([{"command": [1]}], "string")],
)
def test_a_hostile_lineage_is_one_line(raw, fragment):
    with pytest.raises(GanzooError, match=fragment):
        check_lineage(raw, "config.json")


def test_lineage_table_cells_cannot_break_out():
    rows = table_rows([{"command": "a | b\n---\n<img src=x onerror=alert(1)> `x`", "steps": 2}])
    cell = rows[0]["command"]
    assert "\n" not in cell and "<" not in cell and "`" not in cell and "\\|" in cell


@pytest.mark.parametrize("name", ["dcgan-art64", "wgan-art64", "wgan-gp-art64", "vqvae-mnist"])
def test_each_bundled_gan_and_the_vqvae_can_be_fine_tuned(name, tmp_path):
    model = ganzoo.from_pretrained(name)
    shape = (6, model.config.image_size, model.config.image_size)
    if model.config.channels == 3:
        shape = (*shape, 3)
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.savez(tmp_path / "mine.npz", x=images)
    out, data = tmp_path / "ft", f"npz:{tmp_path / 'mine.npz'}"
    result = invoke(
        "train", model.architecture, "--init-from", name, "--dataset", data, "--out", out,
        "--steps", 1, "--batch-size", 4, "--device", "cpu", "--quiet", "--set", "sample_every=0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tuned = ganzoo.from_pretrained(out)
    assert tuned.lineage[-1]["init_from"] == name and tuned.lineage[-1]["steps"] == 1
    assert len(tuned.lineage) == len(model.lineage) + 1


def test_init_from_in_python_trains_on_other_data(first_leg):
    images = torch.randint(0, 256, (8, 1, 8, 8), dtype=torch.uint8)
    data = ImageDataset(images=images, labels=None, name="mine", num_classes=None)
    trainer = TinyTrainer(create_model("tiny"), data, TinyTrainConfig(steps=2))
    trainer.init_from(str(first_leg))
    result = trainer.fit()
    assert result.steps == 2 and Path(first_leg).is_dir()


@pytest.mark.parametrize("with_online", [True, False])
def test_init_from_a_hub_repo_fetches_the_online_weights_when_it_has_them(
    with_online, first_leg, tiny_data, fake_hub
):
    if not with_online:
        (first_leg / ONLINE_WEIGHTS_NAME).unlink()
    fake_hub.add_repo("org/leg1", first_leg)
    trainer = TinyTrainer(create_model("tiny"), tiny_data, TinyTrainConfig(ema_decay=0.9))
    trainer.init_from("org/leg1")
    expected = load_file(
        str(first_leg / "checkpoint" / "model.safetensors")
        if with_online
        else str(first_leg / "model.safetensors")
    )
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    fetched = [p for m, p in fake_hub.requests if m == "GET" and ONLINE_WEIGHTS_NAME in p]
    assert bool(fetched) == with_online
