"""The run folder: same files from Python and the CLI, never a user's folder, one run at a time."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ganzoo import GanzooError, create_model
from ganzoo.catalog import PRETRAINED_DIR
from ganzoo.cli import app
from ganzoo.io import atomic
from ganzoo.train.run_folder import LOCK_NAME, MARKER_NAME, RunFolder
from tiny import TinyTrainConfig, TinyTrainer

TESTS = str(Path(__file__).parent)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def tiny_trainer(data, out, **overrides):
    torch.manual_seed(0)
    config = TinyTrainConfig(device="cpu", quiet=True, out_dir=str(out), **overrides)
    return TinyTrainer(create_model("tiny"), data, config)


def test_python_api_and_cli_leave_the_same_files(tiny_data, tiny_npz, tmp_path):
    tiny_trainer(tiny_data, tmp_path / "api", steps=4).fit()
    cli = invoke(
        "train", "tiny", "--dataset", f"npz:{tiny_npz}", "--steps", 4, "--out", tmp_path / "cli",
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert files(tmp_path / "api") == files(tmp_path / "cli")
    assert "train_summary.json" in files(tmp_path / "api")
    summary = json.loads((tmp_path / "api" / "train_summary.json").read_text())
    # what scripts/bundle_pretrained.py reads
    assert {"command", "steps", "seconds", "device", "torch"} <= set(summary)
    assert summary["steps"] == 4 and summary["device"] == "cpu"
    printed = json.loads(cli.stdout)
    assert printed == json.loads((tmp_path / "cli" / "train_summary.json").read_text())


def test_train_refuses_a_folder_holding_an_exported_model(tiny_npz, tmp_path):
    out = tmp_path / "mine"
    shutil.copytree(PRETRAINED_DIR / "sgan-mnist-100", out)
    before = {name: (out / name).read_bytes() for name in files(out)}
    args = ["train", "tiny", "--dataset", f"npz:{tiny_npz}", "--steps", 2, "--out", out]
    one_line_error(invoke(*args, "--quiet"), "not a ganzoo run folder", "--overwrite")
    assert {name: (out / name).read_bytes() for name in files(out)} == before
    forced = invoke(*args, "--quiet", "--overwrite", "--device", "cpu")
    assert forced.exit_code == 0, forced.output
    assert (out / MARKER_NAME).is_file()


def test_trainer_refuses_a_folder_that_is_not_a_run_unless_asked(tiny_data, tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(GanzooError, match="not a ganzoo run folder"):
        tiny_trainer(tiny_data, out, steps=2).fit()
    assert files(out) == ["thesis.tex"]
    tiny_trainer(tiny_data, out, steps=2).fit(overwrite=True)
    assert (out / "thesis.tex").read_text() == "years of work"
    assert (out / MARKER_NAME).is_file() and (out / "model.safetensors").is_file()


def test_a_new_or_empty_folder_becomes_a_run(tiny_data, tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "new"):
        tiny_trainer(tiny_data, tmp_path / name, steps=2).fit()
        assert (tmp_path / name / MARKER_NAME).is_file()


def test_a_locked_run_folder_is_refused_naming_the_holder(tiny_data, tiny_npz, tmp_path):
    out = tmp_path / "run"
    holder = RunFolder(out)
    holder.open()  # this process holds the lock through its own open file description
    try:
        assert f"pid {os.getpid()}" in (out / LOCK_NAME).read_text()
        with pytest.raises(
            GanzooError, match=f"in use by another training run \\(pid {os.getpid()} on "
        ):
            tiny_trainer(tiny_data, out, steps=2).fit()
        result = invoke(
            "train", "tiny", "--dataset", f"npz:{tiny_npz}", "--steps", 2, "--out", out, "--quiet"
        )
        one_line_error(result, "in use by another training run", f"pid {os.getpid()}")
        assert not (out / "checkpoint").exists()
    finally:
        holder.unlock()
    assert tiny_trainer(tiny_data, out, steps=2).fit().steps == 2  # free again


def test_the_lock_is_released_when_fit_fails(tiny_data, tmp_path):
    trainer = tiny_trainer(tiny_data, tmp_path / "run", steps=2)

    def boom(batch):
        raise RuntimeError("bug in a step")

    trainer.train_step = boom
    with pytest.raises(RuntimeError):
        trainer.fit()
    other = RunFolder(tmp_path / "run")
    other.lock()
    other.unlock()


def test_checkpoint_temporaries_have_per_process_names(tmp_path):
    seen = []
    for _ in range(2):
        atomic.write_folder_atomically(tmp_path / "checkpoint", lambda tmp: seen.append(tmp.name))
    assert all(name.startswith(f".checkpoint.tmp{os.getpid()}-") for name in seen)
    assert len(set(seen)) == 2  # no two writes share a temporary
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]


def test_stale_temporaries_of_killed_runs_are_removed_under_the_lock(tmp_path):
    run = RunFolder(tmp_path / "run")
    stale = tmp_path / "run" / ".checkpoint.tmp99999999"
    stale.mkdir(parents=True)
    (tmp_path / "run" / MARKER_NAME).write_text("{}")
    run.open()
    run.unlock()
    assert not stale.exists()


LOCK_HOLDER = r"""
import sys, time
from ganzoo.train.run_folder import RunFolder
RunFolder(sys.argv[1]).open()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_run_in_another_process_is_refused(tiny_data, tmp_path):
    out = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(GanzooError, match=f"pid {child.pid} on "):
            tiny_trainer(tiny_data, out, steps=2).fit()
    finally:
        child.kill()
        child.wait()
