"""Several processes under ``torchrun`` (Gloo on the CPU): one answer, averaged losses.

Each torchrun start costs seconds (every process imports torch), so the fast tests
check as much as they can per start. They share an xdist group: torchrun's rendezvous
and the processes' threads should not compete with another torchrun run.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_checks import invoke

pytestmark = pytest.mark.xdist_group("torchrun")

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"
PRIOR = 'prior={"num_layers": 2, "hidden_channels": 8}'


def torchrun(*args, timeout=180, fast_dev_run=None):
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 ARGS``, finished."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("GANZOO_FAST_DEV_RUN", None)
    if fast_dev_run is not None:
        env["GANZOO_FAST_DEV_RUN"] = str(fast_dev_run)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    with subprocess.Popen(
        [*cmd, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # torchrun passes SIGTERM on to its workers (each in its own session) and kills
            # them after a grace period; killing torchrun itself would leave them running
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=90)
            pytest.fail("torchrun did not finish (the processes hung)")
    assert process.returncode == 0, stdout + stderr[-3000:]
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def train_records(run):
    lines = (Path(run) / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "train"]


def picture_folders(stderr):
    """The folders that the 'pictures of the run' line names."""
    line = next(x for x in stderr.splitlines() if x.startswith("pictures of the run: "))
    return line.removeprefix("pictures of the run: ").split(" and ")


WORKER = r"""
import json, os, sys
import torch, torch.distributed as dist
sys.path.insert(0, sys.argv[1])
import tiny
from ganzoo import create_model
from ganzoo.data import ImageDataset

out, report = sys.argv[2], sys.argv[3]
rank = int(os.environ["RANK"])


class Recording(tiny.TinyTrainer):
    '''Keeps this process's own losses of every step.'''

    def train_step(self, batch):
        metrics = super().train_step(batch)
        self.local.append({k: v.item() for k, v in metrics.items()})
        return metrics


def build(steps, **options):
    torch.manual_seed(rank)  # a different init per rank on purpose: rank 0's is broadcast
    data = ImageDataset(images=tiny.tiny_images(), labels=None, name="tiny", num_classes=None)
    options = {"out_dir": out, **options}
    config = tiny.TinyTrainConfig(device="cpu", quiet=True, steps=steps, **options)
    trainer = Recording(create_model("tiny"), data, config)
    trainer.local = []
    return trainer


trainer = build(6)
first_batch = trainer.batches.next()[0]
trainer.fit()
weights = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
resumed = build(8)
resumed.load_checkpoint()
after_resume = resumed.batches.next()[0]
# rank 1 is out of time at once, rank 0 never: they stop together, at the first log point
timed = build(6, out_dir=None, max_seconds=1e-9 if rank == 1 else 1e9).fit()
mine = (weights, first_batch, after_resume, trainer.local, timed.steps)
everyone = [None, None]
dist.all_gather_object(everyone, mine)
if rank == 0:
    (wa, xa, ra, la, sa), (wb, xb, rb, lb, sb) = everyone
    facts = {
        "same_weights": torch.equal(wa, wb),
        "same_data": torch.equal(xa, xb),
        "same_data_after_resume": torch.equal(ra, rb),
        "local": [la, lb],
        "steps_with_max_seconds": [sa, sb],
    }
    with open(report, "w") as f:
        json.dump(facts, f)
# leave together: a rank that exits while the other still tears Gloo down can abort it
# ("terminate called without an active exception", once in CI); and what is checked is
# written, so skip the interpreter's finalisation, where Gloo's threads can abort too
# (pytorch/pytorch#179291)
dist.barrier()
dist.destroy_process_group()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""


def test_ranks_stay_in_sync_and_log_the_mean_of_their_losses(tmp_path):
    script, out, report = tmp_path / "worker.py", tmp_path / "run", tmp_path / "facts.json"
    script.write_text(WORKER)
    done = torchrun(script, TESTS, out, report)
    assert done.stdout == ""
    facts = json.loads(report.read_text())
    assert facts["same_weights"] and not facts["same_data"]
    assert not facts["same_data_after_resume"], "every rank resumed rank 0's batch stream"
    assert facts["steps_with_max_seconds"] == [2, 2]
    records = train_records(out)
    assert [r["step"] for r in records] == [2, 4, 6]  # once per log point: rank 0 alone writes
    own_means = []
    for record in records:
        step = record["step"]
        for name in ("d", "g"):
            per_rank = [
                np.mean([s[name] for s in local[step - 2 : step]]) for local in facts["local"]
            ]
            assert record[name] == pytest.approx(np.mean(per_rank), rel=1e-6, abs=1e-7)
            own_means.append(per_rank[0])
    # the ranks' losses differ, so rank 0's own mean would not have passed
    assert [r[n] for r in records for n in ("d", "g")] != pytest.approx(own_means, rel=1e-6)


def test_a_gan_under_torchrun_prints_one_summary_from_rank_0(tmp_path):
    rng = np.random.default_rng(0)
    npz, out = tmp_path / "rgb.npz", tmp_path / "run"
    np.savez(npz, x=rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8))
    done = torchrun(
        "-m", "ganzoo.cli", "train", "dcgan", "--preset", "small", "--dataset", f"npz:{npz}",
        "--steps", 2, "--batch-size", 4, "--set", "log_every=1", "--device", "cpu", "--out", out,
        fast_dev_run=2,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    assert done.stderr.count("GANZOO_FAST_DEV_RUN=2: ") == 1, done.stderr  # rank 0's notice
    assert done.stderr.count("pictures of the run") <= 1, done.stderr
    summary = json.loads(lines[0])
    records = train_records(out)
    assert [r["step"] for r in records] == [1, 2]
    assert summary["train/d"] == records[-1]["d"] and summary["train/g"] == records[-1]["g"]
    assert summary == json.loads((out / "train_summary.json").read_text())
    expected = {".ganzoo-run", ".ganzoo-run.lock", "README.md", "checkpoint", "config.json"}
    expected |= {"metrics.jsonl", "model.safetensors", "train_summary.json"}
    assert set(os.listdir(out)) - {"plots"} == expected
    if summary["pictures"]:
        assert all(Path(folder).is_dir() for folder in picture_folders(done.stderr))


@pytest.mark.slow
def test_both_vqvae_stages_under_torchrun_print_one_summary_each(tmp_path):
    rng = np.random.default_rng(0)
    npz = tmp_path / "digits.npz"
    x = rng.integers(0, 256, (32, 28, 28, 1), dtype=np.uint8)
    np.savez(npz, x=x, y=rng.integers(0, 10, 32))
    common = ["--dataset", f"npz:{npz}", "--steps", 2, "--batch-size", 4, "--device", "cpu"]
    common += ["--set", "log_every=1"]
    vq, prior = tmp_path / "vq", tmp_path / "vq-prior"
    stages = [
        ["--out", vq],
        ["--stage", "prior", "--from", vq, "--set", PRIOR, "--out", prior],
    ]
    for stage, out in zip(stages, (vq, prior), strict=True):
        done = torchrun("-m", "ganzoo.cli", "train", "vqvae", *common, *stage)
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout
        records = train_records(out)
        assert [r["step"] for r in records] == [1, 2]
        summary = json.loads(lines[0])
        logged = {k: v for k, v in records[-1].items() if k not in ("step", "kind")}
        assert {k.removeprefix("train/"): summary[f"train/{k}"] for k in logged} == logged


def test_the_pictures_line_names_only_folders_that_exist(tiny_npz, tmp_path):
    pytest.importorskip("matplotlib")  # the plots are the pictures of a run without samples
    args = ["train", "tiny", "--dataset", f"npz:{tiny_npz}", "--steps", 2, "--device", "cpu"]
    plain = invoke(*args, "--out", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    assert not (tmp_path / "plain" / "samples").exists()
    assert picture_folders(plain.stderr) == [str(tmp_path / "plain" / "plots")]
    sampled = invoke(*args, "--set", "sample_every=1", "--out", tmp_path / "sampled")
    assert sampled.exit_code == 0, sampled.output
    folders = picture_folders(sampled.stderr)
    assert folders == [str(tmp_path / "sampled" / sub) for sub in ("plots", "samples")]


@pytest.fixture
def one_process_group_env(monkeypatch):
    """The environment of a one-process group, as if started by ``torchrun``."""
    import socket

    import ganzoo.distributed as distributed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(distributed, "launched_by_torchrun", lambda: True)
    return distributed


def test_the_group_ganzoo_joined_is_left_and_the_callers_own_is_kept(one_process_group_env):
    import torch
    import torch.distributed as dist

    distributed = one_process_group_env
    assert distributed.init_distributed(torch.device("cpu")) == (0, 1)
    assert dist.is_initialized()
    distributed.leave_distributed()
    assert not dist.is_initialized()  # ganzoo joined it, ganzoo left it
    dist.init_process_group("gloo")  # a group the caller joined itself
    try:
        distributed.init_distributed(torch.device("cpu"))
        distributed.leave_distributed()
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()
