"""Building, capabilities and saving of the MNIST family (SPEC §1-3)."""

import json

import pytest
import torch

import ganzoo
from ganzoo import create_model
from ganzoo.models.base import keras_parameter_count


def test_sgan_report_preset_matches_keras_parameter_counts():
    model = create_model("sgan")
    assert keras_parameter_count(model.discriminator) == 316_938
    assert keras_parameter_count(model.generator) == 1_164_289


def test_cnn_report_preset_matches_the_sgan_classifier_count():
    assert keras_parameter_count(create_model("cnn").classifier) == 316_938


def test_vaegan_report_preset_matches_keras_parameter_counts():
    model = create_model("vaegan")
    assert keras_parameter_count(model.encoder) == 51_452
    assert keras_parameter_count(model.decoder) == 52_216
    assert keras_parameter_count(model.discriminator) == 316_938


def test_vaegan_wide_preset_widens_the_vae_and_keeps_the_report_discriminator():
    model = create_model("vaegan", preset="wide")
    # 784*256+256 + 256*128+128 + 2*(128*16+16): two dense layers and the two heads
    assert keras_parameter_count(model.encoder) == 200_960 + 32_896 + 2 * 2_064
    # 16*128+128 + 128*256+256 + 256*784+784, mirrored
    assert keras_parameter_count(model.decoder) == 2_176 + 33_024 + 201_488
    assert keras_parameter_count(model.discriminator) == 316_938
    assert model.sample(3, seed=0).shape == (3, 1, 28, 28)


def test_vaegan_reconstruction_panel_is_inputs_above_their_reconstructions(tmp_path):
    from ganzoo.io.pictures import reconstruction_panel, save_reconstructions

    torch.manual_seed(0)
    model = create_model("vaegan")
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    panel = reconstruction_panel(model, images)
    assert panel.shape == (8, 3, 28, 28)
    assert torch.equal(panel[:4], images.expand(-1, 3, -1, -1))
    with torch.no_grad():
        assert torch.allclose(panel[4:], model.reconstruct(images).expand(-1, 3, -1, -1))
    assert save_reconstructions(model, images, tmp_path / "r.png").is_file()


def test_layer_shapes_follow_the_report_tables():
    model = create_model("sgan")
    x = torch.zeros(2, 1, 28, 28)
    shapes = []
    h = x
    for layer in model.discriminator.body:
        h = layer(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes[1] == (128, 14, 14) and shapes[3] == (128, 7, 7) and shapes[5] == (128, 4, 4)
    assert model.generator.project(torch.zeros(2, 100)).shape == (2, 6272)


@pytest.mark.parametrize("name", ["sgan", "cnn", "vaegan"])
def test_classify_gives_raw_logits(name):
    model = create_model(name).eval()
    logits = model.classify(torch.rand(4, 1, 28, 28) * 2 - 1)
    assert logits.shape == (4, 10)
    assert not torch.allclose(logits.exp().sum(1), torch.ones(4))  # not probabilities


@pytest.mark.parametrize("name", ["sgan", "vaegan"])
def test_sample_shape_range_and_seed(name):
    model = create_model(name).eval()
    a, b = model.sample(6, seed=1), model.sample(6, seed=1)
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1
    assert not torch.equal(a, model.sample(6, seed=2))


def test_vaegan_encode_decode_reconstruct():
    model = create_model("vaegan").eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    codes = model.encode(x)
    assert set(codes) == {"mu", "log_sigma"} and codes["mu"].shape == (3, 2)
    assert torch.equal(model.reconstruct(x), model.decode(codes["mu"]))
    assert model.generator is model.decoder


def test_cnn_cannot_sample_and_says_who_can():
    with pytest.raises(ganzoo.GanzooError, match=r"cannot sample\(\).*sgan.*vaegan"):
        create_model("cnn").sample(1)


@pytest.mark.parametrize("name", ["sgan", "cnn", "vaegan"])
def test_save_load_round_trip(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name).eval()
    model.save_pretrained(tmp_path / name)
    loaded = ganzoo.from_pretrained(str(tmp_path / name))
    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    assert torch.equal(loaded.classify(x), model.classify(x))
    config = json.loads((tmp_path / name / "config.json").read_text())
    assert config["data"]["dataset"] == "mnist" and config["data"]["num_classes"] == 10


def test_report_init_is_keras_glorot_with_zero_bias():
    conv = create_model("sgan").discriminator.body[2]
    fan_in, fan_out = 128 * 9, 128 * 9
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(conv.bias) == 0


def test_discriminator_noise_is_training_only_and_adds_no_parameters():
    noisy = create_model("sgan", input_noise=0.3, hidden_noise=0.5)
    plain = create_model("sgan")
    assert keras_parameter_count(noisy.discriminator) == keras_parameter_count(plain.discriminator)
    noisy.discriminator.load_state_dict(plain.discriminator.state_dict())
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    noisy.eval(), plain.eval()
    assert torch.equal(noisy.classify(x), plain.classify(x))
    noisy.train()
    assert not torch.equal(noisy.discriminator.features(x), noisy.discriminator.features(x))


def test_vaegan_leaky_activation_keeps_the_counts_and_bad_names_are_refused():
    from ganzoo import GanzooError

    leaky = create_model("vaegan", activation="leaky_relu")
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in leaky.decoder.modules())
    assert keras_parameter_count(leaky.encoder) == 51_452
    assert keras_parameter_count(leaky.decoder) == 52_216
    with pytest.raises(GanzooError, match="activation must be"):
        create_model("vaegan", activation="gelu")
