"""Find the code blocks of the docs and run them the way a reader would.

The rules (the test module, ``test_docs_snippets.py``, enforces them):

- **Which blocks run.** Every fenced block of README.md and docs/**/*.md whose language is
  ``python``/``py`` (Python) or ``bash``/``sh``/``shell``/``console`` (shell). Other languages
  (``text``, ``json``...) are output or file listings and never run.
- **Opting out.** An HTML comment ``<!-- no-run: reason -->`` on the last non-blank line before
  a fence opts that block out. It is meant for blocks that are not instructions to run here:
  installs from the network, records of long measurement runs, publishing to the Hub. Every
  opt-out is listed in the test module (``OPT_OUTS``), so adding one is a visible change.
- **Python.** The Python blocks of one page run as ONE script, in document order, in a fresh
  interpreter (``sys.executable``) and a fresh temporary working folder: a later block may use
  the names an earlier one defined. Each block's lines keep their line numbers in the page, so
  a traceback names the page and line (``File "docs/training.md", line 20``).
- **Shell.** Each shell block runs alone in its own fresh working folder, stopping at the first
  command that fails (as ``bash -e``). A block made only of ``ganzoo`` commands (and ``cat``,
  ``ls``, ``echo``, comments, line continuations, ``NAME=value`` prefixes) runs in the test
  process through Typer's ``CliRunner`` on ``ganzoo.cli.app`` (:func:`in_process_commands`
  says which); any other block (pipes, ``python -c``, ``torchrun``, ``$(...)``...) and the
  smoke-test blocks the test module lists run with ``bash -e``, with the ``ganzoo`` console
  script of the running environment first on ``PATH``.
- **The ganzoo under test.** Fresh interpreters import the same ``ganzoo`` as the tests do
  (its folder goes first on ``PYTHONPATH``), not whichever one is installed.
- **Data and network.** ``GANZOO_DATA`` points at tiny generated data sets (MNIST IDX files,
  Fashion-MNIST, a CIFAR-10 npz); ``HF_HUB_OFFLINE=1`` and ``HF_ENDPOINT`` points at a local
  fake Hub, so nothing touches the network. A page whose Python names a Hub repo id
  (``from_pretrained("org/name")``) runs online against the fake Hub instead.
- **Your pictures.** Each working folder holds ``my_pictures/``: eight small JPEG and PNG
  pictures of mixed sizes, standing in for the reader's own (``--dataset folder:my_pictures``).
- **Exactly as written.** No block is rewritten: the docs ask for no device this machine may
  lack (they leave the device out, so the best available one is used).
- **Fast, and as written.** The default run sets the library's documented quick-run setting
  ``GANZOO_FAST_DEV_RUN`` (``FAST_DEV_RUN_STEPS`` steps; docs/training.md), so a snippet that
  trains for 2000 steps runs every line, every option and every file it writes, in a few
  steps. Snippets that train also run with every step they ask for under ``pytest -m slow``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

PYTHON_LANGS = {"python", "py", "python3"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
OPEN_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<kind>no-run)\s*:\s*(?P<reason>.+?)\s*-->\s*$")
TRAINS = re.compile(r"ganzoo train\b|torchrun|\.fit\(|\btrain\(")
HUB_REPO_ID = re.compile(r"""from_pretrained\(\s*["'][\w.-]+/[\w.-]+["']""")
DONE = "\x1edoc-block-done "
#: The steps every training run is capped at in the fast run (``GANZOO_FAST_DEV_RUN``).
FAST_DEV_RUN_STEPS = 2
#: Commands a shell block may hold and still run in the test process.
IN_PROCESS_PROGRAMS = {"ganzoo", "cat", "ls", "echo"}
#: Characters that make bash do more than run one command with literal arguments.
SHELL_SYNTAX = set("|&;<>()$`*?[]{}~!\\")
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str  # path relative to the repository root, e.g. "docs/cli.md"
    line: int  # 1-based line of the first code line
    lang: str  # "python" or "shell" (or the raw language for blocks that never run)
    code: str  # dedented code
    no_run: str | None  # the reason of a ``<!-- no-run: ... -->`` directive

    @property
    def id(self) -> str:
        """``page:line``, the name a failure carries."""
        return f"{self.page}:{self.line}"

    @property
    def runnable(self) -> bool:
        """Whether the block is Python or shell and not opted out."""
        return self.lang in ("python", "shell") and self.no_run is None

    @property
    def trains(self) -> bool:
        """Whether the block trains a model (and so has a slow, as-written run)."""
        return bool(TRAINS.search(self.code))


def docs_hook(name: str):  # noqa: ANN201 - a module
    """Import ``docs/hooks/<name>.py`` (build code, not a package) for a test."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"{name}_hook", ROOT / "docs" / "hooks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pages() -> list[str]:
    """README.md and every Markdown page under docs/, relative to the repository root."""
    found = ["README.md"] + sorted(
        p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")
    )
    return [p for p in found if (ROOT / p).is_file()]


def parse(page: str, text: str | None = None) -> list[Block]:
    """The fenced code blocks of ``page`` (a path relative to the repository root)."""
    lines = (text if text is not None else (ROOT / page).read_text(encoding="utf-8")).split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = OPEN_FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"].lower()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[i + 1 : j]
        ]
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        directive = DIRECTIVE.match(lines[k]) if k >= 0 else None
        kind = "python" if lang in PYTHON_LANGS else "shell" if lang in SHELL_LANGS else lang
        code = "\n".join(body)
        if lang == "console":  # "$ command" lines are commands; the rest is output
            code = "\n".join(line[2:] for line in body if line.startswith("$ "))
        blocks.append(
            Block(
                page, i + 2, kind, textwrap.dedent(code), directive["reason"] if directive else None
            )
        )
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    """Every fenced block of every page."""
    return [block for page in pages() for block in parse(page)]


def python_script(blocks: list[Block]) -> str:
    """One script of a page's Python blocks whose lines sit at their lines in the page.

    After each block, a marker line reports it done (on the line of its closing fence).
    """
    out: list[str] = []
    for index, block in enumerate(blocks):
        code = block.code.split("\n")
        while len(out) < block.line - 1:
            out.append("")
        out.extend(code)
        out.append(f"print({DONE + str(index)!r}, flush=True)")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Command:
    """One command of a shell block that can run in the test process."""

    line: int  # its line in the page
    argv: tuple[str, ...]  # program and arguments, as bash would pass them
    env: tuple[tuple[str, str], ...] = ()  # ``NAME=value`` prefixes


def in_process_commands(block: Block) -> list[Command] | None:
    """The commands of a shell block, or ``None`` when the block needs bash.

    A block runs in-process when each of its lines (continuations joined, comments and blank
    lines dropped) is one command of :data:`IN_PROCESS_PROGRAMS`, optionally after
    ``NAME=value`` assignments, whose words bash would pass on literally: no pipes, lists,
    redirections, substitutions, globs or variables (:data:`SHELL_SYNTAX`), and ``cat``,
    ``ls`` and ``echo`` without options.
    """
    commands: list[Command] = []
    lines = block.code.split("\n")
    i = 0
    while i < len(lines):
        first, text = i, lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i]
        i += 1
        try:
            words = shlex.split(text, comments=True)
        except ValueError:  # an unclosed quote
            return None
        if not words:
            continue
        if any(SHELL_SYNTAX & set(word) for word in words):
            return None
        env = []
        while words and ASSIGNMENT.match(words[0]):
            name, value = words.pop(0).split("=", 1)
            env.append((name, value))
        if not words or words[0] not in IN_PROCESS_PROGRAMS:
            return None
        if words[0] != "ganzoo" and any(word.startswith("-") for word in words[1:]):
            return None
        commands.append(Command(block.line + first, tuple(words), tuple(env)))
    return commands


def builtin(argv: tuple[str, ...], cwd: Path) -> tuple[int, str]:
    """Run ``cat``, ``ls`` or ``echo`` (no options) in ``cwd``: (exit status, output)."""
    program, args = argv[0], argv[1:]
    if program == "echo":
        return 0, " ".join(args) + "\n"
    out: list[str] = []
    for arg in args or (["."] if program == "ls" else []):
        path = cwd / arg
        if not path.exists():
            return 1, f"{program}: {arg}: No such file or directory\n"
        if program == "cat":
            out.append(path.read_text(encoding="utf-8", errors="replace"))
        else:
            out.append("\n".join(sorted(p.name for p in path.iterdir())) if path.is_dir() else arg)
            out.append("\n")
    return 0, "".join(out)


# --------------------------------------------------------------------------------------
# tiny data sets


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(header + arr.tobytes())


def _digits(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bars whose height encodes the class, plus noise: learnable, 28x28 uint8."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label : 5 + 2 * label, 4:24] = 255
    return images, labels


def make_data_root(root: Path) -> Path:
    """Tiny MNIST, Fashion-MNIST (IDX files), CIFAR-10 and the art set (npz) under ``root``."""
    for folder, seed in (("MNIST", 0), ("FashionMNIST", 1)):
        raw = root / folder / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for prefix, per_class in (("train", 20), ("t10k", 5)):
            images, labels = _digits(per_class, seed)
            _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
            _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
            seed += 10
    rng = np.random.default_rng(2)
    cifar = root / "cifar10"
    cifar.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 40), ("test", 20)):
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        np.savez(cifar / f"{split}.npz", x=x, y=np.arange(n, dtype=np.int64) % 10)
    art = root / "abstract-art"
    art.mkdir(parents=True, exist_ok=True)
    np.savez(art / "images64.npz", x=rng.integers(0, 256, (24, 64, 64, 3), dtype=np.uint8))
    return root


# --------------------------------------------------------------------------------------
# running


def ganzoo_root() -> Path:
    """The folder the tested ``ganzoo`` package is imported from (``src`` of a checkout)."""
    import ganzoo

    return Path(ganzoo.__file__).resolve().parents[1]


def environment(
    data_root: Path, home: Path, hub_url: str, *, online: bool, fast: bool
) -> dict[str, str]:
    """The environment of a snippet: tiny data, a local Hub, capped training in fast mode."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGING", "PYTEST", "GANZOO_"))
    }
    env.update(
        GANZOO_DATA=str(data_root),
        HF_HOME=str(home / "hf_home"),
        HF_ENDPOINT=hub_url,
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TORCH_HOME=str(home / "torch"),
        GANZOO_CACHE=str(home / "ganzoo_cache"),
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=str(ganzoo_root()),
    )
    if not online:
        env["HF_HUB_OFFLINE"] = "1"
    if fast:
        env["GANZOO_FAST_DEV_RUN"] = str(FAST_DEV_RUN_STEPS)
    return env


def run(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """Run ``argv`` and capture its output as text (stderr merged into stdout)."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def fresh_dir(parent: Path, name: str) -> Path:
    """An empty folder ``parent/name`` (emptied if it exists)."""
    folder = parent / re.sub(r"[^\w.-]+", "_", name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def make_pictures(folder: Path) -> Path:
    """``folder/my_pictures``: eight JPEG and PNG pictures of mixed sizes (a reader's own)."""
    from PIL import Image

    pictures = folder / "my_pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(8):
        size = (48 + 16 * i, 80 - 4 * i)
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(pictures / f"picture{i}.{'png' if i % 2 else 'jpg'}")
    return pictures
