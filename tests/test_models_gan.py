"""DCGAN / WGAN / WGAN-GP networks (SPEC §4-6): counts, shapes, presets, layers."""

import pytest
import torch
from torch import nn

from ganzoo import create_model
from ganzoo.archs.gan64.model import DCGANConfig
from ganzoo.errors import GanzooError
from ganzoo.models.base import keras_parameter_count


def test_report_preset_matches_keras_parameter_counts():
    model = create_model("dcgan")  # the report preset is the default
    assert keras_parameter_count(model.generator) == 18_920_320
    assert keras_parameter_count(model.discriminator) == 4_343_169


def test_report_preset_layers_are_the_reports():
    model = create_model("dcgan")
    convs = [m for m in model.generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.kernel_size for c in convs] == [(5, 5)] * 4
    assert [c.out_channels for c in convs] == [512, 256, 128, 3]
    assert model.generator.project.out_features == 4 * 4 * 1024
    d_layers = list(model.discriminator.features)
    first_conv = next(i for i, m in enumerate(d_layers) if isinstance(m, nn.Conv2d))
    assert isinstance(d_layers[first_conv + 1], nn.BatchNorm2d)  # BN after D's first conv
    assert any(isinstance(m, nn.Dropout) for m in d_layers)


@pytest.mark.parametrize("name", ["dcgan", "wgan", "wgan-gp"])
@pytest.mark.parametrize("preset", ["paper", "small"])
def test_presets_sample_and_score(name, preset):
    model = create_model(name, preset=preset).eval()
    images = model.sample(3, seed=0)
    assert images.shape == (3, 3, 64, 64)
    assert images.abs().max() <= 1.0
    assert model.score(images).shape == (3,)
    assert torch.equal(images, model.sample(3, seed=0))


def test_paper_dcgan_has_no_batchnorm_on_d_input_or_g_output():
    model = create_model("dcgan", preset="paper")
    d_layers = list(model.discriminator.features)
    first_conv = next(i for i, m in enumerate(d_layers) if isinstance(m, nn.Conv2d))
    assert not isinstance(d_layers[first_conv + 1], nn.BatchNorm2d)
    g_layers = list(model.generator.body)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)


@pytest.mark.parametrize("preset", ["report", "paper", "small"])
def test_wgan_gp_critic_has_no_batchnorm(preset):
    critic = create_model("wgan-gp", preset=preset).discriminator
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def test_wgan_gp_critic_scores_each_sample_independently_in_training_mode():
    torch.manual_seed(0)
    model = create_model("wgan-gp", preset="paper", dropout=0.0).train()
    x = torch.randn(4, 3, 64, 64)
    alone = model.score(x[:1])
    together = model.score(x)[:1]
    torch.testing.assert_close(alone, together)


@pytest.mark.parametrize("size,channels,kernel", [(32, 1, 5), (16, 3, 3), (128, 3, 4), (64, 3, 4)])
def test_image_size_channels_and_kernels_are_config_fields(size, channels, kernel):
    model = create_model(
        "dcgan", preset="small", image_size=size, channels=channels, kernel_size=kernel
    ).eval()
    images = model.sample(2, seed=1)
    assert images.shape == (2, channels, size, size)
    assert model.score(images).shape == (2,)


def test_instance_noise_only_in_training_and_zero_changes_nothing():
    torch.manual_seed(0)
    model = create_model("dcgan", preset="small", instance_noise=0.5, dropout=0.0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    model.eval()
    torch.testing.assert_close(model.score(x), model.score(x))
    model.train()
    assert not torch.equal(model.score(x), model.score(x))  # noise drawn each call
    model.discriminator.noise_std = 0.0
    torch.manual_seed(1)
    first = model.score(x)
    torch.manual_seed(1)
    torch.testing.assert_close(first, model.score(x))


def test_spectral_norm_option_parametrizes_every_d_weight():
    model = create_model("dcgan", preset="small", spectral_norm=True)
    layers = [m for m in model.discriminator.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)


def test_resize_upsampling_has_no_transposed_convolution_and_keeps_shapes():
    model = create_model("dcgan", preset="small", g_upsample="resize")
    kinds = {type(m) for m in model.generator.modules()}
    assert nn.ConvTranspose2d not in kinds and nn.Upsample in kinds
    assert model.sample(3, seed=0).shape == (3, 3, 64, 64)
    default = create_model("dcgan", preset="small").generator
    assert any(isinstance(m, nn.ConvTranspose2d) for m in default.modules())


@pytest.mark.parametrize(
    "field,value",
    [
        ("image_size", 48),
        ("image_size", 8),
        ("kernel_size", 7),
        ("d_norm", "spectral"),
        ("dropout", 1.0),
        ("g_width", 0),
        ("d_last_stride", 3),
        ("g_upsample", "bilinear"),
    ],
)
def test_bad_config_values_are_one_line_errors(field, value):
    with pytest.raises(GanzooError, match=field):
        create_model("dcgan", **{field: value})


def test_presets_differ_where_the_papers_do():
    assert DCGANConfig().kernel_size == 5
    paper = create_model("dcgan", preset="paper").config
    assert (paper.kernel_size, paper.d_norm_first, paper.d_last_stride) == (4, False, 2)
    assert create_model("wgan-gp", preset="paper").config.d_norm == "layer"
    assert create_model("wgan").config.d_norm == "batch"  # the report kept BN in WGAN's critic


def test_docs_preset_counts_are_measured_from_the_networks():
    from doc_snippets import docs_hook

    page = docs_hook("preset_counts").on_page_markdown("<!-- preset-counts: dcgan wgan-gp -->")
    assert "| `dcgan` | `report` | 18,920,320 | 4,343,169 |" in page
    assert page.count("\n| `wgan-gp` |") == 4
