import json

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo import GanzooError, create_model
from ganzoo import catalog as catalog_module
from ganzoo.hub import export_pretrained
from tiny import TinyGAN


def _outputs(model):
    return model.sample(5, seed=3)


def test_save_pretrained_then_from_pretrained_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = create_model("tiny", preset="wide").eval()
    model.save_pretrained(tmp_path / "m")
    loaded = ganzoo.from_pretrained(str(tmp_path / "m"))
    assert isinstance(loaded, TinyGAN) and not loaded.training
    assert loaded.config == model.config
    assert torch.equal(_outputs(model), _outputs(loaded))
    assert torch.equal(_outputs(TinyGAN.from_pretrained(tmp_path / "m")), _outputs(model))


def test_hub_folder_layout_config_and_model_card(tmp_path):
    model = create_model("tiny")
    model.save_pretrained(tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"config.json", "model.safetensors", "README.md"} <= files
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architecture"] == "tiny"
    assert config["ganzoo_version"] == ganzoo.__version__
    assert config["config"]["hidden"] == 16
    assert config["data"] == {
        "value_range": [-1.0, 1.0],
        "image_size": 8,
        "channels": 1,
        "latent_dim": 8,
        "dataset": "tiny",
    }
    card = (tmp_path / "m" / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: ganzoo" in card


def test_model_card_shows_metrics_samples_and_command(tmp_path):
    model = create_model("tiny")
    export_pretrained(
        model,
        tmp_path / "m",
        metrics={"test_accuracy": 0.9912},
        samples="samples.png",
        command="ganzoo train tiny",
        training={"seed": 3},
        dtype=torch.float16,
    )
    card = (tmp_path / "m" / "README.md").read_text()
    assert "| test_accuracy | 0.9912 |" in card
    assert "![samples](samples.png)" in card
    assert "ganzoo train tiny" in card and "- seed: 3" in card
    assert "datasets:\n- tiny" in card and "metrics:\n- test_accuracy" in card
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert all(t.dtype == torch.float16 for t in weights.values())
    loaded = ganzoo.from_pretrained(str(tmp_path / "m"))
    assert next(loaded.parameters()).dtype == torch.float32


@pytest.mark.parametrize("change", ["missing", "extra", "shape"])
def test_checkpoint_with_wrong_tensors_is_refused(tmp_path, change):
    model = create_model("tiny")
    model.save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "model.safetensors"
    tensors = load_file(str(path))
    if change == "missing":
        tensors.pop("generator.0.weight")
    elif change == "extra":
        tensors["generator.9.weight"] = torch.zeros(2)
    else:
        tensors["generator.0.bias"] = torch.zeros(3)
    save_file(tensors, str(path))
    with pytest.raises(GanzooError, match="do not fit its architecture"):
        ganzoo.from_pretrained(str(tmp_path / "m"))


def test_folder_without_config_or_with_foreign_config_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanzooError, match="no config.json"):
        ganzoo.from_pretrained(str(tmp_path / "empty"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"hidden_size": 3}')
    with pytest.raises(GanzooError, match="not a ganzoo config"):
        ganzoo.from_pretrained(str(tmp_path / "other"))


def test_unknown_name_suggests_catalog_names(monkeypatch, tmp_path):
    _bundle(monkeypatch, tmp_path, "tiny-demo-8")
    with pytest.raises(GanzooError, match="did you mean 'tiny-demo-8'"):
        ganzoo.from_pretrained("tiny-demo-9")


def _bundle(monkeypatch, tmp_path, name):
    pretrained = tmp_path / "pretrained"
    create_model("tiny").save_pretrained(pretrained / name)
    catalog = {
        "models": [{"name": name, "architecture": "tiny", "dataset": "tiny", "bundled": True}]
    }
    (pretrained / "catalog.json").write_text(json.dumps(catalog))
    monkeypatch.setattr(catalog_module, "PRETRAINED_DIR", pretrained)
    monkeypatch.setattr(catalog_module, "CATALOG_FILE", pretrained / "catalog.json")
    catalog_module.load_catalog.cache_clear()
    monkeypatch.setattr(catalog_module.load_catalog, "cache_clear", lambda: None, raising=False)
    return pretrained / name


@pytest.fixture(autouse=True)
def _fresh_catalog():
    catalog_module.load_catalog.cache_clear()
    yield
    catalog_module.load_catalog.cache_clear()


def test_bundled_catalog_name_resolves_to_its_folder(monkeypatch, tmp_path):
    folder = _bundle(monkeypatch, tmp_path, "tiny-demo-8")
    assert ganzoo.list_pretrained() == ["tiny-demo-8"]
    model = ganzoo.from_pretrained("tiny-demo-8")
    reference = ganzoo.from_pretrained(str(folder))
    assert torch.equal(_outputs(model), _outputs(reference))


def test_shipped_catalog_entries_are_complete():
    for name in ganzoo.list_pretrained():
        info = catalog_module.get_pretrained_info(name)
        assert info.architecture in ganzoo.list_models()
        if info.bundled:
            assert (info.folder / "config.json").is_file()
            assert (info.folder / "model.safetensors").is_file()
            assert (info.folder / "README.md").is_file()


# ----------------------------------------------------------------------------- Hub
def _publish(fake_hub, tmp_path, repo_id="org/tiny", revision="main", preset="report"):
    torch.manual_seed(len(revision))
    model = create_model("tiny", preset=preset)
    folder = tmp_path / f"publish-{revision}"
    model.save_pretrained(folder)
    fake_hub.add_repo(repo_id, folder, revision=revision)
    return model


def test_hub_round_trip_then_offline_from_cache(fake_hub, tmp_path, monkeypatch):
    model = _publish(fake_hub, tmp_path)
    loaded = ganzoo.from_pretrained("org/tiny")
    assert torch.equal(_outputs(loaded), _outputs(model))
    assert any(
        method == "GET" and "model.safetensors" in path for method, path in fake_hub.requests
    )

    fake_hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cached = ganzoo.from_pretrained("org/tiny")
    assert torch.equal(_outputs(cached), _outputs(model))
    assert fake_hub.requests == []


def test_hub_revision_is_honoured(fake_hub, tmp_path):
    _publish(fake_hub, tmp_path)
    v2 = _publish(fake_hub, tmp_path, revision="v2", preset="wide")
    loaded = ganzoo.from_pretrained("org/tiny", revision="v2")
    assert loaded.config.hidden == 32
    assert torch.equal(_outputs(loaded), _outputs(v2))


def test_hub_wrong_revision_and_unknown_repo_give_clear_errors(fake_hub, tmp_path):
    _publish(fake_hub, tmp_path)
    with pytest.raises(GanzooError, match="has no revision 'nope'"):
        ganzoo.from_pretrained("org/tiny", revision="nope")
    with pytest.raises(GanzooError, match="no model repo 'org/absent'"):
        ganzoo.from_pretrained("org/absent")


def test_hub_offline_without_cache_says_so(fake_hub, tmp_path, monkeypatch):
    _publish(fake_hub, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GanzooError, match="not in the Hub cache and offline mode is on"):
        ganzoo.from_pretrained("org/tiny")


def test_hub_repo_without_weights_is_not_a_checkpoint(fake_hub, tmp_path):
    folder = tmp_path / "cfg-only"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    fake_hub.add_repo("org/half", folder)
    with pytest.raises(GanzooError, match="has no model.safetensors"):
        ganzoo.from_pretrained("org/half")
