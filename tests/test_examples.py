"""The scripts in examples/ run end to end on tiny synthetic data (no network, CPU)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo import create_model
from mnist_fixtures import synthetic_digits

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sgan_folder(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "sgan"
    create_model("sgan").save_pretrained(folder)
    return folder


@pytest.fixture
def digits_npz(tmp_path):
    data = synthetic_digits(per_class=12)
    path = tmp_path / "digits.npz"
    np.savez(path, x=data.images.numpy(), y=data.labels.numpy())
    return path


def test_every_example_is_tested():
    tested = {"sample_and_classify", "fine_tune", "largest_confusions"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_sample_and_classify_writes_the_grid_and_counts_every_sample(sgan_folder, tmp_path):
    out = tmp_path / "digits.png"
    counts = load_example("sample_and_classify").main(
        ["--model", str(sgan_folder), "-n", "12", "--out", str(out), "--device", "cpu"]
    )
    assert out.stat().st_size > 0
    assert sum(counts.values()) == 12 and set(counts) <= set(range(10))


def test_fine_tune_trains_and_saves_a_loadable_run(sgan_folder, digits_npz, tmp_path, capsys):
    out = tmp_path / "run"
    result = load_example("fine_tune").main(
        [
            "--model", str(sgan_folder), "--dataset", f"npz:{digits_npz}",
            "--eval-split", "all", "--labels", "20", "--steps", "2", "--eval-every", "1",
            "--out", str(out), "--device", "cpu",
        ]
    )  # fmt: skip
    assert 0.0 <= result["before"] <= 1.0 and 0.0 <= result["after"] <= 1.0
    before, after = ganzoo.from_pretrained(sgan_folder), ganzoo.from_pretrained(out)
    changed = [
        name
        for name, weight in after.state_dict().items()
        if not torch.equal(weight, before.state_dict()[name])
    ]
    assert changed, "fine-tuning left every weight as it was"
    assert "step      1: test_accuracy" in capsys.readouterr().out


def test_largest_confusions_shows_one_row_per_confusion(sgan_folder, digits_npz, tmp_path):
    out = tmp_path / "confusions.png"
    confusions = load_example("largest_confusions").main(
        [
            "--model", str(sgan_folder), "--dataset", f"npz:{digits_npz}", "--split", "all",
            "--top", "2", "--per-row", "4", "--out", str(out), "--device", "cpu",
        ]
    )  # fmt: skip
    assert 1 <= len(confusions) <= 2  # an untrained model confuses classes
    from PIL import Image

    width, height = Image.open(out).size
    assert height < width  # rows of 4, one per confusion
