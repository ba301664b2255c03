import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo import GanzooError, create_model
from ganzoo.train import checkpoint as ckpt
from ganzoo.train.callbacks import Callback, KeepBest, TrainingDiverged
from tiny import TinyTrainConfig, TinyTrainer


def _trainer(data, out=None, **overrides):
    torch.manual_seed(0)
    model = create_model("tiny")
    config = TinyTrainConfig(
        device="cpu", quiet=True, out_dir=str(out) if out else None, **overrides
    )
    return TinyTrainer(model, data, config)


def _weights(folder):
    return load_file(str(Path(folder) / "model.safetensors"))


def test_one_run_changes_weights_and_writes_a_run_folder(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, tmp_path / "run", sample_every=3, ema_decay=0.9)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert result.steps == 6
    assert all(torch.isfinite(torch.tensor(v)) for v in result.metrics.values())
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if x["kind"] == "train"] == [2, 4, 6]
    assert {"d", "g"} <= set(lines[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_000003.png",
        "step_000006.png",
    ]
    assert (run / "samples.png").is_file() and "![samples](samples.png)" in (
        run / "README.md"
    ).read_text()
    model = ganzoo.from_pretrained(str(run))
    # the exported generator is the EMA one, not the raw weights
    assert torch.equal(model.generator[0].weight, trainer.ema.module[0].weight)
    assert not torch.equal(model.generator[0].weight, trainer.model.generator[0].weight)


def test_resume_continues_bit_identically(tiny_data, tmp_path):
    straight = _trainer(tiny_data, tmp_path / "a", steps=8, ema_decay=0.9)
    straight.fit()

    first = _trainer(tiny_data, tmp_path / "b", steps=4, ema_decay=0.9)
    first.fit()
    resumed = _trainer(tiny_data, tmp_path / "b", steps=8, ema_decay=0.9)
    resumed.fit(resume=True)
    assert resumed.step == 8
    a, b = _weights(tmp_path / "a" / "checkpoint"), _weights(tmp_path / "b" / "checkpoint")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ema_a = load_file(str(tmp_path / "a" / "checkpoint" / ckpt.EMA_NAME))
    ema_b = load_file(str(tmp_path / "b" / "checkpoint" / ckpt.EMA_NAME))
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)


def test_resume_without_checkpoint_is_an_error(tiny_data, tmp_path):
    with pytest.raises(GanzooError, match="no checkpoint to resume from"):
        _trainer(tiny_data, tmp_path / "none").fit(resume=True)


def test_interrupted_checkpoint_write_keeps_the_previous_one(tiny_data, tmp_path, monkeypatch):
    trainer = _trainer(tiny_data, tmp_path / "run", steps=4)
    trainer.fit()
    good = _weights(tmp_path / "run" / "checkpoint")

    trainer.config.steps = 6

    def crash(path, state):
        raise KeyboardInterrupt("power cut while writing")

    monkeypatch.setattr(ckpt, "save_state", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    monkeypatch.undo()
    found = ckpt.find_checkpoint(tmp_path / "run" / "checkpoint")
    assert found is not None
    kept = _weights(found)
    assert all(torch.equal(kept[k], good[k]) for k in good)
    again = _trainer(tiny_data, tmp_path / "run", steps=6)
    assert again.load_checkpoint() == 4


def test_a_fresh_trainer_does_not_overwrite_an_earlier_run(tiny_data, tmp_path):
    _trainer(tiny_data, tmp_path / "run", steps=2).fit()
    kept = _weights(tmp_path / "run" / "checkpoint")
    with pytest.raises(GanzooError, match="already holds a run; fit\\(resume=True\\)"):
        _trainer(tiny_data, tmp_path / "run", steps=2).fit()
    after = _weights(tmp_path / "run" / "checkpoint")
    assert all(torch.equal(after[k], kept[k]) for k in kept)
    assert _trainer(tiny_data, tmp_path / "run", steps=3).fit(resume=True).steps == 3


def test_interrupted_swap_falls_back_to_the_old_folder(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, tmp_path / "run", steps=2)
    trainer.fit()
    folder = tmp_path / "run" / "checkpoint"
    folder.rename(folder.with_name("checkpoint.old"))  # as if killed between the two renames
    assert ckpt.find_checkpoint(folder) == folder.with_name("checkpoint.old")
    assert _trainer(tiny_data, tmp_path / "run", steps=4).load_checkpoint() == 2


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, tmp_path / "run", steps=10, checkpoint_every=2)
    original = trainer.train_step

    def poisoned(batch):
        metrics = original(batch)
        if trainer.step >= 4:
            metrics["d"] = metrics["d"] * float("nan")
        return metrics

    trainer.train_step = poisoned
    with pytest.raises(TrainingDiverged, match=r"'d' became nan by step 6"):
        trainer.fit()
    state = ckpt.load_state(tmp_path / "run" / "checkpoint" / ckpt.STATE_NAME)
    assert state["step"] == 4


@pytest.mark.filterwarnings("ignore::ganzoo.errors.GanzooWarning")  # CPUs without native bf16
def test_bf16_autocast_runs_and_stays_finite(tiny_data):
    result = _trainer(tiny_data, precision="bf16").fit()
    assert all(torch.isfinite(torch.tensor(v)) for v in result.metrics.values())


def test_bf16_on_a_cpu_without_native_bf16_warns_and_names_fp32(tiny_data, monkeypatch):
    import warnings

    from ganzoo.errors import GanzooWarning
    from ganzoo.train import base

    monkeypatch.setattr(base, "bf16_is_slow", lambda device: True)
    with pytest.warns(GanzooWarning, match="--precision fp32"):
        _trainer(tiny_data, precision="bf16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _trainer(tiny_data, precision="fp32")  # fp32 is never warned about
        monkeypatch.setattr(base, "bf16_is_slow", lambda device: False)
        _trainer(tiny_data, precision="bf16")


def test_bf16_is_slow_follows_onednn_on_cpu_and_is_false_elsewhere(monkeypatch):
    from ganzoo.devices import bf16_is_slow

    for native in (True, False):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda n=native: n)
        assert bf16_is_slow(torch.device("cpu")) is (not native)
    assert bf16_is_slow(torch.device("cuda")) is False
    assert bf16_is_slow(torch.device("meta")) is False


def test_cli_prints_ganzoo_warnings_as_one_line(capsys):
    import warnings

    from ganzoo import cli
    from ganzoo.errors import GanzooWarning

    saved = warnings.showwarning
    try:
        cli._one_line_warnings()
        warnings.warn_explicit("use fp32", GanzooWarning, "x.py", 1)
    finally:
        warnings.showwarning = saved
    assert capsys.readouterr().err == "warning: use fp32\n"


def test_callbacks_receive_logs_and_keep_best_exports(tiny_data, tmp_path):
    seen = []

    class Recorder(Callback):
        def on_log(self, trainer, step, metrics):
            seen.append((step, sorted(metrics)))

    class Scored(TinyTrainer):
        def evaluate(self):
            return {"score": float(self.step)}

    torch.manual_seed(0)
    config = TinyTrainConfig(
        device="cpu", quiet=True, out_dir=str(tmp_path / "run"), eval_every=2, keep_best="score"
    )
    trainer = Scored(
        create_model("tiny"), tiny_data, config, eval_data=tiny_data, callbacks=[Recorder()]
    )
    trainer.fit()
    assert seen == [(2, ["d", "g"]), (4, ["d", "g"]), (6, ["d", "g"])]
    keep = next(c for c in trainer.callbacks if isinstance(c, KeepBest))
    assert keep.best_step == 6
    card = (tmp_path / "run" / "best" / "README.md").read_text()
    assert "| score | 6.0 |" in card


def test_invalid_config_is_a_clear_error(tiny_data):
    with pytest.raises(GanzooError, match="precision must be"):
        _trainer(tiny_data, precision="fp8")
    with pytest.raises(GanzooError, match="steps must be at least 1"):
        _trainer(tiny_data, steps=0)


def test_ema_warms_up_then_averages():
    from torch import nn

    from ganzoo.train.ema import EMA

    net = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(net.weight)
    ema = EMA(net, decay=0.999)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update()  # warm-up decay (1 + 1) / (10 + 1): mostly the new weights
    assert ema.module.weight.item() == pytest.approx(1 - 2 / 11)
    for _ in range(5000):
        ema.update()
    assert ema.module.weight.item() == pytest.approx(1.0, abs=1e-3)


def test_linear_lr_decay_holds_then_reaches_zero(tiny_data):
    trainer = _trainer(tiny_data, steps=10, lr_decay_start=0.5)
    seen = []

    class Watch(Callback):
        def on_step_end(self, trainer, step):
            seen.append(trainer.optimizers["g"].param_groups[0]["lr"])

    trainer.callbacks.append(Watch())
    trainer.fit()
    lr = trainer.config.lr
    assert seen[:4] == [lr] * 4  # constant over the first half
    assert seen[-1] == 0.0 and all(a >= b for a, b in zip(seen, seen[1:], strict=False))


def test_max_seconds_stops_early_and_still_evaluates(tiny_data):
    trainer = _trainer(tiny_data, steps=10_000_000, max_seconds=0.3)
    result = trainer.fit()
    assert 0 < result.steps < 10_000_000
    assert result.seconds < 10


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", float("nan")),
        ("lr", float("inf")),
        ("lr", 0.0),
        ("beta1", float("nan")),
        ("beta2", 1.0),
        ("max_seconds", float("nan")),
        ("max_seconds", float("inf")),
        ("lr_decay_start", float("nan")),
        ("ema_decay", float("nan")),
        ("sample_every", -1),
        ("eval_every", -5),
        ("checkpoint_every", -1),
    ],
)
def test_invalid_numbers_are_refused_naming_the_field(tiny_data, field, value):
    with pytest.raises(GanzooError, match=f"^{field} must be"):
        _trainer(tiny_data, **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("unsupervised_weight", float("nan")),
        ("consistency_weight", float("nan")),
        ("entropy_weight", float("inf")),
        ("strong_scale", 1.5),
        ("strong_degrees", -1.0),
        ("augment_shift", -2),
        ("label_seed", -1),
    ],
)
def test_sgan_numbers_are_range_checked(field, value):
    from ganzoo.archs.sgan.train import SGANTrainConfig

    with pytest.raises(GanzooError, match=f"^{field} must be"):
        SGANTrainConfig(**{field: value}).validate()


def test_vaegan_weights_must_be_finite():
    from ganzoo.archs.vaegan.train import VAEGANTrainConfig

    with pytest.raises(GanzooError, match="^gamma must be"):
        VAEGANTrainConfig(gamma=float("nan")).validate()


def _module_imports(path):
    """Every ganzoo.train module a file imports, wherever the import statement is."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "ganzoo.train":
                found |= {f"ganzoo.train.{a.name}" for a in node.names}
            elif node.module.startswith("ganzoo.train."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ganzoo.train.")}
    return found


def test_trainer_modules_import_no_circles():
    import graphlib

    import ganzoo.train

    package = Path(ganzoo.train.__file__).parent
    graph = {}
    for path in package.glob("*.py"):
        if path.name == "__init__.py":
            continue
        name = f"ganzoo.train.{path.stem}"
        graph[name] = {m for m in _module_imports(path) if m != name and m in _all(package)}
    graphlib.TopologicalSorter(graph).static_order()  # raises CycleError on a circle
    assert "ganzoo.train.base" not in graph["ganzoo.train.callbacks"]
    assert "ganzoo.train.base" not in graph["ganzoo.train.run_folder"]


def _all(package):
    return {f"ganzoo.train.{p.stem}" for p in package.glob("*.py")}


def test_periodic_jobs_follow_one_rule(tiny_data, tmp_path):
    from ganzoo.train.callbacks import Checkpoints, Evaluation, SampleGrid

    trainer = _trainer(
        tiny_data, tmp_path / "run", steps=5, checkpoint_every=2, sample_every=2, eval_every=2
    )
    runs = []
    for job in trainer.callbacks:
        if isinstance(job, Checkpoints | SampleGrid | Evaluation):
            original = job.run

            def spy(t, step, job=job, original=original):
                runs.append((type(job).__name__, step))
                original(t, step)

            job.run = spy
    trainer.fit()
    assert [s for n, s in runs if n == "Checkpoints"] == [2, 4, 5]  # every 2 and at the end
    assert [s for n, s in runs if n == "Evaluation"] == [2, 4, 5]
    assert [s for n, s in runs if n == "SampleGrid"] == [2, 4]


def test_train_sgan_on_an_image_folder_of_another_size(tmp_path):
    from PIL import Image

    from ganzoo.train.launch import train

    rng = np.random.default_rng(0)
    for digit in range(10):
        folder = tmp_path / "photos" / str(digit)
        folder.mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    trainer, result = train(
        "sgan",
        out_dir=tmp_path / "run",
        dataset=f"folder:{tmp_path / 'photos'}",
        labels=10,
        steps=1,
        batch_size=8,
        labeled_batch=4,
        device="cpu",
        quiet=True,
    )
    assert result.steps == 1
    assert tuple(trainer.data.images.shape[1:]) == (1, 28, 28)
