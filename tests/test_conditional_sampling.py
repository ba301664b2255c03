"""Asking for a digit: the SGAN's conditional generator, its labels, its training and its CLI."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import ganzoo
from ganzoo import GanzooError, create_model
from ganzoo.archs.sgan.conditional import balanced_labels, check_labels
from ganzoo.cli import app
from ganzoo.io.images import to_uint8
from ganzoo.models.base import ZooModel, latent_noise
from ganzoo.registry import get_trainer_entry
from ganzoo.sampling import label_blocks
from ganzoo.train.launch import build_train_config
from mnist_fixtures import tiny_labeled_trainer

#: A small conditional SGAN: the same layers, narrow, so each test takes milliseconds.
SMALL = {"width": 8, "latent_dim": 6, "conditional": True}


def small_conditional(seed=0, embed=True):
    torch.manual_seed(seed)
    model = create_model("sgan", **SMALL).eval()
    if embed:  # the class vectors start at zero; give them values so labels matter
        with torch.no_grad():
            model.generator.embed.weight.normal_()
    return model


def one_line(exc_info, *fragments):
    message = str(exc_info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _trainer(recipe, model, steps=1, **overrides):
    return tiny_labeled_trainer("sgan", recipe, model, steps, **overrides)


# ------------------------------------------------------------------------ the default is unchanged
def test_report_preset_has_no_class_input_and_samples_as_before():
    model = create_model("sgan")
    assert model.config.conditional is False and model.conditional is False
    assert model.generator.embed is None
    assert sum(p.numel() for p in model.generator.parameters()) == 1_164_289
    # sample(n, seed) is still decode(z) of the seed's latents, bit for bit
    z = latent_noise(5, 100, 3, torch.device("cpu"))
    with torch.no_grad():
        assert torch.equal(model.sample(5, seed=3), model.decode(z))


def test_bundled_config_without_the_field_loads_unconditional():
    from ganzoo.catalog import load_catalog

    saved = json.loads((load_catalog()["sgan-mnist-100"].folder / "config.json").read_text())
    assert "conditional" not in saved["config"]  # written before the field existed
    model = ganzoo.from_pretrained("sgan-mnist-100")
    assert model.conditional is False and model.generator.embed is None


def test_cnn_shares_the_config_but_is_never_conditional():
    # the CNN baseline reads SGANConfig (its generator fields unused) and cannot sample
    assert create_model("cnn", conditional=True).conditional is False


# ------------------------------------------------------------------------ labels=
@pytest.mark.parametrize(
    "labels",
    [7, [7], [7] * 4, (7, 7, 7, 7), np.array([7, 7, 7, 7]), torch.tensor(7), torch.full((4,), 7)],
)
def test_labels_take_one_class_or_one_per_image(labels):
    model = small_conditional()
    with torch.no_grad():
        images = model.sample(4, seed=0, labels=labels)
        expected = model.decode(latent_noise(4, 6, 0, torch.device("cpu")), [7, 7, 7, 7])
    assert images.shape == (4, 1, 28, 28)
    assert torch.equal(images, expected)


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        (10, "labels must be in 0..9, got 10"),
        (-1, "labels must be in 0..9, got -1"),
        ([1, 2, 3], "got 3 labels for 4 images; give one label or 4"),
        ([], "got 0 labels for 4 images"),
        (1.0, "labels must be integers"),
        (torch.tensor([0.5] * 4), "labels must be integers"),
        (True, "labels must be class indices"),
        ("3", "labels must be class indices"),
        ([[1, 2], [3, 4]], "one index per image, got shape (2, 2)"),
        (object(), "a class index or a sequence of class indices"),
    ],
)
def test_bad_labels_get_one_line(labels, fragment):
    model = small_conditional()
    with pytest.raises(GanzooError) as exc_info:
        model.sample(4, seed=0, labels=labels)
    one_line(exc_info, fragment)


def test_same_seed_and_labels_give_the_same_images_and_labels_change_them():
    model = small_conditional()
    with torch.no_grad():
        a = model.sample(6, seed=1, labels=[0, 1, 2, 3, 4, 5])
        b = model.sample(6, seed=1, labels=[0, 1, 2, 3, 4, 5])
        c = model.sample(6, seed=1, labels=[5, 4, 3, 2, 1, 0])
    assert torch.equal(a, b)
    assert all(not torch.equal(a[i], c[i]) for i in range(6))


def test_the_latents_do_not_depend_on_the_labels():
    # with the class vectors at zero (a new model), G(z, y) is G(z): only z is left
    model = small_conditional(embed=False)
    with torch.no_grad():
        assert torch.equal(model.sample(4, seed=2, labels=3), model.sample(4, seed=2, labels=8))
        assert torch.equal(model.sample(4, seed=2), model.sample(4, seed=2, labels=1))


def test_without_labels_a_conditional_model_draws_every_class_evenly(monkeypatch):
    model = small_conditional()
    drawn = []
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda z, y=None: drawn.append(y) or decode(z, y))
    with torch.no_grad():
        model.sample(100, seed=0)
        model.sample(25, seed=0)
        model.sample(25, seed=0)
    assert torch.bincount(drawn[0], minlength=10).tolist() == [10] * 10
    assert set(torch.bincount(drawn[1], minlength=10).tolist()) == {2, 3}
    assert torch.equal(drawn[1], drawn[2])  # seeded
    assert not torch.equal(drawn[0][:10], torch.arange(10))  # shuffled, not in order


def test_balanced_labels_give_a_single_image_any_class():
    seen = {int(balanced_labels(1, 10, torch.Generator().manual_seed(s))) for s in range(60)}
    assert seen == set(range(10))


def test_check_labels_returns_int64_on_the_cpu():
    labels = check_labels(np.array([1, 2], dtype=np.uint8), 2, 10)
    assert labels.dtype == torch.int64 and labels.tolist() == [1, 2]


def test_decode_of_a_conditional_generator_needs_labels():
    model = small_conditional()
    z = torch.zeros(2, 6)
    with pytest.raises(GanzooError) as exc_info:
        model.decode(z)
    one_line(exc_info, "conditional: pass labels")
    assert model.decode(z, 4).shape == (2, 1, 28, 28)


def test_labels_on_a_model_without_a_conditional_generator_name_the_recipe():
    model = create_model("sgan", width=8)
    with pytest.raises(GanzooError) as exc_info:
        model.sample(2, labels=3)
    one_line(
        exc_info,
        "has no conditional generator",
        "ganzoo train sgan --recipe conditional",
        "pretrained: sgan-mnist-100-conditional",
    )
    with pytest.raises(GanzooError, match="has no conditional generator"):
        model.decode(torch.zeros(2, 100), [1, 2])


@pytest.mark.parametrize("arch", ["dcgan", "vaegan", "vqvae"])
def test_other_architectures_declare_no_labels_and_the_cli_refuses_them_in_one_line(arch, tmp_path):
    import inspect

    from typer.testing import CliRunner

    from ganzoo.cli import app

    model = create_model(arch)
    assert "labels" not in inspect.signature(model.sample).parameters  # it says what it takes
    assert not model.conditional
    model.save_pretrained(tmp_path / arch)
    out = str(tmp_path / "x.png")
    result = CliRunner().invoke(app, ["sample", str(tmp_path / arch), "--label", "1", "-o", out])
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "--label needs a conditional generator" in lines[0]
    assert "--recipe conditional" in lines[0]


def test_a_users_model_without_labels_samples_as_before():
    from dataclasses import dataclass

    @dataclass
    class Config:
        size: int = 4

    class Old(ZooModel):
        config_class = Config

        def sample(self, n, seed=None, device=None):
            return torch.full((n, 1, 4, 4), float(seed or 0))

    assert not Old().conditional
    assert torch.equal(Old().sample(2, 3), torch.full((2, 1, 4, 4), 3.0))


# ------------------------------------------------------------------------ saving and loading
def test_a_conditional_model_round_trips_with_its_class_vectors(tmp_path):
    model = small_conditional()
    model.save_pretrained(tmp_path / "c")
    saved = json.loads((tmp_path / "c" / "config.json").read_text())
    assert saved["config"]["conditional"] is True
    loaded = ganzoo.from_pretrained(str(tmp_path / "c"), device="cpu").eval()
    assert loaded.conditional
    assert torch.equal(loaded.generator.embed.weight, model.generator.embed.weight)
    with torch.no_grad():
        assert torch.equal(loaded.sample(5, seed=0, labels=2), model.sample(5, seed=0, labels=2))


def test_a_checkpoint_that_claims_conditional_without_class_vectors_is_refused(tmp_path):
    create_model("sgan", width=8, latent_dim=6).save_pretrained(tmp_path / "u")
    path = tmp_path / "u" / "config.json"
    config = json.loads(path.read_text())
    config["config"]["conditional"] = True
    path.write_text(json.dumps(config))
    with pytest.raises(GanzooError, match="embed"):
        ganzoo.from_pretrained(str(tmp_path / "u"))


# ------------------------------------------------------------------------ training
def test_conditional_recipe_is_best_plus_the_class_term_and_builds_a_conditional_model():
    entry = get_trainer_entry("sgan")
    cls, recipes = entry.cls, entry.recipes
    recipe = recipes["conditional"]
    assert recipe.class_weight == 1.0
    assert recipe == build_train_config(cls, "best", class_weight=1.0)
    assert cls.model_overrides(recipe) == {"conditional": True}
    assert cls.model_overrides(recipes["best"]) == {}


def test_one_conditional_step_trains_the_class_vectors_with_finite_losses():
    torch.manual_seed(0)
    model = create_model("sgan", conditional=True)
    trainer = _trainer("conditional", model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = trainer.fit()
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert {"g_class", "g_agree"} <= set(result.metrics)
    assert 0 < result.metrics["g_class"] < 2 * math.log(10)
    after = model.state_dict()
    assert not torch.equal(before["generator.embed.weight"], after["generator.embed.weight"])
    changed = [
        k for k in before if k.startswith("generator.") and not torch.equal(before[k], after[k])
    ]
    assert len(changed) == len([k for k in before if k.startswith("generator.")])


@pytest.mark.parametrize("generator_loss", ["ns", "fm+ns", "fm"])
def test_the_class_term_is_the_classifiers_cross_entropy_on_the_asked_class(generator_loss):
    torch.manual_seed(0)
    model = create_model("sgan", **SMALL)
    trainer = _trainer("report", model, class_weight=2.5, generator_loss=generator_loss)
    model.eval()  # no dropout: the same logits on every call
    fake, labels = trainer.fake_with_labels(8)
    assert labels is not None and labels.shape == (8,)
    x_real = trainer.next_batch()["x_real"]
    loss, metrics = trainer.generator_objective(x_real, fake, labels)
    without, none = trainer.generator_objective(x_real, fake, None)
    assert none == {}
    logits = model.discriminator(fake).detach().double()
    by_hand = (logits.logsumexp(dim=1) - logits.gather(1, labels[:, None]).squeeze(1)).mean()
    assert float(metrics["g_class"]) == pytest.approx(float(by_hand), rel=1e-5)
    assert float((loss - without).detach()) == pytest.approx(2.5 * float(by_hand), rel=1e-4)
    agree = (logits.argmax(dim=1) == labels).double().mean()
    assert float(metrics["g_agree"]) == pytest.approx(float(agree))
    if generator_loss == "ns":
        # -log D(G) + CE is the (K+1)-class cross-entropy of "real, class y"
        k_plus_1 = F.softplus(logits.logsumexp(dim=1)) - logits.gather(1, labels[:, None])[:, 0]
        loss_1, _ = _trainer("report", model, class_weight=1.0).generator_objective(
            x_real, fake, labels
        )
        assert float(loss_1.detach()) == pytest.approx(float(k_plus_1.mean()), rel=1e-5)


def test_the_generator_step_moves_fakes_towards_their_class():
    torch.manual_seed(0)
    model = create_model("sgan", **SMALL)
    trainer = _trainer("report", model, class_weight=1.0, lr=1e-2)
    model.eval()
    labels = torch.arange(8) % 10
    z = torch.randn(8, 6)
    with torch.no_grad():
        start = F.cross_entropy(model.discriminator(model.generator(z, labels)), labels)
    for _ in range(10):
        fake = model.generator(z, labels)
        loss, _ = trainer.generator_objective(fake, fake, labels)
        class_only = loss - trainer.generator_objective(fake, fake, None)[0]
        trainer.optimizer_step("g", class_only)
    with torch.no_grad():
        end = F.cross_entropy(model.discriminator(model.generator(z, labels)), labels)
    assert end < 0.8 * start


def test_class_weight_and_a_conditional_generator_need_each_other():
    with pytest.raises(GanzooError) as exc_info:
        _trainer("conditional", create_model("sgan", width=8))
    one_line(exc_info, "class_weight needs a conditional generator")
    with pytest.raises(GanzooError) as exc_info:
        _trainer("best", create_model("sgan", **SMALL))
    one_line(exc_info, "class_weight is 0", "--recipe conditional")
    with pytest.raises(GanzooError, match="class_weight must be"):
        _trainer("conditional", create_model("sgan", **SMALL), class_weight=-1.0)


def test_unconditional_fakes_draw_the_same_noise_as_before():
    torch.manual_seed(0)
    trainer = _trainer("report", create_model("sgan", width=8, latent_dim=6))
    state = trainer.noise.get_state()
    fake, labels = trainer.fake_with_labels(5)
    trainer.noise.set_state(state)
    z = torch.randn(5, 6, generator=trainer.noise)
    assert labels is None and torch.equal(fake, trainer.model.generator(z))


def test_sample_grids_of_a_conditional_run_go_in_class_order(monkeypatch):
    trainer = _trainer("conditional", small_conditional())
    asked = []
    sample = trainer.model.sample
    monkeypatch.setattr(
        trainer.model, "sample", lambda n, **kw: asked.append(kw["labels"]) or sample(n, **kw)
    )
    assert trainer.sample_images(20).shape == (20, 1, 28, 28)
    assert asked[0].tolist() == [k for k in range(10) for _ in range(2)]


def test_resume_of_a_run_saved_before_the_conditional_field(tmp_path):
    def trainer(steps):
        torch.manual_seed(0)
        model = create_model("sgan", width=8, latent_dim=6)
        return _trainer("report", model, steps=steps, out_dir=str(tmp_path / "run"))

    trainer(1).fit()
    path = tmp_path / "run" / "checkpoint" / "config.json"
    saved = json.loads(path.read_text())
    del saved["config"]["conditional"]  # as a run of an earlier ganzoo wrote it
    path.write_text(json.dumps(saved))
    assert trainer(2).fit(resume=True).steps == 2


# ------------------------------------------------------------------------ the CLI
def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def conditional_folder(tmp_path):
    model = small_conditional()
    model.save_pretrained(tmp_path / "cond")
    return tmp_path / "cond", model


def test_cli_label_draws_the_asked_class(conditional_folder, tmp_path):
    folder, model = conditional_folder
    out = tmp_path / "sevens.npy"
    result = invoke("sample", folder, "--label", 7, "-n", 6, "--seed", 4, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        expected = model.sample(6, seed=4, labels=7)
    pixels = np.load(out)
    assert pixels.shape == (6, 28, 28, 1)
    assert np.array_equal(pixels, to_uint8(expected).permute(0, 2, 3, 1).numpy())


def test_cli_labels_split_the_images_into_blocks(conditional_folder, tmp_path):
    folder, model = conditional_folder
    out = tmp_path / "blocks.npy"
    args = ["--label", "1,2", "--label", 3, "-n", 6, "--seed", 0, "-b", 4]
    result = invoke("sample", folder, *args, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    labels = torch.tensor([1, 1, 2, 2, 3, 3])
    with torch.no_grad():  # chunks of 4 with seeds 0 and 1, as sample_batches draws
        first = model.sample(4, seed=0, labels=labels[:4])
        second = model.sample(2, seed=1, labels=labels[4:])
    expected = to_uint8(torch.cat([first, second])).permute(0, 2, 3, 1)
    assert np.array_equal(np.load(out), expected.numpy())


@pytest.mark.parametrize(
    ("label", "fragment"),
    [
        ("x", "--label takes class indices"),
        ("3,", "--label takes class indices"),
        ("1_0", "--label takes class indices"),
        ("10", "--label must be between 0 and 9"),
        ("-1", "--label must be between 0 and 9"),
        ("0,1,2,3,4", "5 labels for 4 images"),
    ],
)
def test_cli_bad_labels_get_one_line(conditional_folder, tmp_path, label, fragment):
    folder, _ = conditional_folder
    result = invoke("sample", folder, f"--label={label}", "-n", 4, "--out", tmp_path / "x.png")
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "x.png").exists()


def test_cli_label_on_a_model_without_a_conditional_generator(tmp_path):
    result = invoke("sample", "sgan-mnist-100", "--label", 7, "-n", 4, "--out", tmp_path / "s.png")
    assert_one_line_error(
        result,
        "--label needs a conditional generator and 'sgan-mnist-100' has none",
        "ganzoo train sgan --recipe conditional",
    )
    assert not (tmp_path / "s.png").exists()


def test_label_blocks():
    assert label_blocks([7], 3).tolist() == [7, 7, 7]
    assert label_blocks(range(10), 100).view(10, 10)[:, 0].tolist() == list(range(10))
    assert label_blocks([1, 2, 3], 7).tolist() == [1, 1, 1, 2, 2, 3, 3]
    with pytest.raises(GanzooError, match="no labels"):
        label_blocks([], 3)


def test_a_bundled_conditional_checkpoint_would_be_named(tmp_path, monkeypatch):
    from ganzoo import catalog
    from ganzoo.archs.sgan.conditional import conditional_generators

    folder = tmp_path / "sgan-mnist-100"
    folder.mkdir()
    config = json.loads(
        (catalog.load_catalog()["sgan-mnist-100"].folder / "config.json").read_text()
    )
    config["config"]["conditional"] = True
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(catalog, "PRETRAINED_DIR", tmp_path)
    assert "pretrained: sgan-mnist-100" in conditional_generators()


# ------------------------------------------------------------------------ agreement
class AlwaysZero:
    """A stand-in reader that reads every image as a 0."""

    def logits(self, images):
        out = torch.zeros(len(images), 10, dtype=torch.float64)
        out[:, 0] = 5.0
        return out


def test_agreement_is_the_share_read_as_the_asked_class():
    from ganzoo.metrics.sample_quality import agreement

    logits = torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0], [0, 0, 3.0, 0]])
    assert agreement(logits, [0, 1, 2, 3]) == 0.75
    assert agreement(logits, torch.tensor([1, 1, 1, 1])) == 0.25
    with pytest.raises(GanzooError, match="got 3 labels for 4 rows"):
        agreement(logits, [0, 1, 2])


def test_a_conditional_generator_is_measured_on_every_class_in_turn():
    from ganzoo.archs.sgan.conditional import class_order_labels
    from ganzoo.metrics.fid import generated_images
    from ganzoo.metrics.sample_quality import read_samples

    model = small_conditional()
    asked = class_order_labels(model, 20)
    assert asked.tolist() == [k for k in range(10) for _ in range(2)]
    assert class_order_labels(create_model("sgan", width=8), 20) is None
    with torch.no_grad():
        expected = to_uint8(model.sample(20, seed=5, labels=asked))
    assert torch.equal(torch.cat(list(generated_images(model, 20, seed=5))), expected)
    read = read_samples(model, 20, seed=5, network=AlwaysZero())
    assert read["agreement"] == pytest.approx(0.1)  # only the two images asked to be 0s
    assert read["class_shares"][0] == 1.0
    assert "labels" in read["protocol"]["generated"]
    assert "agreement" not in read_samples(create_model("sgan", width=8), 4, network=AlwaysZero())


def test_agreement_of_a_model_without_a_conditional_generator_is_refused_in_one_line():
    from ganzoo.metrics.sample_quality import sample_metrics

    with pytest.raises(GanzooError) as exc_info:
        sample_metrics(create_model("sgan", width=8), n=4, metrics="agreement")
    one_line(exc_info, "has no conditional generator", "--recipe conditional")


def test_cli_eval_agreement(conditional_folder, tmp_path):
    folder, _ = conditional_folder
    result = invoke("eval", folder, "--metric", "agreement,balance", "-n", 20, "-q")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0.0 <= report["agreement"] <= 1.0 and len(report["class_shares"]) == 10
    result = invoke("eval", "sgan-mnist-100", "--metric", "agreement", "-n", 20)
    assert_one_line_error(result, "'sgan-mnist-100' has no conditional generator")
