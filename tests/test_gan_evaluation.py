"""FID/KID evaluation inside the GAN trainer, and keeping the best model by it."""

import json
from types import SimpleNamespace

import pytest

from ganzoo.errors import GanzooError
from ganzoo.train.callbacks import KeepBest, read_best_record
from ganzoo.train.launch import build_train_config
from test_trainers_gan import make_trainer

pytest.importorskip("torchmetrics")

CHEAP = {"eval_feature": "pixels8", "eval_samples": 12}


def eval_records(folder):
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "eval"]


def test_lower_is_better_for_fid_and_kid_and_higher_for_accuracy():
    assert KeepBest("fid").mode == "min"
    assert KeepBest("kid").mode == "min"
    assert KeepBest("test_accuracy").mode == "max"
    assert KeepBest("fid", mode="max").mode == "max"


def test_training_measures_fid_and_keeps_the_lowest_with_its_step(tmp_path):
    out = tmp_path / "run"
    trainer = make_trainer(
        "dcgan",
        steps=6,
        eval_every=2,
        eval_metrics="fid,kid",
        keep_best="fid",
        out_dir=str(out),
        **CHEAP,
    )
    result = trainer.fit()
    records = eval_records(out)
    assert [r["step"] for r in records] == [2, 4, 6]
    assert all(r["fid"] > 0 and "kid" in r for r in records)
    best = min(records, key=lambda r: r["fid"])
    record = read_best_record(out / "best" / "best.json")
    assert record == {"metric": "fid", "value": best["fid"], "step": best["step"]}
    assert (out / "best" / "model.safetensors").is_file()
    assert result.summary["best/step"] == best["step"]
    saved = json.loads((out / "train_summary.json").read_text())
    assert saved["best/value"] == best["fid"]


def test_evaluation_uses_fixed_latents_so_equal_weights_give_equal_fid():
    trainer = make_trainer("dcgan", eval_metrics="fid", **CHEAP)
    first, second = trainer.run_evaluation(0), trainer.run_evaluation(0)
    assert first["fid"] == second["fid"]


def test_no_eval_metrics_measures_nothing():
    trainer = make_trainer("dcgan")
    assert trainer.eval_data is None
    assert trainer.run_evaluation(0) == {}


def test_keep_best_by_fid_without_measuring_it_is_a_one_line_error():
    with pytest.raises(GanzooError, match="eval_metrics=fid"):
        build_train_config("dcgan", keep_best="fid")
    with pytest.raises(GanzooError, match="unknown metric"):
        build_train_config("dcgan", eval_metrics="fdi")
    with pytest.raises(GanzooError, match="feature"):
        build_train_config("dcgan", eval_metrics="fid", eval_feature="vgg")
    with pytest.raises(GanzooError, match="eval_samples"):
        build_train_config("dcgan", eval_metrics="fid", eval_samples=1)


class _StubTrainer(SimpleNamespace):
    def export(self, folder, metrics):
        self.exports.append(metrics["step"])
        folder.mkdir(parents=True, exist_ok=True)


def test_a_resumed_run_does_not_replace_its_best_with_a_worse_model(tmp_path):
    first = KeepBest("fid")
    trainer = _StubTrainer(out_dir=tmp_path, step=0, exports=[])
    first.on_fit_start(trainer)
    first.on_evaluate(trainer, 100, {"fid": 80.0})
    first.on_evaluate(trainer, 200, {"fid": 90.0})
    assert trainer.exports == [100]
    resumed = KeepBest("fid")
    trainer.step = 200
    resumed.on_fit_start(trainer)
    assert (resumed.best, resumed.best_step) == (80.0, 100)
    resumed.on_evaluate(trainer, 300, {"fid": 85.0})
    resumed.on_evaluate(trainer, 400, {"fid": 70.0})
    assert trainer.exports == [100, 400]
    assert read_best_record(tmp_path / "best" / "best.json")["step"] == 400


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"metric": "fid", "value": NaN, "step": 3}',
        '{"metric": "fid", "value": 1.0, "step": true}',
        '{"metric": "fid", "value": "1", "step": 3}',
        '{"metric": 7, "value": 1.0, "step": 3}',
        '{"metric": "fid", "value": 1.0, "step": -1}',
    ],
)
def test_a_damaged_best_record_is_ignored(tmp_path, text):
    path = tmp_path / "best.json"
    path.write_text(text)
    assert read_best_record(path) is None


def test_a_best_record_of_another_metric_or_a_later_step_is_not_taken_up(tmp_path):
    (tmp_path / "best").mkdir()
    record = {"metric": "kid", "value": 0.01, "step": 5}
    (tmp_path / "best" / "best.json").write_text(json.dumps(record))
    keep = KeepBest("fid")
    keep.on_fit_start(_StubTrainer(out_dir=tmp_path, step=10, exports=[]))
    assert keep.best is None
    record = {"metric": "fid", "value": 1.0, "step": 50}
    (tmp_path / "best" / "best.json").write_text(json.dumps(record))
    keep.on_fit_start(_StubTrainer(out_dir=tmp_path, step=10, exports=[]))
    assert keep.best is None


def test_a_missing_feature_extra_fails_before_the_first_step(monkeypatch, tmp_path):
    import ganzoo.metrics.features

    def missing(*args, **kwargs):
        raise GanzooError("the feature network needs an extra: pip install it")

    monkeypatch.setattr(ganzoo.metrics.features, "load_feature", missing)
    monkeypatch.setattr("ganzoo.metrics.fid.load_feature", missing)
    with pytest.raises(GanzooError, match="pip install"):
        make_trainer("dcgan", eval_metrics="fid", out_dir=str(tmp_path / "run"), **CHEAP).fit()
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_the_feature_network_is_built_once_for_all_evaluations(monkeypatch):
    import ganzoo.metrics.fid

    built = []
    real_load = ganzoo.metrics.fid.load_feature
    monkeypatch.setattr(
        ganzoo.metrics.fid, "load_feature", lambda *a, **k: built.append(a) or real_load(*a, **k)
    )
    trainer = make_trainer("dcgan", steps=4, eval_every=1, eval_metrics="kid", **CHEAP)
    trainer.fit()
    assert len(built) == 1


def test_sgan_adds_fid_to_its_accuracy_when_asked():
    from ganzoo import create_model
    from ganzoo.archs.sgan.train import SGANTrainer
    from mnist_fixtures import synthetic_digits

    data = synthetic_digits()
    config = build_train_config(
        "sgan",
        steps=1,
        batch_size=8,
        labels=20,
        quiet=True,
        device="cpu",
        sample_every=0,
        eval_metrics="fid",
        **CHEAP,
    )
    trainer = SGANTrainer(create_model("sgan"), data, config, eval_data=data)
    results = trainer.run_evaluation(0)
    assert "test_accuracy" in results and results["fid"] > 0
