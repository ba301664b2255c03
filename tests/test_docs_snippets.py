"""Every Python and shell snippet of README.md and docs/ runs, so the docs cannot drift.

How the blocks are found and run (one page's Python blocks as one script, each shell block
alone, ``<!-- no-run: reason -->`` opt-outs, tiny data, a local fake Hub, training steps capped
in the default run and run as written under ``-m slow``) is described in ``doc_snippets.py``.
A failure names the page and line of the block: ``test_python_block[docs/training.md:18]``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

import doc_snippets as ds
from fake_hub import FakeHub

BLOCKS = ds.all_blocks()
PYTHON = [b for b in BLOCKS if b.runnable and b.lang == "python"]
SHELL = [b for b in BLOCKS if b.runnable and b.lang == "shell"]
PAGES_THAT_TRAIN_IN_PYTHON = sorted({b.page for b in PYTHON if b.trains})

#: Blocks that do not run, by (page, first code line): the reason is the directive's own.
#: Listed here so that opting a block out is a visible change to this file.
OPT_OUTS = {
    ("README.md", 'pip install -e ".[dev,docs]"   # install from this checkout, with test, lint and docs tools'),
    ("README.md", "ganzoo push runs/sgan100 me/my-sgan                # publish to the Hugging Face Hub"),
    ("docs/install.md", "git clone https://github.com/ganzoo/ganzoo"),
    ("docs/install.md", 'pip install -e ".[dev]"'),
    ("docs/install.md", "pip install build"),
    ("docs/install.md", "pip wheel . -w dist --no-deps"),
    ("docs/install.md", "pip install dist/ganzoo-*.whl"),
    ("docs/install.md", 'pip install -e ".[docs]"'),
    ("docs/quickstart.md", 'model.push_to_hub("me/my-sgan")       # needs a Hub login (`hf auth login`) or token='),
    ("docs/hub.md", 'model.push_to_hub("me/my-sgan")                  # the same, uploaded to a Hub repo'),
    ("docs/models/mnist.md", "MODE=full BUDGET=500 SGAN_STEPS=7000 SGAN_RECIPE=consistency bash scripts/mnist_gpu_session.sh   # H200 rows; it runs:"),
    ("docs/models/mnist.md", 'python benchmarks/mnist_ssl.py --methods "cnn-best[lr=0.0006;lr_decay_start=0.5;ema_decay=0.999]" --labels 50000 --seeds 0 --steps 7000 --device cpu'),
    ("docs/models/mnist.md", 'python benchmarks/mnist_ssl.py --methods "sgan-consistency[lr=0.0006],sgan-entropy" --labels 100 --seeds 0,1,2 --steps 3000 --device cpu --precision bf16 --workers 2'),
}

#: Blocks that fail because of a known bug in src/ganzoo, by (page, first code line): reason.
#: strict: the test fails once the bug is fixed, as a reminder to remove the entry.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _key(block: ds.Block) -> tuple[str, str]:
    return block.page, block.code.split("\n", 1)[0]


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
    bundled = Path(__file__).resolve().parents[1] / "src" / "ganzoo" / "pretrained" / "sgan-mnist-100"
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
        env = ds.environment(data_root, folder / ".home", hub.url, online=online, fast=fast, site_dir=site)
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
    folder, env = prepare(page, fast=fast, online=any(ds.HUB_REPO_ID.search(b.code) for b in blocks))
    script = folder / ".snippets" / page
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(ds.python_script(blocks, _cuda()), encoding="utf-8")
    # The script's file name is the page's own path, so tracebacks read "docs/x.md", line N.
    proc = ds.run([sys.executable, str(Path(".snippets") / page)], folder, env, timeout=280 if fast else 3000)
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
    pytest.fail(f"{block.id}: the page's Python stopped here (exit {code}):\n{out[-6000:]}", pytrace=False)


@pytest.mark.parametrize("block", _params(PYTHON))
def test_python_block(block, runner):
    _check_python_block(block, fast=True, prepare=runner)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("block", _params([b for b in PYTHON if b.page in PAGES_THAT_TRAIN_IN_PYTHON]))
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
    script.write_text(trap + padding + ds.for_this_machine(block.code, _cuda()) + "\n", encoding="utf-8")
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
            "=== \"tab\"",
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
    blocks = [ds.Block("p.md", 3, "python", "a = 1\nb = 2", None), ds.Block("p.md", 9, "python", "c", None)]
    lines = ds.python_script(blocks, cuda=True).split("\n")
    assert lines[2:4] == ["a = 1", "b = 2"] and lines[8] == "c"
    assert "doc-block-done 0" in lines[4] and "doc-block-done 1" in lines[9]


def test_cuda_is_read_as_cpu_without_a_gpu():
    code = 'ganzoo eval m --device cuda\nfrom_pretrained("x", device="cuda:1")'
    assert ds.for_this_machine(code, cuda=False) == 'ganzoo eval m --device cpu\nfrom_pretrained("x", device="cpu")'
    assert ds.for_this_machine(code, cuda=True) == code


def test_capped_steps_is_idempotent_and_leaves_room_to_resume():
    for steps in (1, 2, 3, 4, 600, 2000, 7000, 20000, 10**6):
        capped = ds.capped_steps(steps)
        assert ds.capped_steps(capped) == capped and 1 <= capped <= min(steps, 3)
    assert ds.capped_steps(20000) > ds.capped_steps(600)
