"""The VQ-VAE's two training stages: stage lookup, the autoencoder, the prior, resume, metrics."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo import GanzooError, create_model
from ganzoo.archs.vqvae.codes import CodeGridDataset
from ganzoo.archs.vqvae.prior import PRIOR_PRESETS, GatedPixelCNNConfig
from ganzoo.archs.vqvae.quantizer import VectorQuantizer
from ganzoo.archs.vqvae.train import PriorTrainer, VQVAETrainConfig, VQVAETrainer
from ganzoo.archs.vqvae.visuals import code_colors
from ganzoo.data import DeviceBatcher, ImageDataset, to_unit_range
from ganzoo.io.pictures import reconstruction_panel, save_reconstructions
from ganzoo.registry import get_trainer_entry, list_stages, register_trainer
from ganzoo.train.launch import build_train_config
from ganzoo.train.launch import train as launch_train
from mnist_fixtures import synthetic_digits

#: A prior small enough for tests.
SMALL_PRIOR = {"num_layers": 2, "hidden_channels": 8}


def _config(cls, **overrides):
    fields = {"device": "cpu", "quiet": True, "batch_size": 8, "log_every": 1, "sample_every": 0}
    return cls.config_class(**{**fields, **overrides})


def _autoencoder(steps=2, model=None, data=None, **overrides):
    torch.manual_seed(0)
    model = model if model is not None else create_model("vqvae")
    data = data if data is not None else synthetic_digits(2)
    config = _config(VQVAETrainer, steps=steps, **overrides)
    return VQVAETrainer(model, data, config, eval_data=synthetic_digits(1, seed=1))


def _trained_autoencoder(steps=2):
    trainer = _autoencoder(steps)
    trainer.fit()
    return trainer.model.eval()


# ------------------------------------------------------------------ stages in the registry
def test_vqvae_has_two_stages_and_the_autoencoder_is_the_default():
    assert list_stages("vqvae") == ["autoencoder", "prior"]
    default = get_trainer_entry("vqvae")
    assert default.cls is VQVAETrainer and default.stage == "autoencoder"
    assert not default.continues and default.default_recipe == "report"
    assert set(default.recipes) == {"report", "best"}
    prior = get_trainer_entry("vqvae", "prior")
    assert prior.cls is PriorTrainer and prior.from_stage == "autoencoder" and prior.continues
    assert ganzoo.get_trainer("vqvae", "prior") is PriorTrainer
    assert list_stages("sgan") == ["train"]


def test_an_unknown_stage_is_one_line_listing_the_stages():
    with pytest.raises(GanzooError) as info:
        get_trainer_entry("vqvae", "priors")
    message = str(info.value)
    assert "\n" not in message
    assert "did you mean 'prior'" in message and "stages: autoencoder, prior" in message
    with pytest.raises(GanzooError, match="stages: train"):
        get_trainer_entry("sgan", "prior")


def test_a_second_stage_from_scratch_or_a_repeated_stage_is_refused():
    with pytest.raises(GanzooError, match="already has a stage that starts from a new model"):
        register_trainer("vqvae", stage="other")(VQVAETrainer)
    with pytest.raises(GanzooError, match=r"'vqvae' \(stage 'prior'\) is already registered"):
        register_trainer("vqvae", stage="prior", from_stage="autoencoder")(PriorTrainer)
    assert list_stages("vqvae") == ["autoencoder", "prior"]


def test_epochs_become_steps_and_explicit_steps_drop_them():
    report = build_train_config("vqvae", "report")
    assert report.epochs == 30 and report.batch_size == 128 and report.lr == 1e-3
    assert (report.beta1, report.beta2) == (0.9, 0.999)
    trainer = _autoencoder(epochs=2.5)  # 20 images, batch 8: 6.25 steps → 7
    assert trainer.config.steps == 7 and trainer.config.epochs is None
    assert build_train_config("vqvae", "report", steps=7).epochs is None
    assert build_train_config("vqvae", stage="prior", steps=7).epochs is None
    with pytest.raises(GanzooError, match="epochs"):
        _autoencoder(epochs=0.0)


# ------------------------------------------------------------------ the autoencoder stage
def test_data_variance_is_set_from_the_training_images():
    data = synthetic_digits(2)
    trainer = _autoencoder(steps=1, data=data)
    expected = to_unit_range(data.images).double().var(unbiased=False).item()
    assert trainer.model.data_variance.item() == pytest.approx(expected, rel=1e-6)
    assert expected < 0.5  # not the buffer's starting value of 1
    bernoulli = _autoencoder(steps=1, model=create_model("vqvae", reconstruction="bernoulli"))
    assert bernoulli.model.data_variance.item() == 1.0  # the Bernoulli NLL does not use it


def test_each_log_step_records_the_loss_terms_perplexity_and_used_codes(tmp_path):
    trainer = _autoencoder(steps=3, out_dir=str(tmp_path / "run"))
    trainer.fit()
    records = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3]
    keys = {"loss", "reconstruction", "codebook", "commitment", "perplexity", "used_codes"}
    for record in train:
        assert keys <= set(record)
        assert 1 <= record["perplexity"] <= 64 and 1 <= record["used_codes"] <= 64
        assert record["loss"] == pytest.approx(
            record["reconstruction"] + record["codebook"] + record["commitment"], rel=1e-5
        )


def test_dead_code_restarts_happen_in_the_trainer_when_enabled():
    model = create_model("vqvae", dead_code_threshold=1e6)  # every code counts as dead
    trainer = _autoencoder(steps=2, model=model, restart_every=2, log_every=2)
    before = model.quantizer.codebook.detach().clone()
    result = trainer.fit()
    assert trainer.restarted_codes == 64  # at step 2, not at step 1
    assert result.metrics["restarted"] == pytest.approx(32.0)  # the mean of 0 and 64
    assert not torch.equal(before, model.quantizer.codebook)
    quiet = _autoencoder(steps=2, model=create_model("vqvae", dead_code_threshold=1e6))
    quiet.fit()
    assert quiet.restarted_codes == 0 and "restarted" not in quiet.last_metrics


def test_best_options_switch_to_an_ema_codebook_with_kmeans_initialisation(monkeypatch):
    calls = []
    original = VectorQuantizer.init_from

    def spy(self, z_e, iters=10, generator=None):
        calls.append((tuple(z_e.shape), iters))
        return original(self, z_e, iters=iters, generator=generator)

    monkeypatch.setattr(VectorQuantizer, "init_from", spy)
    trainer = _autoencoder(steps=2, codebook_ema=0.99, kmeans_init_batches=3, kmeans_iters=2)
    model = trainer.model
    assert model.config.ema_decay == 0.99 and model.quantizer.uses_ema
    optimised = {id(p) for g in trainer.optimizers["vqvae"].param_groups for p in g["params"]}
    assert id(model.quantizer.codebook) not in optimised  # a buffer now
    trainer.fit()
    assert calls == [((24, 16, 7, 7), 2)]  # once, on the first three batches of 8
    assert VQVAETrainer.model_overrides(trainer.config) == {"ema_decay": 0.99}
    assert VQVAETrainer.model_overrides(VQVAETrainConfig()) == {}


def test_a_run_started_from_a_checkpoint_keeps_its_codebook(monkeypatch, tmp_path):
    first = _autoencoder(steps=2, codebook_ema=0.99, kmeans_init_batches=3, kmeans_iters=2)
    first.fit()
    first.model.save_pretrained(tmp_path / "leg1")
    calls = []
    original = VectorQuantizer.init_from

    def spy(self, z_e, iters=10, generator=None):
        calls.append(tuple(z_e.shape))
        return original(self, z_e, iters=iters, generator=generator)

    monkeypatch.setattr(VectorQuantizer, "init_from", spy)
    second = _autoencoder(steps=1, codebook_ema=0.99, kmeans_init_batches=3, kmeans_iters=2)
    second.init_from(tmp_path / "leg1")
    given = second.model.quantizer.codebook.clone()
    torch.testing.assert_close(given, first.model.quantizer.codebook)
    second.fit()
    assert calls == []  # k-means would have replaced the trained codebook
    moved = (second.model.quantizer.codebook - given).abs().max()
    assert 0 < moved < (given.abs().max() * 0.5)  # one EMA update, not a new codebook


def test_the_autoencoder_trainer_refuses_a_model_with_a_prior():
    model = create_model("vqvae")
    model.attach_prior(SMALL_PRIOR)
    with pytest.raises(GanzooError, match="remove_prior"):
        _autoencoder(model=model)
    model.remove_prior()
    assert model.prior is None and model.config.prior is None
    _autoencoder(model=model)


def test_evaluation_returns_test_mse_psnr_perplexity_and_used_codes():
    trainer = _autoencoder(steps=2)
    trainer.fit()
    results = trainer.evaluate()
    assert set(results) == {"mse", "psnr", "perplexity", "used_codes"}
    model, test = trainer.model.eval(), trainer.eval_data
    x = to_unit_range(test.images)
    with torch.no_grad():
        codes = model.encode(x)
        mse = (model.decode(codes) - x).pow(2).mean().item()
    counts = torch.bincount(codes.flatten(), minlength=64).double()
    p = counts / counts.sum()
    assert results["mse"] == pytest.approx(mse, rel=1e-5)
    assert results["psnr"] == pytest.approx(10 * math.log10(4 / mse), rel=1e-5)
    assert results["perplexity"] == pytest.approx(math.exp(-(p[p > 0] * p[p > 0].log()).sum()))
    assert results["used_codes"] == int((counts > 0).sum())
    assert trainer.last_evaluation == results


def test_sample_grids_of_the_autoencoder_are_inputs_reconstructions_and_code_maps(tmp_path):
    trainer = _autoencoder(steps=2, sample_every=2, out_dir=str(tmp_path / "run"))
    trainer.fit()  # a model without a prior must not try to sample
    panel = trainer.sample_images(100)
    assert panel.shape == (30, 3, 28, 28)
    first = to_unit_range(trainer.eval_data.images[:10])
    assert torch.equal(panel[:10], first.expand(-1, 3, -1, -1))
    assert (tmp_path / "run" / "samples" / "step_000002.png").is_file()
    assert (tmp_path / "run" / "samples.png").is_file()


# ------------------------------------------------------------------ pictures
def test_reconstruction_panel_shows_inputs_reconstructions_and_code_colours(tmp_path):
    model = _trained_autoencoder(1)
    x = to_unit_range(synthetic_digits(1).images[:4])
    panel = reconstruction_panel(model, x)
    assert panel.shape == (12, 3, 28, 28) and panel.abs().max() <= 1
    with torch.no_grad():
        codes = model.encode(x)
        rebuilt = model.decode(codes)
    assert torch.equal(panel[4:8], rebuilt.expand(-1, 3, -1, -1))
    colours = code_colors(64) * 2 - 1
    assert torch.allclose(panel[8, :, 0, 0], colours[codes[0, 0, 0]])  # 4×4 pixels per code
    assert torch.allclose(panel[9, :, 27, 27], colours[codes[1, 6, 6]])
    assert len({tuple(c) for c in code_colors(512).tolist()}) == 512
    path = save_reconstructions(model, x, tmp_path / "vq.png")
    from PIL import Image

    assert Image.open(path).size == (4 * 30 + 2, 3 * 30 + 2)
    with pytest.raises(GanzooError, match="already exists"):
        save_reconstructions(model, x, path)


# ------------------------------------------------------------------ code grids
def test_code_grids_are_the_models_codes_batched_like_images():
    model = _trained_autoencoder(1).train()
    data = synthetic_digits(2)
    codes = CodeGridDataset.encode(model, data, batch_size=7)
    assert model.training  # its mode is put back
    assert codes.codes.dtype == torch.long and codes.codes.shape == (20, 7, 7)
    with torch.no_grad():
        assert torch.equal(codes.codes, model.encode(to_unit_range(data.images)))
    assert torch.equal(codes.labels, data.labels) and codes.num_codes == 64
    draws = [
        DeviceBatcher(codes, 5, "cpu", generator=torch.Generator().manual_seed(3)).next()
        for _ in range(2)
    ]
    (batch, labels), (again, _) = draws
    assert batch.dtype == torch.long and batch.shape == (5, 7, 7)
    assert torch.equal(batch, again)
    index = [int(torch.nonzero((codes.codes == b).all(dim=(1, 2)))[0]) for b in batch]
    assert torch.equal(labels, data.labels[index])
    with pytest.raises(ValueError, match="int64"):
        CodeGridDataset(codes.codes.float(), None, "x", 64)


# ------------------------------------------------------------------ the prior stage
def _prior_trainer(model, steps=2, **overrides):
    torch.manual_seed(0)
    config = _config(PriorTrainer, steps=steps, **{"prior": SMALL_PRIOR, **overrides})
    return PriorTrainer(model, synthetic_digits(2), config, eval_data=synthetic_digits(1, 1))


def test_the_prior_stage_trains_only_the_prior_and_evaluates_bits_per_dim():
    model = _trained_autoencoder()
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = _prior_trainer(model, steps=3)
    assert model.config.prior == GatedPixelCNNConfig(num_codes=64, **SMALL_PRIOR)
    prior_start = {k: v.clone() for k, v in model.prior.state_dict().items()}
    result = trainer.fit()
    assert result.metrics["bits_per_dim"] == pytest.approx(result.metrics["nll"] / math.log(2))
    after = model.state_dict()
    for key, value in frozen.items():
        assert torch.equal(after[key], value), key
    assert any(not torch.equal(model.prior.state_dict()[k], v) for k, v in prior_start.items())
    results = trainer.evaluate()
    assert set(results) == {"mse", "psnr", "perplexity", "used_codes", "prior_bits_per_dim"}
    x = to_unit_range(trainer.eval_data.images)
    with torch.no_grad():
        expected = model.prior.eval().bits_per_dim(model.encode(x)).item()
    assert results["prior_bits_per_dim"] == pytest.approx(expected, rel=1e-5)


def test_a_prior_stage_is_folded_into_the_autoencoders_leg_of_the_lineage(tmp_path):
    first = _autoencoder(steps=2, out_dir=str(tmp_path / "ae"))
    first.command = "ganzoo train vqvae --out ae"
    first.fit()
    model = ganzoo.from_pretrained(tmp_path / "ae")
    (autoencoder_leg,) = model.lineage
    prior = _prior_trainer(model, steps=3, out_dir=str(tmp_path / "prior"))
    prior.command = "ganzoo train vqvae --stage prior --from ae --out prior"
    prior.fit()
    (leg,) = ganzoo.from_pretrained(tmp_path / "prior").lineage
    assert leg["init_from"] is None and leg["steps"] == 2  # the autoencoder's leg, steps
    assert leg["command"] == f"{first.command} && {prior.command}"
    assert leg["seconds"] > autoencoder_leg["seconds"]
    assert "prior_bits_per_dim" in leg["metrics"]
    summary = json.loads((tmp_path / "prior" / "train_summary.json").read_text())
    assert "total_steps" not in summary  # one leg, as the card counts it (not 2 + 3 steps)


def test_the_prior_is_sized_by_the_presets_and_an_existing_one_is_kept():
    model = _trained_autoencoder(1)
    trainer = _prior_trainer(model, prior=None)
    assert model.config.prior == PRIOR_PRESETS["mnist"]  # the model's data set
    again = _prior_trainer(model, prior=None)  # no prior options: the prior is trained on
    assert again.model.prior is model.prior
    with pytest.raises(GanzooError, match="already has a prior"):
        _prior_trainer(model, prior={"num_layers": 3})
    del trainer
    other = _trained_autoencoder(1)
    _prior_trainer(other, prior_preset="cifar10", prior=None)
    expected = GatedPixelCNNConfig(num_codes=64, hidden_channels=64, num_layers=12)
    assert other.config.prior == expected


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"prior_preset": "mnits"}, "did you mean 'mnist'"),
        ({"prior": {"num_codes": 12}}, "num_codes is the codebook's size"),
        ({"prior": {"num_layer": 3}}, "did you mean 'num_layers'"),
        ({"prior": {"num_layers": 0}}, "num_layers"),
    ],
)
def test_bad_prior_options_are_one_line_errors(overrides, match):
    with pytest.raises(GanzooError, match=match) as info:
        _config(PriorTrainer, **overrides).validate()
    assert "\n" not in str(info.value)


def test_a_vqvae_with_its_prior_round_trips_through_one_folder(tmp_path):
    model = _trained_autoencoder(1)
    _prior_trainer(model, steps=1).fit()
    model.eval().save_pretrained(tmp_path / "vq")
    config = json.loads((tmp_path / "vq" / "config.json").read_text())
    assert config["config"]["prior"]["num_layers"] == 2
    loaded = ganzoo.from_pretrained(str(tmp_path / "vq"))
    assert set(loaded.state_dict()) == set(model.state_dict())
    assert any(k.startswith("prior.") for k in loaded.state_dict())
    model.to(memory_format=torch.contiguous_format)  # the trainer made it channels-last
    assert torch.equal(loaded.sample(3, seed=4), model.sample(3, seed=4))
    weights = load_file(str(tmp_path / "vq" / "model.safetensors"))
    del weights["prior.head.3.bias"]  # strict loading: a missing prior weight is refused
    from ganzoo.hub import save_weights

    save_weights(weights, tmp_path / "vq" / "model.safetensors")
    with pytest.raises(GanzooError, match="prior.head.3.bias"):
        ganzoo.from_pretrained(str(tmp_path / "vq"))


# ------------------------------------------------------------------ resume, both stages
@pytest.fixture
def digits_npz(tmp_path):
    data = synthetic_digits(2)
    path = tmp_path / "digits.npz"
    np.savez(path, x=data.images[:, 0].numpy(), y=data.labels.numpy())
    return f"npz:{path}"


def _weights(run):
    return load_file(str(Path(run) / "checkpoint" / "model.safetensors"))


def _assert_same(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


COMMON = {"device": "cpu", "quiet": True, "batch_size": 8, "log_every": 1, "sample_every": 0}


def test_resume_of_the_autoencoder_stage_is_bit_identical(digits_npz, tmp_path):
    """With every random part of the recommended recipe: k-means, restarts, EMA codebook."""
    restarts = {"restart_every": 1, "model_overrides": {"dead_code_threshold": 20.0}}
    options = dict(dataset=digits_npz, recipe="best", **restarts, **COMMON)
    launch_train("vqvae", out_dir=tmp_path / "straight", steps=4, **options)
    launch_train("vqvae", out_dir=tmp_path / "resumed", steps=2, **options)
    trainer, _ = launch_train(
        "vqvae", out_dir=tmp_path / "resumed", steps=4, resume=True, **options
    )
    assert trainer.restarted_codes > 0  # the restarts drew from the restored generator
    _assert_same(tmp_path / "straight", tmp_path / "resumed")
    saved = json.loads((tmp_path / "resumed" / "checkpoint" / "train_config.json").read_text())
    assert saved["epochs"] is None and saved["steps"] == 4


def test_resume_of_the_prior_stage_is_bit_identical(digits_npz, tmp_path):
    launch_train("vqvae", out_dir=tmp_path / "vq", dataset=digits_npz, steps=2, **COMMON)
    options = dict(stage="prior", dataset=digits_npz, prior=SMALL_PRIOR, **COMMON)
    start = tmp_path / "vq"
    launch_train("vqvae", out_dir=tmp_path / "straight", start_from=start, steps=4, **options)
    launch_train("vqvae", out_dir=tmp_path / "resumed", start_from=start, steps=2, **options)
    # the model comes back from the checkpoint: encoder, codebook, decoder and prior
    launch_train("vqvae", out_dir=tmp_path / "resumed", resume=True, steps=4, **options)
    _assert_same(tmp_path / "straight", tmp_path / "resumed")
    vq = load_file(str(tmp_path / "vq" / "model.safetensors"))
    final = _weights(tmp_path / "resumed")
    for key, value in vq.items():
        assert torch.equal(final[key], value), key  # the autoencoder did not move
    with pytest.raises(GanzooError, match="resume it with --stage prior"):
        launch_train("vqvae", out_dir=tmp_path / "resumed", resume=True, steps=6, **COMMON)


def test_launch_refuses_a_missing_or_misplaced_start_model(digits_npz, tmp_path):
    options = dict(stage="prior", dataset=digits_npz, **COMMON)
    with pytest.raises(GanzooError, match="pass --from"):
        launch_train("vqvae", out_dir=tmp_path / "p", **options)
    with pytest.raises(GanzooError, match="no such folder"):
        launch_train("vqvae", out_dir=tmp_path / "p", start_from=tmp_path / "none", **options)
    create_model("tiny").save_pretrained(tmp_path / "tiny")
    with pytest.raises(GanzooError, match="holds a 'tiny' model, not 'vqvae'"):
        launch_train("vqvae", out_dir=tmp_path / "p", start_from=tmp_path / "tiny", **options)
    assert not (tmp_path / "p").exists()


def test_a_vqvae_image_set_must_match_the_model(tmp_path):
    wrong = ImageDataset(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), None, "rgb", None)
    with pytest.raises(GanzooError, match=r"\(N, 1, 28, 28\)"):
        VQVAETrainer(create_model("vqvae"), wrong, _config(VQVAETrainer, steps=1)).fit()


def test_docs_preset_counts_show_encoder_codebook_decoder_and_default_prior():
    from doc_snippets import docs_hook

    hook = docs_hook("preset_counts")
    page = hook.on_page_markdown("<!-- preset-counts: vqvae -->")
    assert "| encoder (Keras count) | codebook (Keras count) | decoder (Keras count) |" in page
    assert "| `vqvae` | `mnist` | 19,856 | 1,024 | 28,033 | 695,936 | 48,913 |" in page
    assert "| `vqvae` | `cifar10` | 404,864 | 32,768 | 518,275 | 1,099,584 | 955,907 |" in page
    gan = hook.on_page_markdown("<!-- preset-counts: dcgan -->")
    assert "encoder" not in gan and "prior" not in gan  # columns only for networks there are
