"""torch.hub (issue 24, section 2): hubconf.py at the repository root, one entry per
bundled checkpoint, loading through ganzoo, offline for bundled weights."""

import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganzoo
import ganzoo.hub.download as download
from ganzoo.catalog import load_catalog
from ganzoo.errors import GanzooError

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = {name: info for name, info in load_catalog().items() if info.bundled}


def _entry(name):
    return name.replace("-", "_")


@pytest.fixture
def as_downloaded(monkeypatch):
    """torch.hub's GitHub functions, answered by this repository as if downloaded."""
    monkeypatch.setattr(torch.hub, "_get_cache_or_reload", lambda *args, **kwargs: str(ROOT))


@pytest.fixture
def offline(monkeypatch):
    """No Hub: the offline switch on, and any download attempt fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_download(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args}")

    monkeypatch.setattr(download, "_hub_download", no_download)


def test_entries_are_the_bundled_names_with_underscores(as_downloaded):
    entries = torch.hub.list("ganzoo/ganzoo", verbose=False)
    assert set(entries) == {_entry(name) for name in BUNDLED} and BUNDLED
    assert all(entry.isidentifier() for entry in entries)


def test_each_entry_is_a_function_named_as_listed_with_pretrained_first(as_downloaded):
    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in BUNDLED:
        entry = getattr(module, _entry(name))
        assert inspect.isfunction(entry) and entry.__name__ == _entry(name)
        parameters = list(inspect.signature(entry).parameters.values())
        assert parameters[0].name == "pretrained" and parameters[0].default is True
        assert parameters[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_help_says_what_the_checkpoint_is(as_downloaded):
    for name, info in BUNDLED.items():
        doc = torch.hub.help("ganzoo/ganzoo", _entry(name))
        assert f"``{info.architecture}``" in doc and f"``{info.dataset}``" in doc
        assert f'from_pretrained("{name}")' in doc and "pretrained:" in doc
        for metric, value in info.metrics.items():
            assert f"{metric} {value}" in doc, (name, metric)


def test_load_from_the_local_folder_samples_offline(offline):
    model = torch.hub.load(str(ROOT), "vqvae_mnist", source="local")
    loaded = ganzoo.from_pretrained("vqvae-mnist")
    assert type(model) is type(loaded) and not model.training
    images = model.sample(4, seed=0)
    reference = loaded.sample(4, seed=0)
    assert images.shape == reference.shape and images.shape[0] == 4
    assert torch.equal(images, reference)


def test_load_passes_options_to_from_pretrained(offline):
    model = torch.hub.load(str(ROOT), "cnn_mnist_100", source="local", device="cpu")
    assert model.device == torch.device("cpu")
    with pytest.raises(GanzooError, match="unknown device 'nonsense:0'"):
        torch.hub.load(str(ROOT), "cnn_mnist_100", source="local", device="nonsense:0")


def test_pretrained_false_builds_the_architecture_with_fresh_weights(offline):
    trained = ganzoo.from_pretrained("dcgan-art64")
    fresh = torch.hub.load(str(ROOT), "dcgan_art64", source="local", pretrained=False)
    assert type(fresh) is type(trained) and fresh.config == trained.config
    assert fresh.state_dict().keys() == trained.state_dict().keys()
    assert any(
        not torch.equal(a, b)
        for a, b in zip(fresh.state_dict().values(), trained.state_dict().values(), strict=True)
        if a.is_floating_point() and a.numel() > 1
    )
    wider = torch.hub.load(str(ROOT), "dcgan_art64", source="local", pretrained=False, g_width=16)
    assert wider.config.g_width == 16 and wider.config.latent_dim == trained.config.latent_dim


def test_pretrained_false_with_an_unknown_field_is_one_line(offline):
    with pytest.raises(GanzooError) as caught:
        torch.hub.load(str(ROOT), "dcgan_art64", source="local", pretrained=False, g_widht=16)
    assert "g_widht" in str(caught.value) and "\n" not in str(caught.value)


def test_dependencies_are_importable_and_declared_by_the_package():
    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in declared}
    assert {"torch", "huggingface_hub", "safetensors"} <= set(module.dependencies)
    for dependency in module.dependencies:
        assert dependency.lower() in names, dependency
        assert importlib.util.find_spec(dependency) is not None, dependency


def _ganzoo_file_seen_by_hubconf(repo: Path) -> str:
    """Load an entry from ``repo`` in a fresh interpreter; which ganzoo did it import?"""
    code = (
        "import torch\n"
        f"torch.hub.load({str(repo)!r}, 'cnn_mnist_100', source='local')\n"
        "import ganzoo; print(ganzoo.__file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_the_repositorys_own_src_is_preferred_to_another_ganzoo(tmp_path):
    repo = tmp_path / "downloaded"  # what torch.hub unpacks from GitHub: hubconf.py and src/
    repo.mkdir()
    shutil.copy(ROOT / "hubconf.py", repo / "hubconf.py")
    (repo / "src").symlink_to(ROOT / "src", target_is_directory=True)
    seen = _ganzoo_file_seen_by_hubconf(repo)
    assert seen == str(repo / "src" / "ganzoo" / "__init__.py")


def test_without_src_the_importable_ganzoo_is_used(tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(ROOT / "hubconf.py", alone / "hubconf.py")
    assert _ganzoo_file_seen_by_hubconf(alone) == str(ROOT / "src" / "ganzoo" / "__init__.py")


def test_catalog_names_give_distinct_identifiers():
    names = json.loads((ROOT / "src/ganzoo/pretrained/catalog.json").read_text())["models"]
    entries = [_entry(item["name"]) for item in names if item.get("bundled")]
    assert len(entries) == len(set(entries))
