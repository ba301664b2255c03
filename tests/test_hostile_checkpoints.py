"""Checkpoints and configs made by someone else: refused in one line, before allocating."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import ganzoo
from ganzoo import GanzooError, create_model, registry
from ganzoo.archs.sgan.model import SGAN, SGANConfig
from ganzoo.archs.vaegan.model import VAEGANConfig
from ganzoo.cli import app
from ganzoo.config import check_config, check_value


@pytest.fixture
def sgan_folder(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "sgan"
    create_model("sgan", width=8).save_pretrained(folder)
    return folder


def _edit_config(folder, **fields):
    path = folder / "config.json"
    data = json.loads(path.read_text())
    data["config"].update(fields)
    path.write_text(json.dumps(data))


@pytest.fixture
def builds(monkeypatch):
    """Record on which device each model of a load is built ("meta" or "cpu")."""
    seen = []
    real = registry.build_model

    def spy(architecture, config=None):
        seen.append(torch.get_default_device().type)
        return real(architecture, config)

    monkeypatch.setattr(registry, "build_model", spy)
    return seen


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"width": 1_000_000}, r"width must be in \[1, 4096\], got 1000000"),
        ({"width": -3}, r"width must be in \[1, 4096\], got -3"),
        ({"width": "128"}, r"SGANConfig.width must be an integer, got str '128'"),
        ({"width": 128.0}, r"SGANConfig.width must be an integer, got float 128.0"),
        ({"width": True}, r"SGANConfig.width must be an integer, got bool True"),
        ({"dropout": 5}, r"dropout must be in \[0.0, 1.0\), got 5.0"),
        ({"leaky_slope": "0.2"}, r"SGANConfig.leaky_slope must be a number, got str '0.2'"),
        ({"leaky_slope": 1e999}, r"leaky_slope must be in \[0.0, 1.0\], got inf"),
        ({"image_size": 30}, r"image_size must be a multiple of 4"),
        ({"dataset": None}, r"SGANConfig.dataset must be a string, got NoneType None"),
        ({"widht": 8}, r"SGANConfig has no field 'widht'; did you mean 'width'"),
    ],
)
def test_hostile_config_values_are_refused_before_any_model_is_built(
    sgan_folder, builds, fields, message
):
    _edit_config(sgan_folder, **fields)
    with pytest.raises(GanzooError, match=message) as caught:
        ganzoo.from_pretrained(str(sgan_folder))
    assert str(caught.value).startswith(str(sgan_folder / "config.json"))
    assert "\n" not in str(caught.value)
    assert builds == ["meta"]  # the only build was the meta one, which refused the config


def test_config_that_fits_no_weights_is_refused_on_the_meta_device(sgan_folder, builds):
    _edit_config(sgan_folder, width=4096)  # in range, but ~10^9 weights: not those of the file
    with pytest.raises(GanzooError, match="do not fit its architecture.*misshapen"):
        ganzoo.from_pretrained(str(sgan_folder))
    assert builds == ["meta"]


def test_a_good_checkpoint_is_built_on_meta_then_for_real(sgan_folder, builds):
    model = ganzoo.from_pretrained(str(sgan_folder))
    assert builds == ["meta", "cpu"]
    assert model.config.width == 8 and isinstance(model.config.dropout, float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"architecture": "sgan", "config": null}', "'config' must be an object.*got null"),
        ('{"architecture": "sgan", "config": [1, 2]}', "'config' must be an object.*got list"),
        ('{"architecture": 5, "config": {}}', "'architecture' must be a name"),
        ('{"architecture": "sgann", "config": {}}', "did you mean 'sgan'"),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        ('{"architecture": "sgan", ', "is not valid JSON"),
    ],
    ids=["config-null", "config-list", "architecture-int", "architecture-typo", "deep", "cut"],
)
def test_malformed_config_json_is_one_line(sgan_folder, text, message):
    (sgan_folder / "config.json").write_text(text)
    with pytest.raises(GanzooError, match=message) as caught:
        ganzoo.from_pretrained(str(sgan_folder))
    assert "\n" not in str(caught.value)


def test_oversized_config_json_is_not_read(sgan_folder):
    (sgan_folder / "config.json").write_text(" " * (2 << 20) + "{}")
    with pytest.raises(GanzooError, match="a ganzoo config is a few KB"):
        ganzoo.from_pretrained(str(sgan_folder))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_naming_the_tensors(sgan_folder, bad):
    path = sgan_folder / "model.safetensors"
    tensors = load_file(str(path))
    tensors["generator.project.0.weight"][0, 0] = bad
    tensors["discriminator.head.bias"][3] = bad
    save_file(tensors, str(path))
    with pytest.raises(GanzooError, match="NaN or infinite") as caught:
        ganzoo.from_pretrained(str(sgan_folder))
    assert "2 tensor(s): discriminator.head.bias, generator.project.0.weight" in str(caught.value)


def test_integer_tensor_for_a_float_weight_is_refused(sgan_folder):
    path = sgan_folder / "model.safetensors"
    tensors = load_file(str(path))
    tensors["discriminator.head.bias"] = torch.zeros(10, dtype=torch.int64)
    save_file(tensors, str(path))
    with pytest.raises(GanzooError, match="1 non-float tensor.*discriminator.head.bias"):
        ganzoo.from_pretrained(str(sgan_folder))


def test_truncated_weights_file_is_one_line(sgan_folder):
    path = sgan_folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(GanzooError, match="cannot read weights"):
        ganzoo.from_pretrained(str(sgan_folder))


def test_cli_reports_a_hostile_config_in_one_line(sgan_folder):
    _edit_config(sgan_folder, leaky_slope="0.2")
    result = CliRunner().invoke(app, ["info", str(sgan_folder)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "leaky_slope must be a number" in result.output


# ----------------------------------------------------------------------------- the checker
def test_config_checker_converts_json_types_and_checks_nested_ones():
    config = check_config(VAEGANConfig(hidden=[32, 8], dropout=0))
    assert config.hidden == (32, 8) and config.dropout == 0.0
    assert isinstance(config.dropout, float)
    with pytest.raises(GanzooError, match=r"VAEGANConfig.hidden\[1\] must be an integer"):
        create_model("vaegan", hidden=[8, "a"])
    with pytest.raises(GanzooError, match="VAEGANConfig.hidden must be a list, got int 5"):
        create_model("vaegan", hidden=5)
    assert check_value(int | None, None, "x") is None
    assert check_value(tuple[int, str], [1, "a"], "x") == (1, "a")
    assert check_value(dict[str, float], {"a": 1}, "x") == {"a": 1.0}
    with pytest.raises(GanzooError, match="x must be an integer or null, got str"):
        check_value(int | None, "3", "x")
    with pytest.raises(GanzooError, match=r"x\[1\] must be a string"):
        check_value(tuple[int, str], [1, 2], "x")


def test_config_instances_made_by_hand_are_checked_too():
    with pytest.raises(GanzooError, match="SGANConfig.width must be an integer"):
        SGAN(SGANConfig(width="wide"))
    with pytest.raises(GanzooError, match=r"dropout must be in \[0.0, 1.0\), got nan"):
        create_model("cnn", dropout=math.nan)


def test_trainer_configs_get_the_type_check():
    trainer = ganzoo.get_trainer("sgan")
    base = trainer.config_class()
    with pytest.raises(GanzooError, match=r"\.steps must be an integer, got str '10'"):
        registry.replace_config(base, steps="10")
