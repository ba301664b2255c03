"""The GAN trainer: one loop, three recipes (DCGAN, WGAN, WGAN-GP), their options."""

import json

import numpy as np
import pytest
import torch

from ganzoo import create_model, get_trainer
from ganzoo.data import ImageDataset
from ganzoo.errors import GanzooError
from ganzoo.registry import get_trainer_entry
from ganzoo.train.gan import GANTrainer
from ganzoo.train.launch import build_train_config, train


def art_like(n=24, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return ImageDataset(images=images, labels=None, name="art-like", num_classes=None)


def tiny_gan(architecture, preset="small", **overrides):
    torch.manual_seed(0)
    return create_model(architecture, preset=preset, image_size=16, **overrides)


def make_trainer(architecture, recipe="report", model=None, **fields):
    fields = {
        "steps": 2,
        "batch_size": 4,
        "log_every": 1,
        "sample_every": 0,
        "quiet": True,
        "device": "cpu",
        **fields,
    }
    config = build_train_config(architecture, recipe, **fields)
    return GANTrainer(model or tiny_gan(architecture), art_like(), config)


def weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("architecture", ["dcgan", "wgan", "wgan-gp"])
def test_one_trainer_class_serves_the_three_architectures(architecture):
    assert get_trainer(architecture) is GANTrainer
    assert get_trainer_entry(architecture).default_recipe == "report"


def test_each_architecture_has_its_own_default_recipe():
    assert build_train_config("dcgan").loss == "bce"
    wgan = build_train_config("wgan")
    assert (wgan.loss, wgan.clip, wgan.n_critic, wgan.d_optimizer) == (
        "wasserstein",
        0.01,
        3,
        "rmsprop",
    )
    assert build_train_config("wgan", "paper").n_critic == 5
    gp = build_train_config("wgan-gp", "paper")
    assert (gp.loss, gp.lr, gp.beta1, gp.beta2, gp.n_critic) == (
        "wasserstein-gp",
        1e-4,
        0.0,
        0.9,
        5,
    )
    report_gp = build_train_config("wgan-gp")
    assert (report_gp.d_optimizer, report_gp.g_optimizer) == ("rmsprop", "adam")


@pytest.mark.parametrize("architecture", ["dcgan", "wgan", "wgan-gp"])
@pytest.mark.parametrize("recipe", ["report", "paper", "art-cpu"])
def test_one_step_of_each_recipe_changes_both_networks_with_finite_losses(architecture, recipe):
    trainer = make_trainer(architecture, recipe, steps=1, ema_decay=None)
    g0, d0 = weights(trainer.model.generator), weights(trainer.model.discriminator)
    result = trainer.fit()
    assert result.steps == 1
    assert result.metrics and all(np.isfinite(v) for v in result.metrics.values())
    g1, d1 = weights(trainer.model.generator), weights(trainer.model.discriminator)
    assert any(not torch.equal(g0[k], g1[k]) for k in g0)
    assert any(not torch.equal(d0[k], d1[k]) for k in d0)


def test_optimisers_are_chosen_by_name():
    trainer = make_trainer("wgan-gp", "report")
    assert isinstance(trainer.optimizers["d"], torch.optim.RMSprop)
    assert isinstance(trainer.optimizers["g"], torch.optim.Adam)
    trainer = make_trainer("wgan-gp", "paper")
    assert trainer.optimizers["d"].param_groups[0]["betas"] == (0.0, 0.9)


def test_n_critic_critic_updates_per_generator_update(monkeypatch):
    trainer = make_trainer("wgan", "paper", steps=2)
    calls = []
    original = trainer.optimizer_step
    monkeypatch.setattr(
        trainer,
        "optimizer_step",
        lambda name, loss, **kw: (calls.append(name), original(name, loss, **kw)),
    )
    trainer.fit()
    assert calls == (["d"] * 5 + ["g"]) * 2


def test_after_clipping_every_critic_weight_lies_in_range():
    trainer = make_trainer("wgan", "report", steps=2, lr=0.5)  # a huge lr would leave the range
    trainer.fit()
    for name, param in trainer.model.discriminator.named_parameters():
        assert param.abs().max() <= 0.01 + 1e-7, name


def test_gradient_penalty_is_logged_and_trains_the_critic():
    trainer = make_trainer("wgan-gp", "paper", steps=1)
    result = trainer.fit()
    assert result.metrics["gp"] >= 0 and "w_distance" in result.metrics
    no_gp = make_trainer("wgan-gp", "paper", steps=1, gp_weight=0.0)
    no_gp.fit()
    assert not torch.equal(
        trainer.model.discriminator.score.weight, no_gp.model.discriminator.score.weight
    )


def test_diffaugment_off_and_instance_noise_zero_change_nothing(monkeypatch):
    plain = make_trainer("dcgan", "report", steps=2, diffaugment="", instance_noise_decay=0.5)
    plain.fit()
    identity = make_trainer("dcgan", "report", steps=2, diffaugment="")
    monkeypatch.setattr(identity, "critic_input", lambda x: x)
    identity.fit()
    for k, v in weights(plain.model).items():
        assert torch.equal(v, weights(identity.model)[k]), k
    augmented = make_trainer("dcgan", "report", steps=2, diffaugment="translation")
    augmented.fit()
    assert not torch.equal(
        plain.model.generator.project.weight, augmented.model.generator.project.weight
    )


def test_instance_noise_decays_to_zero():
    model = tiny_gan("dcgan", instance_noise=0.2)
    trainer = make_trainer("dcgan", "report", model=model, steps=4, instance_noise_decay=0.5)
    trainer.fit()
    assert model.discriminator.noise_std == 0.0
    assert trainer.base_noise == pytest.approx(0.2)


def test_bad_gan_options_are_one_line_errors():
    for field, value in [
        ("loss", "hinge"),
        ("n_critic", 0),
        ("d_optimizer", "adamw"),
        ("clip", -1.0),
        ("diffaugment", "flip"),
        ("d_lr", float("nan")),
    ]:
        with pytest.raises(GanzooError, match=field if field != "diffaugment" else "DiffAugment"):
            build_train_config("dcgan", **{field: value})


def test_resume_is_bit_identical_with_critic_steps_and_augmentation(tmp_path):
    fields = {"diffaugment": "color,translation,cutout", "ema_decay": 0.9}
    full = make_trainer("wgan-gp", "paper", steps=4, out_dir=str(tmp_path / "full"), **fields)
    full.fit()
    half = make_trainer("wgan-gp", "paper", steps=2, out_dir=str(tmp_path / "half"), **fields)
    half.fit()
    resumed = make_trainer("wgan-gp", "paper", steps=4, out_dir=str(tmp_path / "half"), **fields)
    resumed.fit(resume=True)
    for k, v in weights(full.model).items():
        assert torch.equal(v, weights(resumed.model)[k]), k


def test_train_wgan_gp_by_name_picks_the_trainer_and_recipe(tmp_path):
    data = tmp_path / "art.npz"
    np.savez(data, x=art_like(n=12).images.permute(0, 2, 3, 1).numpy())
    trainer, result = train(
        "wgan-gp",
        out_dir=tmp_path / "run",
        dataset=f"npz:{data}",
        preset="small",
        model_overrides={"image_size": 16},
        steps=1,
        batch_size=4,
        quiet=True,
        device="cpu",
    )
    assert isinstance(trainer, GANTrainer) and result.steps == 1
    saved = json.loads((tmp_path / "run" / "checkpoint" / "train_config.json").read_text())
    assert (saved["loss"], saved["n_critic"]) == ("wasserstein-gp", 5)
    reloaded = __import__("ganzoo").from_pretrained(str(tmp_path / "run"))
    assert reloaded.sample(2, seed=0).shape == (2, 3, 16, 16)


def test_cli_trains_dcgan_on_a_folder_of_pictures_of_any_size(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from ganzoo.cli import app

    pictures = tmp_path / "mine"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(40, 30), (90, 120), (64, 64), (33, 77), (100, 50), (20, 20)]):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(pictures / f"p{i}.{'png' if i % 2 else 'jpg'}")
    out = tmp_path / "run"
    args = ["train", "dcgan", "--dataset", f"folder:{pictures}", "--preset", "small"]
    args += ["--steps", "1", "-b", "4", "--device", "cpu", "--quiet", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model = __import__("ganzoo").from_pretrained(str(out))
    assert model.sample(2, seed=0).shape == (2, 3, 64, 64)
    assert json.loads((out / "checkpoint" / "data.json").read_text())["size"] == 6
