"""Resume tells the truth: it continues the same run bit for bit, or refuses in one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli_checks import invoke, one_line_error
from ganzoo import GanzooError, create_model
from ganzoo.train.base import TrainingInterrupted
from ganzoo.train.callbacks import Callback
from ganzoo.train.launch import train as launch_train
from ganzoo.train.run_folder import read_metrics
from tiny import TinyTrainConfig, TinyTrainer, tiny_images

TESTS = str(Path(__file__).parent)


def weights(run):
    return load_file(str(Path(run) / "checkpoint" / "model.safetensors"))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


@pytest.fixture
def tiny_run(tiny_npz, tmp_path):
    """A finished 4-step tiny run and the arguments that made it."""
    out = tmp_path / "run"
    args = ["train", "tiny", "--dataset", f"npz:{tiny_npz}", "--out", out, "--quiet"]
    result = invoke(*args, "--steps", 4, "--device", "cpu")
    assert result.exit_code == 0, result.output
    return out, args


# ------------------------------------------------------------------ interruption
def _wait_for_log(path, child, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and path.read_text().count("\n") >= 2:
            return
        if child.poll() is not None:
            pytest.fail(child.stderr.read())
        time.sleep(0.05)
    pytest.fail("the run never logged")


CLI_CHILD = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); import tiny; "
    "from ganzoo.cli import main; main()"
)


def test_sigterm_saves_a_checkpoint_and_resume_is_bit_identical(tiny_npz, tmp_path):
    out = tmp_path / "run"
    data = f"npz:{tiny_npz}"
    common = ["--dataset", data, "--device", "cpu", "--quiet", "--set", "log_every=1"]
    child = subprocess.Popen(
        [sys.executable, "-c", CLI_CHILD, TESTS, "train", "tiny", "--out", str(out),
         "--steps", "10000000", *common],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_log(out / "metrics.jsonl", child)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 143, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "stopped by SIGTERM at step" in lines[0], err
    stopped = int(json.loads((out / "checkpoint" / "train_config.json").read_text())["steps"])
    assert stopped == 10_000_000
    step = torch.load(out / "checkpoint" / "trainer_state.pt", weights_only=True)["step"]
    assert 0 < step < 10_000_000
    final = step + 3
    resumed = invoke("train", "tiny", "--out", out, "--resume", "--steps", final, *common)
    assert resumed.exit_code == 0, resumed.output
    straight = invoke("train", "tiny", "--out", tmp_path / "straight", "--steps", final, *common)
    assert straight.exit_code == 0, straight.output
    assert_same_weights(out, tmp_path / "straight")
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == list(range(1, final + 1))


def test_ctrl_c_checkpoints_then_raises_and_restores_the_handler(tiny_data, tmp_path):
    class CtrlC(Callback):
        def on_step_end(self, trainer, step):
            if step == 3:
                os.kill(os.getpid(), signal.SIGINT)

    torch.manual_seed(0)
    config = TinyTrainConfig(device="cpu", quiet=True, out_dir=str(tmp_path / "run"), steps=50)
    trainer = TinyTrainer(create_model("tiny"), tiny_data, config, callbacks=[CtrlC()])
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted, match="stopped by SIGINT at step 4") as caught:
        trainer.fit()
    assert caught.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before
    state = torch.load(tmp_path / "run" / "checkpoint" / "trainer_state.pt", weights_only=True)
    assert state["step"] == 4


# ------------------------------------------------------------------ refused changes
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--seed", 1], "seed"),
        (["--batch-size", 8], "batch_size"),
        (["--preset", "wide"], "model.hidden"),
        (["--recipe", "strong-d"], "d_weight"),
        (["--set", "d_weight=3"], "d_weight"),
        (["--precision", "bf16"], "precision"),
    ],
)
def test_resume_refuses_a_changed_run_in_one_line(tiny_run, extra, field):
    out, args = tiny_run
    before = weights(out)
    line = one_line_error(invoke(*args, "--resume", "--steps", 6, *extra), "cannot resume", field)
    assert "changed from the saved run" in line
    after = weights(out)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_resume_with_the_same_recipe_and_preset_continues(tiny_run):
    out, args = tiny_run
    result = invoke(*args, "--resume", "--steps", 6, "--recipe", "report", "--preset", "report")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 6


def test_resume_refuses_another_data_set(tiny_run, tmp_path):
    out, args = tiny_run
    other = tmp_path / "other.npz"
    np.savez(other, x=tiny_images(seed=1).numpy())
    args = [a if not str(a).startswith("npz:") else f"npz:{other}" for a in args]
    one_line_error(invoke(*args, "--resume", "--steps", 6), "cannot resume", "data.images")


def test_resume_refuses_changed_images_of_the_same_name(tiny_run, tiny_npz):
    out, args = tiny_run
    np.savez(tiny_npz, x=tiny_images(seed=5).numpy())  # same file name, other pictures
    one_line_error(invoke(*args, "--resume", "--steps", 6), "cannot resume", "data.images")


def test_resume_refuses_fewer_steps_than_done(tiny_run):
    out, args = tiny_run
    one_line_error(invoke(*args, "--resume", "--steps", 2), "already at step 4", "steps >= 4")


def test_resume_may_change_intervals_and_quiet(tiny_run):
    out, args = tiny_run
    result = invoke(*args, "--resume", "--steps", 6, "--set", "log_every=3", "--device", "cpu")
    assert result.exit_code == 0, result.output


def test_resume_reapplies_a_changed_learning_rate(tiny_npz, tmp_path):
    out = tmp_path / "run"
    common = {"dataset": f"npz:{tiny_npz}", "device": "cpu", "quiet": True}
    launch_train("tiny", out_dir=out, steps=4, lr=2e-4, **common)
    trainer, _ = launch_train("tiny", out_dir=out, resume=True, steps=6, lr=1e-3, **common)
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers.values()] == [1e-3, 1e-3]
    saved = json.loads((out / "checkpoint" / "train_config.json").read_text())
    assert saved["lr"] == 1e-3


def test_resume_rescales_a_learning_rate_schedule(tiny_data, tmp_path):
    def trainer(lr, steps=8):
        torch.manual_seed(0)
        config = TinyTrainConfig(
            device="cpu", quiet=True, out_dir=str(tmp_path / "run"), steps=steps, lr=lr,
            lr_decay_start=0.5,
        )  # fmt: skip
        return TinyTrainer(create_model("tiny"), tiny_data, config)

    trainer(1e-3, steps=6).fit()  # decay from step 3 of 6
    resumed = trainer(5e-4, steps=6)
    resumed.load_checkpoint()
    # at step 6 of 6 the factor is 0; the base is the new lr
    assert resumed.schedulers["g"].base_lrs == [5e-4]


def test_resume_may_add_a_learning_rate_decay_that_starts_at_the_step_reached(tiny_npz, tmp_path):
    out = tmp_path / "run"
    common = {"dataset": f"npz:{tiny_npz}", "device": "cpu", "quiet": True, "lr": 1e-3}
    launch_train("tiny", out_dir=out, steps=4, **common)  # constant rate
    trainer, _ = launch_train(
        "tiny", out_dir=out, resume=True, steps=8, lr_decay_start=0.5, max_seconds=None, **common
    )
    # decay from step 4 of 8: after the last step the rate is zero, one step before 1/4 of it
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers.values()] == [0.0, 0.0]
    assert trainer.schedulers["g"].last_epoch == 8
    factors = [trainer.schedulers["g"].lr_lambdas[0](s) for s in (4, 5, 7)]
    assert factors == [1.0, 0.75, 0.25]
    saved = json.loads((out / "checkpoint" / "train_config.json").read_text())
    assert saved["lr_decay_start"] == 0.5
    # dropping the schedule again: back to the base rate, constant
    again, _ = launch_train("tiny", out_dir=out, resume=True, steps=9, lr_decay_start=1.0, **common)
    assert [o.param_groups[0]["lr"] for o in again.optimizers.values()] == [1e-3, 1e-3]
    assert again.schedulers == {}


def test_a_decay_and_a_new_rate_added_on_resume_are_applied_once(tiny_data, tmp_path):
    def trainer(lr, steps, start=1.0):
        config = TinyTrainConfig(
            device="cpu", quiet=True, out_dir=str(tmp_path / "run"), steps=steps, lr=lr,
            lr_decay_start=start,
        )  # fmt: skip
        return TinyTrainer(create_model("tiny"), tiny_data, config)

    trainer(1e-3, steps=4).fit()  # constant rate
    resumed = trainer(5e-4, steps=8, start=0.25)  # from step 2 of 8: (8 - 4) / (8 - 2) at 4
    resumed.load_checkpoint()
    assert resumed.schedulers["g"].base_lrs == pytest.approx([5e-4])
    assert [o.param_groups[0]["lr"] for o in resumed.optimizers.values()] == pytest.approx(
        [5e-4 * 4 / 6] * 2
    )


def test_resume_of_a_semi_supervised_run_refuses_other_labels(tmp_path):
    from mnist_fixtures import synthetic_digits

    data = synthetic_digits()
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    out = tmp_path / "cnn"
    args = ["train", "cnn", "--dataset", f"npz:{npz}", "--out", out, "--quiet", "--device", "cpu",
            "--batch-size", 8, "--set", "labeled_batch=4"]  # fmt: skip
    assert invoke(*args, "--labels", 10, "--steps", 2).exit_code == 0
    one_line_error(invoke(*args, "--labels", 20, "--steps", 4, "--resume"), "labels")
    one_line_error(
        invoke(*args, "--labels", 10, "--steps", 4, "--resume", "--set", "label_seed=3"),
        "label_seed",
    )


def test_resume_of_a_joint_sgan_run_refuses_the_report_protocol(tmp_path):
    from mnist_fixtures import synthetic_digits

    data = synthetic_digits()
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    out = tmp_path / "sgan"
    args = ["train", "sgan", "--dataset", f"npz:{npz}", "--out", out, "--quiet", "--device", "cpu",
            "--labels", 10, "--batch-size", 8, "--set", "labeled_batch=4"]  # fmt: skip
    first = invoke(*args, "--recipe", "fm", "--steps", 1, "--set", "eval_every=0")
    assert first.exit_code == 0, first.output
    line = one_line_error(
        invoke(*args, "--steps", 2, "--resume", "--set", "joint_d_update=false"), "cannot resume"
    )
    assert "joint_d_update" in line


def test_python_api_resume_refuses_a_changed_config(tiny_data, tmp_path):
    def trainer(**overrides):
        torch.manual_seed(0)
        config = TinyTrainConfig(device="cpu", quiet=True, out_dir=str(tmp_path / "r"), **overrides)
        return TinyTrainer(create_model("tiny"), tiny_data, config)

    trainer(steps=2).fit()
    with pytest.raises(
        GanzooError, match="cannot resume .*: changed from the saved run: d_weight, seed "
    ):
        trainer(steps=4, seed=3, d_weight=2.0).fit(resume=True)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        ({"surprise": 1}, "unknown key(s) surprise"),
        ({"steps": "ten"}, "steps must be an integer"),
        ({"lr": -1.0}, "lr must be a positive"),
    ],
)
def test_a_bad_saved_train_config_is_one_line(tiny_run, edit, fragment):
    out, args = tiny_run
    path = out / "checkpoint" / "train_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    one_line_error(invoke(*args, "--resume", "--steps", 6), "train_config.json", fragment)


# ------------------------------------------------------------------ the metrics log
def test_resume_cuts_the_log_back_and_survives_a_cut_off_line(tiny_run):
    out, args = tiny_run
    log = out / "metrics.jsonl"
    # killed after logging steps 5 and 6 (never checkpointed) in the middle of a line
    with open(log, "a") as f:
        f.write('{"step": 5, "kind": "train", "d": 1.0}\n')
        f.write('{"step": 6, "kind": "train", "d": 1.0}\n')
        f.write('{"step": 7, "kind": "tr')
    result = invoke(*args, "--resume", "--steps", 8)
    assert result.exit_code == 0, result.output
    steps = [r["step"] for r in read_metrics(log) if r["kind"] == "train"]
    assert steps == [2, 4, 6, 8]
    assert all(json.loads(line) for line in log.read_text().splitlines())
    assert (out / "plots" / "losses.png").is_file()


def test_reading_metrics_skips_bad_lines_anywhere(tmp_path):
    from ganzoo.train.plots import plot_run

    log = tmp_path / "metrics.jsonl"
    log.write_text(
        '{"step": 1, "kind": "train", "d": 0.5}\nnot json\n[1, 2]\n\n'
        '{"step": 2, "kind": "train", "d": 0.4}\n{"step": 3, "ki'
    )
    assert [r["step"] for r in read_metrics(log)] == [1, 2]
    assert plot_run(tmp_path) == [tmp_path / "plots" / "losses.png"]
