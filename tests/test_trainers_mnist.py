"""One step of each MNIST-family trainer on tiny synthetic data, and the labeled subset."""

import math

import pytest
import torch

from ganzoo import create_model, get_trainer
from ganzoo.archs.sgan.augment import (
    elastic_displacement,
    random_affine,
    random_erase,
    random_translate,
)
from mnist_fixtures import synthetic_digits, tiny_labeled_trainer

CASES = [
    ("sgan", "report", {}),
    ("sgan", "fm", {}),
    ("sgan", "hybrid", {}),
    ("sgan", "best", {}),
    ("sgan", "consistency", {}),  # "entropy" is "best" at a lower learning rate
    ("sgan", "best", {"strong_elastic": 34.0}),
    ("cnn", "report", {}),
    ("cnn", "best", {}),
    ("vaegan", "report", {}),
    ("vaegan", "features", {}),
    ("vaegan", "report", {"discriminator_fakes": "prior"}),
    ("vaegan", "samples", {}),
    ("vaegan", "samples-features", {}),
]


def _trainer(arch, recipe, steps=1, **overrides):
    torch.manual_seed(0)
    return tiny_labeled_trainer(arch, recipe, create_model(arch), steps, **overrides)


@pytest.mark.parametrize(("arch", "recipe", "extra"), CASES)
def test_one_step_changes_weights_with_finite_losses(arch, recipe, extra):
    trainer = _trainer(arch, recipe, **extra)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert result.metrics and all(math.isfinite(v) for v in result.metrics.values())
    after = trainer.model.state_dict()
    for prefix in {k.split(".")[0] for k in before}:
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)), (
            f"{arch}/{recipe}: {prefix} did not change"
        )
    assert 0.0 <= result.evaluation["test_accuracy"] <= 1.0
    # The accuracy comes from the confusion matrix the trainer keeps for per-class figures.
    counts = trainer.last_confusion
    assert counts.shape == (10, 10) and int(counts.sum()) == len(trainer.eval_data)
    assert result.evaluation["test_accuracy"] == counts.trace().item() / counts.sum().item()


def test_report_generator_update_leaves_the_discriminator_alone():
    trainer = _trainer("sgan", "report")
    batch = trainer.next_batch()
    d_before = [p.clone() for p in trainer.model.discriminator.parameters()]
    trainer._generator_step(batch["x_real"], trainer.fake(8))
    assert all(
        torch.equal(a, b)
        for a, b in zip(d_before, trainer.model.discriminator.parameters(), strict=True)
    )


def test_report_protocol_keeps_separate_adam_states_for_c_and_d():
    trainer = _trainer("sgan", "report")
    assert set(trainer.optimizers) == {"c", "d", "g"}
    trainer.fit()
    c_state = trainer.optimizers["c"].state
    d_state = trainer.optimizers["d"].state
    param = next(trainer.model.discriminator.parameters())
    assert d_state[param]["step"] == 2 and c_state[param]["step"] == 1  # D: real, then fake


def test_labeled_subset_in_the_trainer_is_balanced_and_reproducible():
    a, b = _trainer("sgan", "report"), _trainer("sgan", "report")
    assert torch.equal(a.labeled_data.images, b.labeled_data.images)
    assert torch.bincount(a.labeled_data.labels, minlength=10).tolist() == [2] * 10
    c = _trainer("sgan", "report", label_seed=1)
    assert not torch.equal(a.labeled_data.images, c.labeled_data.images)


def test_unlabeled_data_set_is_refused_with_a_clear_error():
    from ganzoo import GanzooError
    from ganzoo.data import ImageDataset

    data = synthetic_digits()
    unlabeled = ImageDataset(images=data.images, labels=None, name="x", num_classes=None)
    with pytest.raises(GanzooError, match="has no labels"):
        get_trainer("sgan")(create_model("sgan"), unlabeled, get_trainer("sgan").config_class())


def test_vaegan_rejects_an_unknown_likelihood():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="likelihood must be"):
        _trainer("vaegan", "report", likelihood="bits")


def test_vaegan_vae_lr_sets_the_encoder_and_decoder_rate_only():
    from ganzoo import GanzooError

    trainer = _trainer("vaegan", "report", vae_lr=1e-3)
    rates = {name: opt.param_groups[0]["lr"] for name, opt in trainer.optimizers.items()}
    assert rates == {"c": trainer.config.lr, "d": trainer.config.lr, "enc": 1e-3, "dec": 1e-3}
    default = _trainer("vaegan", "report")
    assert {o.param_groups[0]["lr"] for o in default.optimizers.values()} == {default.config.lr}
    with pytest.raises(GanzooError, match="vae_lr must be a positive"):
        _trainer("vaegan", "report", vae_lr=0.0)


def test_vaegan_class_term_is_catgans_and_moves_only_the_decoder(monkeypatch):
    from ganzoo import losses

    seen = []
    real = losses.conditional_entropy
    monkeypatch.setattr(losses, "conditional_entropy", lambda x: seen.append(x) or real(x))
    trainer = _trainer("vaegan", "report", class_weight=2.0)
    batch = trainer.next_batch()
    logs = trainer.train_step(batch)
    assert len(seen) == 1 and seen[0].shape == (len(batch["x_real"]), 10)  # the prior samples'
    assert logs["prior_entropy"] >= 0 and 0 <= logs["prior_spread"] <= math.log(10) + 1e-6
    # Same seed and batch without the term: D and the encoder end up equal, the decoder not.
    plain = _trainer("vaegan", "report")
    plain_logs = plain.train_step(plain.next_batch())
    assert "prior_entropy" not in plain_logs
    for part, same in (("discriminator", True), ("encoder", True), ("decoder", False)):
        ours = getattr(trainer.model, part).state_dict()
        theirs = getattr(plain.model, part).state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours) is same, part


def test_random_translate_shifts_whole_images_with_background_fill():
    x = -torch.ones(64, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    out = random_translate(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert (out == 1.0).flatten(1).sum(1).eq(1).all()  # the bright pixel survives, moved
    positions = (out == 1.0).flatten(1).float().argmax(1)
    assert positions.unique().numel() > 5
    assert torch.equal(random_translate(x, 0), x)


def test_sgan_rejects_an_unknown_generator_loss():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="generator_loss must be"):
        _trainer("sgan", "report", generator_loss="wasserstein")


def test_best_sgan_recipe_trains_with_pseudo_labels_on_unlabeled_images():
    trainer = _trainer("sgan", "best", steps=2, consistency_threshold=0.05)
    result = trainer.fit()
    assert trainer.config.consistency_weight > 0
    # With a threshold of 5% nearly every unlabeled image gets a pseudo-label.
    assert result.metrics["confident"] > 0.5
    assert result.metrics["consistency"] > 0


def _fit_counting_strong_views(trainer, monkeypatch):
    """Train, recording the batch size of every strong view made; returns (result, sizes)."""
    sizes = []
    strong_view = trainer._strong_view

    def spy(x):
        sizes.append(x.shape[0])
        return strong_view(x)

    monkeypatch.setattr(trainer, "_strong_view", spy)
    return trainer.fit(), sizes


def test_consistency_batch_draws_its_own_unlabeled_images(monkeypatch):
    trainer = _trainer("sgan", "best", steps=2, consistency_batch=12)
    result, sizes = _fit_counting_strong_views(trainer, monkeypatch)
    # D's real half batch is 4 images; the pseudo-label loss saw 12 per step.
    assert sizes == [12, 12]
    assert math.isfinite(result.metrics["consistency"])


def test_strong_labeled_view_augments_the_labeled_images(monkeypatch):
    trainer = _trainer("sgan", "best", labeled_view="strong")
    result, sizes = _fit_counting_strong_views(trainer, monkeypatch)
    # 8 labeled images, then the 4 unlabeled ones of the pseudo-label loss.
    assert sizes == [8, 4]
    assert math.isfinite(result.metrics["c"])


def test_labeled_view_must_be_weak_or_strong():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="labeled_view must be"):
        _trainer("sgan", "best", labeled_view="medium")


def test_entropy_minimisation_trains_and_needs_the_joint_update():
    from ganzoo import GanzooError

    result = _trainer("sgan", "best", steps=2, entropy_weight=1.0).fit()
    assert 0.0 < result.metrics["entropy"] <= math.log(10) + 1e-5
    with pytest.raises(GanzooError, match="entropy_weight needs joint_d_update"):
        _trainer("sgan", "report", entropy_weight=1.0)


def test_class_balance_is_maximised_and_needs_the_joint_update(monkeypatch):
    from ganzoo import GanzooError, losses

    gradients = []  # d(total loss)/d(balance): -weight when the balance is maximised
    marginal_entropy = losses.marginal_entropy

    def spy(logits):
        value = marginal_entropy(logits)
        value.register_hook(lambda grad: gradients.append(float(grad)))
        return value

    monkeypatch.setattr(losses, "marginal_entropy", spy)
    result = _trainer("sgan", "best", steps=2, class_balance_weight=2.0).fit()
    assert gradients == [-2.0, -2.0]
    assert 0.0 < result.metrics["balance"] <= math.log(10) + 1e-5
    with pytest.raises(GanzooError, match="class_balance_weight needs joint_d_update"):
        _trainer("sgan", "report", class_balance_weight=1.0)
    with pytest.raises(GanzooError, match="class_balance_weight must be >= 0"):
        _trainer("sgan", "best", class_balance_weight=-1.0)


def test_consistency_batch_must_not_be_negative():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="consistency_batch must be"):
        _trainer("sgan", "best", consistency_batch=-1)
    with pytest.raises(GanzooError, match="consistency_batch needs consistency_weight"):
        _trainer("sgan", "hybrid", consistency_batch=100)


def test_consistency_needs_the_joint_update():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="needs joint_d_update"):
        _trainer("sgan", "report", consistency_weight=1.0)


def test_random_affine_identity_and_background_fill():
    x = torch.rand(4, 1, 12, 12) * 2 - 1
    same = random_affine(x, 0.0, (1.0, 1.0), 0.0)
    assert torch.allclose(same, x, atol=1e-5)
    background = -torch.ones(16, 1, 12, 12)
    moved = random_affine(background, 30.0, (0.8, 1.2), 3.0, torch.Generator().manual_seed(0))
    assert torch.allclose(moved, background, atol=1e-5)  # uncovered pixels are background
    digit = -torch.ones(16, 1, 12, 12)
    digit[:, :, 4:8, 5:7] = 1.0
    turned = random_affine(digit, 30.0, (0.8, 1.2), 3.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(turned, digit)
    assert turned.min() >= -1 - 1e-5 and turned.max() <= 1 + 1e-5


def test_random_erase_blanks_one_square_of_the_given_side():
    x = torch.ones(200, 1, 28, 28)
    out = random_erase(x, 10, torch.Generator().manual_seed(0))
    erased = (out == -1.0).flatten(1).sum(1)
    assert erased.max() == 100  # a whole 10x10 square when it lies inside the image
    assert erased.min() > 0 and (erased <= 100).all()
    assert torch.equal(random_erase(x, 0), x)


def _elastic(x, alpha, sigma=4.0, generator=None, fill=-1.0):
    """The SGAN's elastic distortion as its training uses it: a field on the affine grid."""
    field = elastic_displacement(x.shape, alpha, sigma, generator)
    return random_affine(x, 0.0, (1.0, 1.0), 0.0, fill=fill, displacement=field)


def test_elastic_distortion_moves_pixels_by_about_alpha_scaled_pixels():
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert elastic_displacement(x.shape, 0.0) is None
    assert torch.allclose(_elastic(x, 0.0), x, atol=1e-5)  # no field: the identity grid
    background = -torch.ones(8, 1, 28, 28)
    warped = _elastic(background, 34.0, 4.0, torch.Generator().manual_seed(0))
    assert torch.allclose(warped, background, atol=1e-5)  # uncovered pixels are background
    # A horizontal ramp of one unit per pixel: the output minus the input is -dx, in pixels.
    ramp = torch.arange(28.0).view(1, 1, 1, 28).expand(256, 1, 28, 28).contiguous()
    out = _elastic(ramp, 34.0, 4.0, torch.Generator().manual_seed(1), fill=0.0)
    shift = (out - ramp)[:, :, 8:20, 8:20].abs()  # away from the border
    # Simard et al.'s setting moves pixels by about a pixel: not by 0.1, not by 10.
    assert 0.5 < shift.mean() < 2.5 and shift.max() < 8
    again = _elastic(ramp, 34.0, 4.0, torch.Generator().manual_seed(1), fill=0.0)
    assert torch.equal(out, again)  # seeded
    smoother = _elastic(ramp, 34.0, 8.0, torch.Generator().manual_seed(1), fill=0.0)
    assert (smoother - ramp)[:, :, 8:20, 8:20].abs().mean() < shift.mean()


def test_strong_elastic_rejects_a_negative_scale():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="strong_elastic must be >= 0"):
        _trainer("sgan", "entropy", strong_elastic=-1.0)


def test_data_dependent_init_standardises_every_layer_and_keeps_the_count():
    from ganzoo.nn.init import data_dependent_init_

    model = create_model("sgan")
    d = model.discriminator
    count = sum(p.numel() for p in d.parameters())
    x = synthetic_digits().images.float() / 127.5 - 1
    data_dependent_init_(d, x)
    assert sum(p.numel() for p in d.parameters()) == count
    outputs = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out))
        for m in d.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    d.eval()
    with torch.no_grad():
        d(x)
    for hook in hooks:
        hook.remove()
    assert len(outputs) == 4
    for out in outputs:
        dims = [0, 2, 3] if out.dim() == 4 else [0]
        assert torch.allclose(out.mean(dim=dims), torch.zeros(()), atol=1e-4)
        assert torch.allclose(out.std(dim=dims), torch.ones(()), atol=1e-3)


def test_ema_teacher_and_data_init_train():
    trainer = _trainer(
        "sgan",
        "best",
        steps=2,
        pseudo_label_teacher="ema",
        data_init=True,
        consistency_threshold=0.05,
    )
    result = trainer.fit()
    assert math.isfinite(result.metrics["consistency"])
    assert trainer._teacher() is trainer.ema.module.discriminator


def test_ema_teacher_needs_an_ema():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="needs ema_decay"):
        _trainer("sgan", "best", pseudo_label_teacher="ema", ema_decay=None)


def test_vaegan_rejects_unknown_fakes_choice():
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match="discriminator_fakes must be"):
        _trainer("vaegan", "report", discriminator_fakes="none")


def test_discriminator_is_per_sample_so_the_joint_update_may_batch_its_parts():
    # The joint D update runs labeled, real, fake and strong views in one forward; that
    # is only the same maths while D has no batch statistics (no BatchNorm).
    d = create_model("sgan").discriminator.eval()
    a, b = torch.randn(3, 1, 28, 28), torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        joint = d(torch.cat([a, b]))
        alone = torch.cat([d(a), d(b)])
    assert torch.allclose(joint, alone, atol=1e-5)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in d.modules())


# ------------------------------------------------ the SGAN trainer is the GAN trainer + labels
def _chain_has_no_diamond(cls):
    from ganzoo.train.base import Trainer

    return all(
        len([b for b in klass.__bases__ if issubclass(b, Trainer)]) <= 1 for klass in cls.__mro__
    )


def test_sgan_trainer_is_the_gan_trainer_plus_labeled_data():
    from ganzoo.archs.sgan.cnn_train import ClassifierTrainer
    from ganzoo.archs.sgan.labeled import LabeledData
    from ganzoo.archs.sgan.train import SGANTrainer
    from ganzoo.archs.vaegan.train import VAEGANTrainer
    from ganzoo.train.base import Trainer
    from ganzoo.train.gan import GANTrainer

    assert issubclass(SGANTrainer, GANTrainer)
    for cls in (SGANTrainer, ClassifierTrainer, VAEGANTrainer):
        assert _chain_has_no_diamond(cls), cls
        assert not issubclass(cls, LabeledData)
        assert "SemiSupervisedTrainer" not in {k.__name__ for k in cls.__mro__}
    assert ClassifierTrainer.__bases__ == (Trainer,) and VAEGANTrainer.__bases__ == (Trainer,)
    # The generator side is GANTrainer's own code, not a copy.
    for name in ("fake", "generator_loss", "critic_input"):
        assert getattr(SGANTrainer, name) is getattr(GANTrainer, name), name
    for arch in ("sgan", "cnn", "vaegan"):
        trainer = _trainer(arch, "report")
        assert isinstance(trainer.labeled, LabeledData)
        assert trainer.labeled_data is trainer.labeled.data
        assert (
            trainer.data_fingerprint()["labeled_subset"]
            == trainer.labeled.fingerprint()["labeled_subset"]
        )


def test_sgan_generator_loss_is_the_non_saturating_loss_on_the_logsumexp_logit():
    from ganzoo import losses

    trainer = _trainer("sgan", "report")
    trainer.model.eval()  # no dropout: D gives the same logits twice
    fake = trainer.fake(6)
    logits = trainer.model.discriminator(fake)
    assert torch.equal(trainer.generator_loss(fake), losses.generator_loss(logits))
    assert torch.equal(trainer.real_fake_scores(fake), losses.real_fake_logit(logits))


def test_sgan_config_keeps_its_defaults_and_its_generators():
    from ganzoo.archs.sgan.train import SGANTrainConfig
    from ganzoo.train.gan import GANTrainConfig

    cfg = SGANTrainConfig()
    assert isinstance(cfg, GANTrainConfig)
    assert (cfg.steps, cfg.batch_size, cfg.sample_every, cfg.eval_every) == (600, 100, 200, 100)
    assert (cfg.lr, cfg.labels, cfg.labeled_batch, cfg.loss, cfg.n_critic) == (
        2e-4,
        100,
        50,
        "bce",
        1,
    )
    # Seeds come from the creation order of the generators; checkpoints store them by name.
    trainer = _trainer("sgan", "best", consistency_batch=12)
    assert list(trainer.generators) == ["noise", "labeled", "augment", "unlabeled", "consistency"]
    assert trainer.augment_rng is trainer.labeled.augment_rng
    assert list(_trainer("cnn", "report").generators) == ["noise", "labeled", "augment"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("loss", "wasserstein"),
        ("n_critic", 2),
        ("clip", 0.01),
        ("diffaugment", "translation"),
        ("instance_noise_decay", 0.5),
    ],
)
def test_sgan_refuses_gan_options_it_does_not_vary_in_one_line(field, value):
    from ganzoo import GanzooError

    with pytest.raises(GanzooError, match=rf"sgan takes only {field}=") as info:
        _trainer("sgan", "report", **{field: value})
    assert "\n" not in str(info.value)


def test_sgan_optimisers_are_chosen_by_name_like_the_gan_trainers():
    trainer = _trainer("sgan", "report", d_optimizer="rmsprop", g_lr=1e-3)
    kinds = {name: type(opt).__name__ for name, opt in trainer.optimizers.items()}
    assert kinds == {"d": "RMSprop", "g": "Adam", "c": "RMSprop"}  # C shares D's backbone
    assert trainer.optimizers["g"].param_groups[0]["lr"] == 1e-3
    assert trainer.optimizers["c"].param_groups[0]["lr"] == 2e-4
    assert trainer.optimizers["c"] is not trainer.optimizers["d"]
    assert set(_trainer("sgan", "fm").optimizers) == {"d", "g"}


def test_an_sgan_run_saved_without_the_gan_options_still_resumes(tmp_path):
    import json

    from ganzoo.archs.sgan.labeled import LabeledConfig
    from ganzoo.train.gan import GANTrainConfig

    out = tmp_path / "run"
    first = _trainer("sgan", "report", out_dir=str(out))
    first.fit()
    # A run folder of an older version: train_config.json without GANTrainConfig's keys.
    path = out / "checkpoint" / "train_config.json"
    saved = json.loads(path.read_text())
    gan_only = {f for f in GANTrainConfig.__dataclass_fields__} - set(
        LabeledConfig.__dataclass_fields__
    )
    assert {"loss", "n_critic", "d_optimizer"} <= gan_only <= set(saved)
    path.write_text(json.dumps({k: v for k, v in saved.items() if k not in gan_only}))
    resumed = _trainer("sgan", "report", steps=2, out_dir=str(out))
    result = resumed.fit(resume=True)
    assert result.steps == 2
