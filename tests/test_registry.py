import dataclasses
import re

import pytest

import ganzoo
import tiny
from ganzoo import GanzooError, create_model, get_trainer, list_models
from ganzoo.registry import build_config, register_model, register_trainer


def test_registered_architecture_is_listed_and_built_with_its_default_preset():
    assert "tiny" in list_models()
    model = create_model("tiny")
    assert isinstance(model, tiny.TinyGAN)
    assert model.config == tiny.TinyConfig()
    assert model.architecture == "tiny"


def test_presets_and_overrides_change_the_config():
    assert create_model("tiny", preset="wide").config.hidden == 32
    model = create_model("tiny", preset="wide", latent_dim=4)
    assert (model.config.hidden, model.config.latent_dim) == (32, 4)
    assert model.generator[0].in_features == 4


def test_unknown_architecture_suggests_the_closest_name():
    with pytest.raises(GanzooError, match=r"unknown architecture 'tinny'.*did you mean 'tiny'"):
        create_model("tinny")


def test_unknown_preset_and_field_are_errors_with_suggestions():
    with pytest.raises(GanzooError, match="did you mean 'wide'"):
        build_config("tiny", preset="wid")
    with pytest.raises(GanzooError, match="no field 'hiden'.*did you mean 'hidden'"):
        create_model("tiny", hiden=3)


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(GanzooError, match="already registered"):
        register_model("tiny")(tiny.TinyGAN)
    with pytest.raises(GanzooError, match="already registered"):
        register_trainer("tiny")(tiny.TinyTrainer)


def test_trainer_lookup():
    assert get_trainer("tiny") is tiny.TinyTrainer
    with pytest.raises(GanzooError, match="no trainer for 'tinyy'.*did you mean 'tiny'"):
        get_trainer("tinyy")


def test_registered_configs_are_json_serialisable_dataclasses():
    import json

    for name in list_models():
        config = build_config(name)
        assert dataclasses.is_dataclass(config)
        json.dumps(dataclasses.asdict(config))


def test_model_without_a_capability_names_the_ones_that_have_it():
    model = create_model("tiny")
    with pytest.raises(GanzooError, match=r"cannot classify\(\)"):
        model.classify(None)
    assert model.can("sample") and not model.can("classify")


def test_import_ganzoo_is_light():
    import subprocess
    import sys

    code = "import sys, ganzoo; ganzoo.list_pretrained(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert ganzoo.__version__


def test_get_trainer_works_in_a_fresh_interpreter():
    # conftest imports the trainers first, so only a fresh interpreter shows the bug
    import subprocess
    import sys

    code = "import ganzoo; print(ganzoo.get_trainer('sgan').__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SGANTrainer"


def test_public_lookups():
    from ganzoo import registry

    assert registry.is_architecture("tiny") and not registry.is_architecture("tinny")
    assert registry.has_trainer("tiny") and not registry.has_trainer("cnnn")
    assert [e.name for e in registry.model_entries()] == list_models()
    able = registry.architectures_that_can("classify")
    assert "sgan" in able and "tiny" not in able
    assert isinstance(registry.build_model("tiny", {"hidden": 4}), tiny.TinyGAN)


def test_nothing_outside_the_registry_touches_its_private_tables():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folders = ("src", "tests", "docs", "scripts", "benchmarks", "examples")
    offenders = [
        str(path.relative_to(root))
        for folder in folders
        for path in (root / folder).rglob("*.py")
        if path.name != "registry.py"
        and path != Path(__file__).resolve()
        and re.search(r"\b_(MODELS|TRAINERS)\b", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_no_module_of_the_package_is_over_500_lines():
    from pathlib import Path

    import ganzoo

    root = Path(ganzoo.__file__).parent
    long = {
        str(p.relative_to(root)): n
        for p in root.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}, f"split these modules by job: {long}"


def test_the_package_has_no_import_circle():
    """Module-level imports between ganzoo's modules form no circle (lazy imports aside)."""
    import ast
    import graphlib
    from pathlib import Path

    import ganzoo

    root = Path(ganzoo.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ganzoo"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
        graph[name] = {
            d
            for d in deps
            if d in modules and d != name and not d.startswith(name + ".")
            and not name.startswith(d + ".")
        }  # fmt: skip
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a circle
