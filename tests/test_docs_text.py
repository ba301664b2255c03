"""What a stranger reads: the docs' words, the API pages' examples and the commands' help.

The pages cite the course report (never the internal specification), the docstrings'
examples render as code, and ``--help`` shows plain text with no words lost to Rich markup.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer

import ganzoo.data
from cli_checks import invoke, one_line_error
from ganzoo.cli import app
from ganzoo.errors import GanzooError

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SOURCES = sorted((ROOT / "src" / "ganzoo").rglob("*.py"))
#: "the report" / "the course report" / "report's", not "reported" or the preset `report`.
SAYS_THE_REPORT = re.compile(r"\b[Tt]he (course )?report\b|\breport's\b")
#: The commands whose help these tests read (``train``'s is checked with its own module).
COMMANDS = ["list", "info", "sample", "encode", "eval", "push", "train"]


def _docstrings(path: Path) -> list[tuple[str, str]]:
    """(where, text) of the module's, its classes' and its functions' docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                found.append((f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}", doc))
    return found


def test_no_page_or_docstring_names_the_internal_spec():
    hits = [
        f"{page.relative_to(ROOT)}:{n}"
        for page in PAGES
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bSPEC\b", line)
    ]
    hits += [where for path in SOURCES for where, doc in _docstrings(path) if "SPEC" in doc]
    assert not hits, f"cite the report or the paper instead of SPEC: {hits}"


def test_the_home_page_introduces_the_report_and_the_papers():
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    section = home.split("## The report", 1)[1].split("\n## ", 1)[0]
    for fragment in (
        '**"the report"**',
        "Neural Networks and Deep Learning, Mini-project 3",
        "Mahdi Abdollah Chalaki",
        "Mahdi Mahdikhani",
        "University of Tehran",
        "2022",
        "Odena 2016",
        "Larsen et al. 2016",
        "Radford et al. 2016",
        "Gulrajani et al. 2017",
        "van den Oord et al. 2017",
        "Abstract Art Gallery",
    ):
        assert fragment in section, fragment


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_that_speaks_of_the_report_says_which_one(page):
    text = page.read_text(encoding="utf-8")
    if page.name == "index.md" and page.parent.name == "docs" or not SAYS_THE_REPORT.search(text):
        return
    assert "index.md#the-report" in text, "link the citation: (index.md#the-report)"
    first_use = SAYS_THE_REPORT.search(text).start()
    cited_at = text.index("index.md#the-report")
    # the citation comes with the first use: within the same paragraph or two
    assert cited_at - first_use < 400, text[first_use : cited_at + 20]


def test_docstring_examples_are_an_examples_section_that_renders_as_code():
    """``Example:`` is an admonition in mkdocstrings: its ``>>>`` lines became blockquotes."""
    griffe = pytest.importorskip("griffe")
    package = griffe.load("ganzoo", search_paths=[str(ROOT / "src")], docstring_parser="google")
    admonitions, examples = [], 0

    def visit(obj):
        nonlocal examples
        if obj.is_alias:
            return
        if obj.docstring is not None:
            for section in obj.docstring.parsed:
                kind = section.kind.value
                if kind == "examples":
                    examples += 1
                    assert any(k.value == "examples" for k, _ in section.value), obj.path
                elif kind == "admonition" and ">>>" in section.value.contents:
                    admonitions.append(obj.path)
        for member in obj.members.values():
            visit(member)

    visit(package)
    assert not admonitions, f"write 'Examples:' so the doctest lines render as code: {admonitions}"
    assert examples >= 12


def test_no_docstring_writes_the_singular_example_heading():
    bad = [
        where
        for path in SOURCES
        for where, doc in _docstrings(path)
        if re.search(r"^Example:\s*$", doc, flags=re.MULTILINE)
    ]
    assert not bad, bad


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_plain_text_with_no_word_lost(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per option: a hole is not a line break
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "``" not in text, "reStructuredText literal in --help"
    assert ":func:" not in text and ":class:" not in text
    # Rich reads "[word]" as markup and drops it, leaving "with ." or "fid/kid ;"
    holes = re.findall(r"\w +[.;,)](?=\s|$)", text, flags=re.MULTILINE)
    assert not holes, holes


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reflows_the_description_at_80_columns_and_keeps_its_words(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = invoke(command, "--help").output
    description = text.split("Usage:", 1)[1].split("\u256d", 1)[0].splitlines()[2:]
    for line, following in zip(description, description[1:], strict=False):
        # a short line inside a paragraph is a docstring line broken again by the terminal
        if line.strip() and following.strip():
            assert len(line.strip()) > 40, f"orphan line {line!r}"
    click_command = typer.main.get_command(app).commands[command]
    said = set(" ".join(text.split()).replace("`", "").split())
    for word in (click_command.help or "").replace("`", "").split():
        assert word in said, f"{word!r} of the docstring is missing from --help"


def test_eval_help_names_its_defaults(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = " ".join(invoke("eval", "--help").output.split())
    assert "Feature network of fid/kid (default: inception-tf);" in text
    assert "Real images to compare with (default: all)." in text


def _flags(line: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line))


@pytest.mark.parametrize(
    "args",
    [
        ("eval", "sgan-mnist-100"),
        ("encode", "vqvae-mnist", "mnist", "--out", "codes.npz"),
    ],
    ids=["eval", "encode"],
)
def test_a_missing_data_set_suggests_only_options_the_command_accepts(args, tmp_path):
    line = one_line_error(
        invoke(*args, "--data-root", tmp_path / "empty"), "MNIST not found", "--download"
    )
    accepted = _flags(" ".join(invoke(args[0], "--help").output.split()))
    assert _flags(line) <= accepted, (_flags(line) - accepted, line)


@pytest.mark.parametrize(
    "args",
    [
        ("eval", "sgan-mnist-100"),
        ("encode", "vqvae-mnist", "mnist", "--out", "codes.npz"),
    ],
    ids=["eval", "encode"],
)
def test_download_reaches_the_loader(args, tmp_path, monkeypatch):
    asked = {}

    def fake_load_dataset(name, split="train", **options):
        asked.update(options, name=name)
        raise GanzooError("stopped by the test")

    monkeypatch.setattr(ganzoo.data, "load_dataset", fake_load_dataset)
    one_line_error(invoke(*args, "--data-root", tmp_path, "--download"), "stopped by the test")
    assert asked["name"] == "mnist" and asked["download"] is True


def _undefined_names(code: str) -> set[str]:
    """Names a script reads but never imports, assigns or gets from builtins."""
    import builtins

    tree = ast.parse(code)
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    loaded = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loaded - bound


README_PYTHON = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


@pytest.mark.parametrize("code", README_PYTHON, ids=lambda c: c.split("\n", 1)[0][:40])
def test_each_python_block_of_the_readme_runs_as_pasted_on_its_own(code):
    assert not _undefined_names(code), "a reader pastes one block: define or import these"


def test_the_readme_says_how_long_its_training_and_the_test_suite_take():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "these 200 steps take about 3.5 minutes" in readme
    assert "steps=200" in readme
    assert "The test suite (`pytest -n 2 --dist loadgroup`) takes about" in readme
