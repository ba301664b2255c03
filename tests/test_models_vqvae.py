"""The VQ-VAE (SPEC §7): counts, shapes, gradients, losses, save/load, errors."""

import json

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo import create_model, losses
from ganzoo.archs.vqvae.model import VQVAE, VQEncoding
from ganzoo.errors import GanzooError
from ganzoo.models.base import keras_parameter_count


def _images(model, n=2, seed=0):
    c, s = model.config.channels, model.config.image_size
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize(
    ("preset", "encoder", "decoder"),
    [("mnist", 19_856, 28_033), ("cifar10", 404_864, 518_275)],
)
def test_presets_match_the_keras_parameter_counts(preset, encoder, decoder):
    model = create_model("vqvae", preset=preset)
    assert keras_parameter_count(model.encoder) == encoder
    assert keras_parameter_count(model.decoder) == decoder


@pytest.mark.parametrize(
    ("preset", "encoder_shapes", "decoder_shapes"),
    [
        (
            "mnist",
            [(32, 14, 14), (64, 7, 7), (16, 7, 7)],
            [(64, 14, 14), (32, 28, 28), (1, 28, 28)],
        ),
        (
            "cifar10",
            [(32, 32, 32), (64, 16, 16), (128, 8, 8), (256, 8, 8), (64, 8, 8)],
            [(256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 32, 32)],
        ),
    ],
)
def test_layer_output_shapes_are_the_reports(preset, encoder_shapes, decoder_shapes):
    model = create_model("vqvae", preset=preset)
    for network, expected in ((model.encoder, encoder_shapes), (model.decoder, decoder_shapes)):
        h = (
            _images(model, 1)
            if network is model.encoder
            else model.quantizer.lookup(torch.zeros(1, *model.code_grid, dtype=torch.long))
        )
        shapes = []
        for layer in network.body:
            h = layer(h)
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                shapes.append(tuple(h.shape[1:]))
        assert shapes == expected


def test_default_preset_is_mnist_and_vqvae_is_registered():
    assert "vqvae" in ganzoo.list_models()
    model = create_model("vqvae")
    assert isinstance(model, VQVAE) and model.config.num_codes == 64
    assert model.code_grid == (7, 7)
    assert model.can("encode") and model.can("decode") and model.can("sample")


@pytest.mark.parametrize("preset", ["mnist", "cifar10"])
def test_encode_decode_shapes(preset):
    model = create_model("vqvae", preset=preset).eval()
    x = _images(model, 3)
    codes = model.encode(x)
    h, w = model.code_grid
    assert codes.dtype == torch.long and codes.shape == (3, h, w)
    assert codes.min() >= 0 and codes.max() < model.config.num_codes
    encoding = model.encode(x, return_latents=True)
    assert isinstance(encoding, VQEncoding) and torch.equal(encoding.codes, codes)
    assert encoding.z_e.shape == (3, model.config.code_dim, h, w)
    images = model.decode(codes)
    assert images.shape == x.shape and images.min() >= -1 and images.max() <= 1
    assert torch.equal(model.reconstruct(x), images)


def test_the_encoder_receives_the_decoders_gradient_through_the_quantizer():
    torch.manual_seed(0)
    model = create_model("vqvae").train()
    out = model(_images(model, 4))
    z_q, z_e = out.vq.z_q, out.z_e
    grad_q, grad_e = torch.autograd.grad(
        out.reconstruction_loss, [z_q, z_e], allow_unused=True, retain_graph=True
    )
    assert grad_e is not None and grad_e.abs().sum() > 0
    torch.testing.assert_close(grad_e, grad_q)  # copied straight through
    out.reconstruction_loss.backward()
    first_conv = model.encoder.body[0]
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_forward_losses_are_the_loss_functions_of_the_parts():
    torch.manual_seed(0)
    model = create_model("vqvae").eval()
    x = _images(model, 2)
    out = model(x)
    assert torch.equal(out.vq.indices, model.encode(x))
    expected = losses.vq_mse_reconstruction(out.decoded, x, 1.0)
    torch.testing.assert_close(out.reconstruction_loss, expected)
    torch.testing.assert_close(out.loss, expected + out.vq.codebook_loss + out.vq.commitment_loss)
    model.data_variance.fill_(0.25)
    torch.testing.assert_close(model(x).reconstruction_loss, expected * 4)


def test_bernoulli_decoder_outputs_logits_of_pixel_intensities():
    torch.manual_seed(0)
    model = create_model("vqvae", reconstruction="bernoulli").eval()
    x = _images(model, 2)
    out = model(x)
    expected = losses.bernoulli_nll(out.decoded, (x + 1) / 2)
    torch.testing.assert_close(out.reconstruction_loss, expected)
    images = model.decode(out.vq.indices)
    torch.testing.assert_close(images, torch.sigmoid(out.decoded) * 2 - 1)


def test_mse_decode_clamps_to_the_value_range():
    model = create_model("vqvae").eval()
    with torch.no_grad():
        model.decoder.body[-1].bias.fill_(5.0)
    codes = torch.zeros(1, 7, 7, dtype=torch.long)
    assert model.decode(codes).max().item() == 1.0
    assert model.value_range == (-1.0, 1.0)


def test_bf16_autocast_forward_is_finite_and_codes_are_the_fp32_ones():
    torch.manual_seed(0)
    model = create_model("vqvae", preset="cifar10").train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(_images(model, 2))
    assert out.z_e.dtype == torch.bfloat16
    assert torch.equal(out.vq.indices, model.quantizer.encode(out.z_e.float()))
    assert torch.isfinite(out.loss) and out.loss.dtype == torch.float32
    assert torch.isfinite(out.decoded.float()).all()
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_save_load_round_trip_keeps_codebook_statistics_and_variance(tmp_path):
    torch.manual_seed(0)
    model = create_model("vqvae", ema_decay=0.9, reconstruction="bernoulli").train()
    x = _images(model, 4)
    model(x)  # moves the EMA codebook and the usage average away from their start
    model.quantizer.restart_dead_codes(model.encode(x, return_latents=True).z_e)
    model.data_variance.fill_(0.37)
    model.eval()
    model.save_pretrained(tmp_path / "vq")
    loaded = ganzoo.from_pretrained(str(tmp_path / "vq"))
    assert type(loaded) is VQVAE and loaded.config == model.config
    state, restored = model.state_dict(), loaded.state_dict()
    assert set(state) == set(restored)
    for name in ("quantizer.codebook", "quantizer.ema_weight", "quantizer.cluster_size"):
        assert torch.equal(restored[name], state[name]), name
    assert loaded.data_variance.item() == pytest.approx(0.37)
    assert torch.equal(loaded.encode(x), model.encode(x))
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    config = json.loads((tmp_path / "vq" / "config.json").read_text())
    assert config["architecture"] == "vqvae"
    assert config["data"]["code_grid"] == [7, 7] and config["data"]["num_codes"] == 64


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"reconstruction": "bernouli"}, "did you mean 'bernoulli'"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"num_codes": 0}, "num_codes"),
        ({"beta": -0.1}, "beta"),
        ({"code_dim": 0}, "code_dim"),
        ({"encoder_strides": (2, 3)}, "encoder_strides"),
        ({"decoder_strides": (2,)}, "one stride per width"),
        ({"image_size": 30}, "decoder gives 32×32"),
        ({"decoder_widths": (64, 0)}, "decoder_widths"),
        ({"dead_code_threshold": -1.0}, "dead_code_threshold"),
        ({"num_codes": "64"}, "num_codes"),
    ],
)
def test_bad_config_values_are_one_line_errors(overrides, match):
    with pytest.raises(GanzooError, match=match) as info:
        create_model("vqvae", **overrides)
    assert "\n" not in str(info.value)


def test_sample_without_a_prior_names_the_fix():
    model = create_model("vqvae")
    assert model.prior is None
    with pytest.raises(GanzooError, match=r"no prior.*ganzoo train vqvae --stage prior") as info:
        model.sample(4, seed=0)
    assert "\n" not in str(info.value)


class _UniformPrior(nn.Module):
    """A stand-in prior with the PixelCNN's sampling signature."""

    def __init__(self, num_codes):
        super().__init__()
        self.num_codes = num_codes
        self.calls = []

    def sample(self, n, height, width, generator=None, device=None):
        self.calls.append((n, height, width))
        codes = torch.randint(self.num_codes, (n, height, width), generator=generator)
        return codes.to(device)


def test_sample_draws_codes_from_the_attached_prior_and_decodes_them():
    model = create_model("vqvae", preset="cifar10").eval()
    model.prior = _UniformPrior(model.config.num_codes)
    assert "prior" in dict(model.named_children())
    images = model.sample(3, seed=5)
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1
    assert model.prior.calls == [(3, 8, 8)]
    assert torch.equal(images, model.sample(3, seed=5))
    assert not torch.equal(images, model.sample(3, seed=6))
    with pytest.raises(GanzooError, match="positive integer"):
        model.sample(0)


@pytest.mark.parametrize(
    ("codes", "match"),
    [
        (torch.zeros(1, 8, 8, dtype=torch.long), r"\(N, 7, 7\)"),
        (torch.full((1, 7, 7), 64, dtype=torch.long), r"\[0, 64\)"),
        (torch.zeros(1, 7, 7), "integer"),
    ],
)
def test_decode_refuses_bad_code_grids(codes, match):
    with pytest.raises(GanzooError, match=match):
        create_model("vqvae").decode(codes)


def test_encode_refuses_images_of_another_shape():
    model = create_model("vqvae")
    with pytest.raises(GanzooError, match=r"\(N, 1, 28, 28\).*\(2, 3, 32, 32\)"):
        model.encode(torch.zeros(2, 3, 32, 32))
