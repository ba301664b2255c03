"""The VQ-VAE from the command line: two training stages, encode, eval, sample, info."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import ganzoo
from ganzoo.cli import app
from ganzoo.data import load_dataset, to_unit_range
from ganzoo.io.images import to_uint8
from mnist_fixtures import synthetic_digits

runner = CliRunner()
FAST = ["--device", "cpu", "--quiet", "--batch-size", "8"]
PRIOR = 'prior={"num_layers": 2, "hidden_channels": 8}'


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 3-step autoencoder run and a 3-step prior run on it, through the CLI."""
    root = tmp_path_factory.mktemp("vq")
    data = synthetic_digits(2)
    npz = root / "digits.npz"
    np.savez(npz, x=data.images[:, 0].numpy(), y=data.labels.numpy())
    dataset = f"npz:{npz}"
    vq, prior = root / "vq", root / "vq-prior"
    first = invoke("train", "vqvae", "--dataset", dataset, "--out", vq, "--steps", 3, *FAST)
    assert first.exit_code == 0, first.output
    second = invoke(
        "train", "vqvae", "--stage", "prior", "--from", vq, "--dataset", dataset,
        "--out", prior, "--steps", 3, "--set", PRIOR, *FAST,
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    return {"root": root, "npz": npz, "dataset": dataset, "vq": vq, "prior": prior}


def test_two_stages_give_one_folder_that_loads_and_samples_with_a_seed(runs):
    summary = json.loads((runs["prior"] / "train_summary.json").read_text())
    assert summary["steps"] == 3 and "train/bits_per_dim" in summary
    model = ganzoo.from_pretrained(str(runs["prior"]))
    assert model.architecture == "vqvae" and model.prior is not None
    assert model.config.prior.num_layers == 2
    first, again = model.sample(4, seed=7), model.sample(4, seed=7)
    assert first.shape == (4, 1, 28, 28) and torch.equal(first, again)
    assert not torch.equal(first, model.sample(4, seed=8))
    autoencoder = ganzoo.from_pretrained(str(runs["vq"]))
    for name, value in autoencoder.state_dict().items():  # stage two froze stage one
        assert torch.equal(model.state_dict()[name], value), name
    out = runs["root"] / "samples.npy"
    result = invoke("sample", runs["prior"], "-n", 4, "--seed", 7, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    pixels = to_uint8(first).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(np.load(out), pixels)


def test_sample_of_a_vqvae_without_prior_is_the_models_one_line_error(runs):
    result = invoke("sample", runs["vq"], "-n", 2, "--out", runs["root"] / "none.png")
    one_line_error(result, "no prior over its codes", "--stage prior")
    assert not (runs["root"] / "none.png").exists()


def test_encode_keeps_the_integer_codes_unchanged(runs, tmp_path):
    out = tmp_path / "codes.npz"
    result = invoke("encode", runs["vq"], runs["npz"], "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    saved = np.load(out)
    assert saved["codes"].dtype == np.int16 and saved["codes"].shape == (20, 7, 7)
    model = ganzoo.from_pretrained(str(runs["vq"]))
    images = to_unit_range(load_dataset(runs["dataset"], "all").images)
    with torch.no_grad():
        expected = model.encode(images)
    assert np.array_equal(saved["codes"].astype(np.int64), expected.numpy())
    assert np.array_equal(saved["labels"], synthetic_digits(2).labels.numpy())


def test_encode_of_one_image_file(runs, tmp_path):
    from PIL import Image

    picture = synthetic_digits(1).images[3, 0].numpy()
    Image.fromarray(picture, mode="L").save(tmp_path / "digit.png")
    out = tmp_path / "one.npz"
    result = invoke("encode", runs["vq"], tmp_path / "digit.png", "--out", out)
    assert result.exit_code == 0, result.output
    codes = np.load(out)["codes"]
    model = ganzoo.from_pretrained(str(runs["vq"]))
    with torch.no_grad():
        expected = model.encode(to_unit_range(torch.from_numpy(picture)[None, None]))
    assert codes.dtype == np.int16 and np.array_equal(codes, expected.numpy())
    missing = invoke(
        "encode", runs["vq"], f"image:{tmp_path / 'nope.png'}", "--out", out.with_stem("x")
    )
    one_line_error(missing, "nope.png")


def test_eval_gives_mse_psnr_perplexity_used_codes_and_the_priors_bits(runs):
    results = {}
    for name in ("vq", "prior"):
        result = invoke("eval", runs[name], "--dataset", runs["dataset"], "--split", "all")
        assert result.exit_code == 0, result.output
        results[name] = json.loads(result.stdout)
    keys = {"mse", "psnr", "perplexity", "used_codes"}
    assert keys <= set(results["vq"]) and "prior_bits_per_dim" not in results["vq"]
    assert keys | {"prior_bits_per_dim"} <= set(results["prior"])
    assert results["prior"]["mse"] == results["vq"]["mse"]
    assert 0 < results["prior"]["prior_bits_per_dim"] < 12
    assert 1 <= results["vq"]["perplexity"] <= results["vq"]["used_codes"] <= 64


def test_stage_and_from_errors_are_one_line(runs, tmp_path):
    dataset = ["--dataset", runs["dataset"], *FAST]
    out = tmp_path / "new"
    one_line_error(
        invoke("train", "vqvae", "--stage", "priors", "--out", out, *dataset),
        "no training stage 'priors'", "did you mean 'prior'", "stages: autoencoder, prior",
    )  # fmt: skip
    one_line_error(
        invoke("train", "vqvae", "--stage", "prior", "--out", out, *dataset), "pass --from"
    )
    one_line_error(
        invoke("train", "vqvae", "--stage", "prior", "--from", tmp_path / "none", "--out", out,
               *dataset),
        "no such folder",
    )  # fmt: skip
    one_line_error(
        invoke("train", "vqvae", "--stage", "prior", "--from", "vqvae-nowhere", "--out", out,
               *dataset),
        "no pretrained model",
    )  # fmt: skip
    one_line_error(
        invoke("train", "vqvae", "--from", runs["vq"], "--out", out, *dataset),
        "trains a new model", "--stage prior",
    )  # fmt: skip
    one_line_error(
        invoke("train", "vqvae", "--stage", "prior", "--from", runs["vq"], "--out", runs["vq"],
               *dataset),
        "--out must be a new folder",
    )  # fmt: skip
    one_line_error(
        invoke("train", "vqvae", "--stage", "prior", "--from", runs["vq"], "--out", out,
               "--preset", "cifar10", *dataset),
        "drop --preset",
    )  # fmt: skip
    one_line_error(invoke("train", "sgan", "--stage", "prior", "--out", out), "stages: train")
    one_line_error(
        invoke("train", "vqvae", "--out", runs["prior"], "--resume", "--steps", 5, *dataset),
        "resume it with --stage prior",
    )
    assert not out.exists()


def test_info_lists_the_stages():
    result = invoke("info", "vqvae")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trainer"] == "VQVAETrainer" and set(report["recipes"]) == {"report", "best"}
    assert report["stages"]["prior"] == {
        "trainer": "PriorTrainer",
        "continues": "autoencoder",
        "default_recipe": "default",
        "recipes": ["default"],
    }
    assert report["stages"]["autoencoder"]["continues"] is None
