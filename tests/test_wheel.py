"""The release artefacts: sdist and wheel build, pass ``twine check``, and the wheel works alone.

The distributions are built once per module from a copy of the checkout (building in place
would leave ``build/`` and ``*.egg-info`` in it, and stale files of an old ``build/lib`` would
end up in the wheel), without build isolation: tests use no network. The wheel is installed,
not editable, into a fresh virtual environment that sees this environment's packages (torch...)
through a ``.pth`` file listing their folders, not the checkout: such a file adds the folders
without running the ``.pth`` files inside them, so an editable install of the checkout stays
out of sight. Every bundled model is then sampled offline with that environment's ``ganzoo``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from ganzoo import __version__
from ganzoo.registry import architectures_that_can

pytestmark = pytest.mark.xdist_group("wheel")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "ganzoo"
CATALOG = json.loads((PACKAGE / "pretrained" / "catalog.json").read_text(encoding="utf-8"))
BUNDLED = sorted(entry["name"] for entry in CATALOG["models"] if entry.get("bundled"))
SAMPLERS = set(architectures_that_can("sample"))
ARCHITECTURE = {entry["name"]: entry["architecture"] for entry in CATALOG["models"]}


def _env(**extra: str) -> dict[str, str]:
    """This environment without ``PYTHONPATH`` (which may point at the checkout's ``src``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **extra}


def _offline(tmp_path: Path) -> dict[str, str]:
    """No Hub access, no cache to fall back on, no data folder."""
    return _env(
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf-home"),  # no cached Hub files to fall back on
        GANZOO_DATA=str(tmp_path / "no-data"),
    )


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _package_files() -> list[str]:
    """What the wheel must hold: every bundled checkpoint's files and the metric networks."""
    wanted = ["ganzoo/pretrained/catalog.json"]
    for name in BUNDLED:
        folder = PACKAGE / "pretrained" / name
        files = [p for p in folder.iterdir() if p.is_file()]
        assert any(p.name == "model.safetensors" for p in files), f"{folder} has no weights"
        wanted += [f"ganzoo/pretrained/{name}/{p.name}" for p in files]
    networks = sorted((PACKAGE / "metrics" / "networks").glob("*.safetensors"))
    assert networks, "no metric network under src/ganzoo/metrics/networks"
    for weights in networks:  # the weights and their training record
        wanted += [
            f"ganzoo/metrics/networks/{p.name}" for p in (weights, weights.with_suffix(".json"))
        ]
    return wanted


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel (built from the sdist) of a copy of the checkout."""
    source = tmp_path_factory.mktemp("source")
    for path in ROOT.iterdir():  # pyproject.toml, README.md, a LICENSE if there is one...
        if path.is_file():
            shutil.copy2(path, source / path.name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=skip)
    out = tmp_path_factory.mktemp("dist")
    if importlib.util.find_spec("build") is not None:  # the dev extra has it
        argv = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)]
    else:  # a wheel only: pip cannot make an sdist
        argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        argv += ["--no-index", "--wheel-dir", str(out), str(source)]
    done = _run(argv, env=_env(), cwd=out)
    assert done.returncode == 0, _tail(done)
    return out


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    (path,) = dist.glob("*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed in it; returns its ``bin`` folder."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(root)
    scripts = root / ("Scripts" if os.name == "nt" else "bin")
    python = scripts / ("python.exe" if os.name == "nt" else "python")
    ask = "import sysconfig; print(sysconfig.get_path('purelib'))"
    done = _run([str(python), "-c", ask], env=_env())
    assert done.returncode == 0, _tail(done)
    purelib = Path(done.stdout.strip())
    outer = [*sys.path, sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    outer = [p for p in outer if p.endswith(("site-packages", "dist-packages"))]
    outer = [p for p in dict.fromkeys(outer) if Path(p).is_dir()]  # in order, once each
    (purelib / "_outer_environment.pth").write_text("\n".join(outer) + "\n", encoding="utf-8")
    # pip comes from the outer folders and installs into sys.prefix: the new environment.
    argv = [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed"]
    done = _run([*argv, str(wheel)], env=_env(), cwd=root)
    assert done.returncode == 0, _tail(done)
    return scripts


def test_wheel_is_named_for_pypi_and_the_readme_installs_that_name(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        fields = archive.read(metadata).decode("utf-8")
        top_level = {n.split("/", 1)[0] for n in archive.namelist() if "/" in n}
        entry_points = archive.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    name = re.search(r"^Name: (.+)$", fields, flags=re.MULTILINE)[1].strip()
    # `ganzoo` on PyPI is an unrelated 2018 package; the import name stays `ganzoo`.
    assert name.lower() != "ganzoo"
    assert re.search(rf"^Version: {re.escape(__version__)}$", fields, flags=re.MULTILINE)
    assert top_level == {"ganzoo", metadata.split("/", 1)[0]}
    assert "ganzoo = ganzoo.cli:main" in entry_points
    for page in ("README.md", "docs/install.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert f"pip install {name}" in text, f"{page} does not say `pip install {name}`"


#: ``pip install`` of PyPI's ``ganzoo`` (an unrelated 2018 package), alone or with extras.
UNRELATED_INSTALL = re.compile(r"pip install (?:-U |--upgrade )?['\"]?ganzoo(?:\[|['\"`\s]|$)")


def test_no_install_hint_names_the_unrelated_pypi_ganzoo():
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *PACKAGE.rglob("*.py")]
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNRELATED_INSTALL.search(line) and not re.search(r"\bnot\b", line, re.IGNORECASE)
    ]
    assert not wrong, "install torch-ganzoo, not ganzoo:\n" + "\n".join(wrong)


def test_wheel_holds_every_bundled_checkpoint_and_the_metric_network(wheel):
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    missing = [name for name in _package_files() if name not in sizes]
    assert not missing, f"the wheel lacks {missing} (pyproject.toml: package-data)"
    for name in _package_files():
        assert sizes[name] == (ROOT / "src" / name).stat().st_size, name
    assert not [n for n in sizes if "__pycache__" in n or n.startswith(("tests/", "src/"))]


def test_sdist_and_wheel_pass_twine_check(dist):
    if importlib.util.find_spec("twine") is None:
        pytest.skip("twine is not installed (pip install -e '.[dev]')")
    files = sorted(str(p) for p in dist.iterdir())
    if not any(f.endswith(".tar.gz") for f in files):
        pytest.skip("no sdist: the `build` package is not installed (pip install -e '.[dev]')")
    done = _run([sys.executable, "-m", "twine", "check", "--strict", *files], env=_env())
    assert done.returncode == 0, _tail(done)
    assert done.stdout.count("PASSED") == len(files) == 2, done.stdout


def test_installed_wheel_is_imported_from_its_environment_not_the_checkout(installed, tmp_path):
    code = "import ganzoo, sys; print(ganzoo.__file__); print(sys.prefix)"
    done = _run([str(installed / "python"), "-c", code], env=_env(), cwd=tmp_path)
    assert done.returncode == 0, _tail(done)
    module, prefix = (Path(line) for line in done.stdout.split())
    assert prefix == installed.parent
    assert installed.parent in module.parents and "site-packages" in module.parts
    assert ROOT not in module.parents


def test_console_script_of_the_wheel_samples_offline(installed, tmp_path):
    out = tmp_path / "digits.png"
    argv = [str(installed / "ganzoo"), "sample", "sgan-mnist-100", "-n", "4", "--out", str(out)]
    done = _run(argv, env=_offline(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, _tail(done)
    assert out.is_file() and out.stat().st_size > 0


#: Runs the console script's entry point (``ganzoo.cli.main``) once per command of the JSON
#: file ``sys.argv[1]`` in one interpreter: one start-up of torch instead of one per model.
DRIVER = """
import json, sys
import ganzoo
from ganzoo.cli import main
path = sys.argv[1]
commands, codes = json.loads(open(path).read()), {}
for name, argv in commands.items():
    sys.argv, codes[name] = ["ganzoo", *argv], 0
    try:
        main()
    except SystemExit as exit:
        codes[name] = exit.code or 0
    print(flush=True)
json.dump({"module": ganzoo.__file__, "codes": codes}, open(path + ".out", "w"))
"""


def test_every_bundled_model_runs_offline_from_the_installed_wheel(installed, tmp_path):
    samples = {n: tmp_path / f"{n}.png" for n in BUNDLED if ARCHITECTURE[n] in SAMPLERS}
    commands = {
        n: ["sample", n, "-n", "4", "--seed", "0", "--out", str(samples[n]), "--quiet"]
        for n in samples
    }
    others = [n for n in BUNDLED if n not in samples]  # classifiers: they load and describe
    commands |= {n: ["info", n] for n in others}
    (tmp_path / "commands.json").write_text(json.dumps(commands))
    argv = [str(installed / "python"), "-c", DRIVER, str(tmp_path / "commands.json")]
    done = _run(argv, env=_offline(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, _tail(done)
    result = json.loads((tmp_path / "commands.json.out").read_text())
    assert installed.parent in Path(result["module"]).parents
    assert result["codes"] == dict.fromkeys(commands, 0), _tail(done)
    for name, path in samples.items():
        assert path.is_file() and path.stat().st_size > 0, name
    for name in others:
        assert f'"name": "{name}"' in done.stdout, name
