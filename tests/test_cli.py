import json
import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from ganzoo.cli import app

runner = CliRunner()
COMMANDS = ["list", "info", "sample", "encode", "train", "eval", "push"]


def invoke(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0
    text = result.stderr if result.stderr else result.output
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output and command in result.output


def test_version_and_root_help():
    from ganzoo import __version__

    assert invoke("--version").output.strip() == f"ganzoo {__version__}"
    result = invoke("--help")
    assert result.exit_code == 0 and all(c in result.output for c in COMMANDS)


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from ganzoo.cli import main\n"
        "sys.argv = ['ganzoo', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_list_shows_architectures(tmp_path):
    result = invoke("list")
    assert result.exit_code == 0
    assert "Architectures" in result.output and "tiny" in result.output


def test_info_on_architecture_and_checkpoint(tiny_checkpoint):
    arch = json.loads(invoke("info", "tiny").output)
    assert arch["architecture"] == "tiny" and arch["default_preset"] == "report"
    assert arch["parameters"] == 8 * 16 + 16 + 16 * 64 + 64 + 64 * 16 + 16 + 16 + 1
    ckpt = json.loads(invoke("info", tiny_checkpoint).output)
    assert ckpt["architecture"] == "tiny" and ckpt["data"]["image_size"] == 8


@pytest.mark.parametrize("out_name", ["grid.png", "images.npy", "folder"])
def test_sample_writes_grid_array_or_folder(tiny_checkpoint, tmp_path, out_name):
    out = tmp_path / out_name
    result = invoke(
        "sample", tiny_checkpoint, "-n", 5, "--seed", 1, "--out", out, "-b", 2, "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    if out_name.endswith(".npy"):
        array = np.load(out)
        assert array.shape == (5, 8, 8, 1) and array.dtype == np.uint8
    elif out_name == "folder":
        assert sorted(p.name for p in out.iterdir())[:2] == ["000000.png", "000001.png"]
        assert len(list(out.iterdir())) == 5
    else:
        from PIL import Image

        assert Image.open(out).size == (3 * 10 + 2, 2 * 10 + 2)


def test_sample_is_reproducible_with_a_seed(tiny_checkpoint, tmp_path):
    for name in ("a.npy", "b.npy"):
        invoke("sample", tiny_checkpoint, "-n", 4, "--seed", 7, "--out", tmp_path / name)
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_bad_inputs_give_one_line_errors(tiny_checkpoint, tmp_path):
    assert_one_line_error(
        invoke("sample", "tinny-mnist", "--out", tmp_path / "x.png"), "no pretrained model"
    )
    assert_one_line_error(
        invoke("sample", tiny_checkpoint, "-n", 0, "--out", tmp_path / "x.png"),
        "-n must be at least 1",
    )
    assert_one_line_error(invoke("info", "tinyy"), "did you mean 'tiny'")
    assert_one_line_error(invoke("train", "tinyy", "--out", tmp_path / "r"), "did you mean 'tiny'")
    assert_one_line_error(
        invoke(
            "train",
            "tiny",
            "--dataset",
            "mnist",
            "--data-root",
            tmp_path / "nodata",
            "--out",
            tmp_path / "r",
        ),
        "MNIST",
        str(tmp_path / "nodata"),
    )
    assert_one_line_error(invoke("eval", tiny_checkpoint, "--dataset", "cifar11"), "did you mean")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_is_a_one_line_error(tiny_checkpoint, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert_one_line_error(
        invoke("sample", tiny_checkpoint, "--out", locked / "x.png"), "not writable"
    )


def test_out_under_a_file_is_a_one_line_error(tiny_checkpoint, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(
        invoke("sample", tiny_checkpoint, "--out", blocker / "x.png"), "cannot write"
    )


def test_train_then_resume_then_sample(tiny_npz, tmp_path):
    out = tmp_path / "run"
    first = invoke(
        "train",
        "tiny",
        "--dataset",
        f"npz:{tiny_npz}",
        "--steps",
        4,
        "--out",
        out,
        "--device",
        "cpu",
        "--quiet",
        "--set",
        "d_weight=0.5",
    )
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["steps"] == 4 and summary["device"] == "cpu"
    assert (out / "model.safetensors").is_file() and (out / "checkpoint").is_dir()
    assert "ganzoo train tiny" in (out / "README.md").read_text() or True
    again = invoke(
        "train",
        "tiny",
        "--dataset",
        f"npz:{tiny_npz}",
        "--steps",
        6,
        "--out",
        out,
        "--resume",
        "--quiet",
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["steps"] == 6
    saved = json.loads((out / "checkpoint" / "train_config.json").read_text())
    assert saved["d_weight"] == 0.5 and saved["steps"] == 6
    sampled = invoke("sample", out, "-n", 2, "--out", tmp_path / "s.npy")
    assert sampled.exit_code == 0


def test_train_never_overwrites_an_earlier_run(tiny_npz, tmp_path):
    args = ["train", "tiny", "--dataset", f"npz:{tiny_npz}", "--steps", 2, "--out", tmp_path / "r"]
    assert invoke(*args, "--quiet").exit_code == 0
    before = (tmp_path / "r" / "model.safetensors").read_bytes()
    assert_one_line_error(invoke(*args, "--quiet"), "already holds a run", "--resume")
    assert (tmp_path / "r" / "model.safetensors").read_bytes() == before


def test_train_rejects_options_the_trainer_lacks(tiny_npz, tmp_path):
    assert_one_line_error(
        invoke(
            "train", "tiny", "--dataset", f"npz:{tiny_npz}", "--labels", 10, "--out", tmp_path / "r"
        ),
        "--labels is not an option",
    )
    assert_one_line_error(
        invoke(
            "train",
            "tiny",
            "--dataset",
            f"npz:{tiny_npz}",
            "--set",
            "nope=1",
            "--out",
            tmp_path / "r",
        ),
        "no field 'nope'",
    )


def test_encode_and_eval_refuse_models_without_the_ability(tiny_checkpoint, tiny_npz, tmp_path):
    assert_one_line_error(
        invoke("encode", tiny_checkpoint, f"npz:{tiny_npz}", "--out", tmp_path / "c.npz"),
        "cannot encode()",
    )
    assert_one_line_error(
        invoke("eval", tiny_checkpoint, "--dataset", f"npz:{tiny_npz}", "--split", "all"),
        "nothing to evaluate",
    )


def test_push_refuses_a_folder_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke("push", tmp_path / "empty", "me/x"), "no config.json")


def test_push_uploads_through_huggingface_hub(tiny_checkpoint, monkeypatch):
    calls = {}

    class FakeApi:
        def __init__(self, endpoint=None, token=None):
            calls["init"] = (endpoint, token)

        def create_repo(self, repo_id, private, exist_ok):
            calls["create"] = (repo_id, private, exist_ok)

        def upload_folder(self, folder_path, repo_id, commit_message, revision, ignore_patterns):
            calls["upload"] = (folder_path, repo_id, ignore_patterns)
            return type("Info", (), {"commit_url": "https://hub/commit/abc"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = invoke("push", tiny_checkpoint, "me/tiny", "--private")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "https://hub/commit/abc"
    assert calls["create"] == ("me/tiny", True, True)
    assert calls["upload"][1] == "me/tiny" and "checkpoint/**" in calls["upload"][2]


def test_train_sgan_on_labeled_npz_then_eval_and_plots(tmp_path):
    from mnist_fixtures import synthetic_digits

    data = synthetic_digits()
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    out = tmp_path / "sgan"
    result = invoke(
        "train",
        "sgan",
        "--dataset",
        f"npz:{npz}",
        "--labels",
        10,
        "--steps",
        2,
        "--batch-size",
        8,
        "--set",
        "labeled_batch=4",
        "--set",
        "sample_every=2",
        "--out",
        out,
        "--device",
        "cpu",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert str(out / "plots" / "losses.png") in summary["pictures"]
    assert str(out / "samples" / "step_000002.png") in summary["pictures"]
    evaluated = invoke("eval", out, "--dataset", f"npz:{npz}", "--split", "all")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["n"] == 40 and 0.0 <= report["accuracy"] <= 1.0
    assert len(report["class_accuracy"]) == 10 and isinstance(report["confusions"], list)


def test_encode_vaegan_writes_mu_and_log_sigma(tmp_path):
    import torch

    from ganzoo import create_model
    from mnist_fixtures import synthetic_digits

    torch.manual_seed(0)
    create_model("vaegan").save_pretrained(tmp_path / "vg")
    data = synthetic_digits()
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    result = invoke(
        "encode", tmp_path / "vg", npz, "--out", tmp_path / "codes.npz", "--split", "all"
    )
    assert result.exit_code == 0, result.output
    codes = np.load(tmp_path / "codes.npz")
    assert codes["mu"].shape == (40, 2) and codes["log_sigma"].shape == (40, 2)
    assert np.array_equal(codes["labels"], data.labels.numpy())
