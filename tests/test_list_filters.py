"""Finding models (issue 24, section 5): list_pretrained's and `ganzoo list`'s filters,
and `ganzoo list` at narrow widths (section 4: the names users type are never cut)."""

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import ganzoo
from cli_checks import invoke, one_line_error
from ganzoo.catalog import load_catalog
from ganzoo.cli import app
from ganzoo.errors import GanzooError

CATALOG = load_catalog()
ARCHITECTURES = sorted({info.architecture for info in CATALOG.values()})
DATASETS = sorted({info.dataset for info in CATALOG.values()})


def _expected(architecture=None, dataset=None):
    return sorted(
        name
        for name, info in CATALOG.items()
        if architecture in (None, info.architecture) and dataset in (None, info.dataset)
    )


# ----------------------------------------------------------------------------- Python
def test_without_filters_every_name_is_listed():
    assert ganzoo.list_pretrained() == sorted(CATALOG) and len(CATALOG) > 1


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_architecture_filter_keeps_that_architecture_in_any_case(architecture):
    expected = _expected(architecture=architecture)
    assert expected and len(expected) < len(CATALOG)
    assert ganzoo.list_pretrained(architecture=architecture) == expected
    assert ganzoo.list_pretrained(architecture=architecture.upper()) == expected
    assert ganzoo.list_pretrained(architecture) == expected  # positional, as before


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_filter_keeps_that_data_set_in_any_case(dataset):
    expected = _expected(dataset=dataset)
    assert expected and len(expected) < len(CATALOG)
    assert ganzoo.list_pretrained(dataset=dataset) == expected
    assert ganzoo.list_pretrained(dataset=dataset.title()) == expected


def test_both_filters_keep_what_matches_both():
    for architecture in ARCHITECTURES:
        for dataset in DATASETS:
            got = ganzoo.list_pretrained(architecture=architecture, dataset=dataset)
            assert got == _expected(architecture, dataset), (architecture, dataset)
    assert ganzoo.list_pretrained(architecture="dcgan", dataset="mnist") == []


def test_a_data_set_alias_finds_the_same_checkpoints():
    assert ganzoo.list_pretrained(dataset="CIFAR-10") == _expected(dataset="cifar10") != []


def test_known_architecture_or_data_set_without_checkpoints_gives_an_empty_list():
    assert "tiny" in ganzoo.list_models()  # registered by the tests, no checkpoint
    assert ganzoo.list_pretrained(architecture="tiny") == []
    assert ganzoo.list_pretrained(dataset="fashion-mnist") == []


@pytest.mark.parametrize(
    ("kwargs", "fragments", "known"),
    [
        ({"architecture": "dcgann"}, ["unknown architecture 'dcgann'", "'dcgan'"], ARCHITECTURES),
        ({"dataset": "mnsit"}, ["unknown dataset 'mnsit'", "did you mean 'mnist'"], DATASETS),
        ({"architecture": "sgan", "dataset": "imagenet"}, ["unknown dataset"], DATASETS),
    ],
)
def test_unknown_value_is_one_line_naming_the_known_ones(kwargs, fragments, known):
    with pytest.raises(GanzooError) as caught:
        ganzoo.list_pretrained(**kwargs)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in [*fragments, *known]:
        assert fragment in message, message


def test_filtering_on_catalog_values_does_not_import_torch():
    code = (
        "import sys, ganzoo\n"
        "assert ganzoo.list_pretrained(architecture='SGAN', dataset='mnist')\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- CLI
def _names_in(output):
    """The pretrained names that appear whole in a table cell of ``output``."""
    return {name for name in CATALOG if re.search(rf"[│┃] {re.escape(name)} +[│┃]", output)}


def test_cli_filters_show_only_the_matching_models():
    result = invoke("list", "--architecture", "DCGAN", "--dataset", "art64")
    assert result.exit_code == 0, result.output
    assert _names_in(result.output) == set(_expected("dcgan", "art64"))
    assert "Architectures" not in result.output
    result = invoke("list", "-d", "mnist")
    assert result.exit_code == 0, result.output
    assert _names_in(result.output) == set(_expected(dataset="mnist"))


def test_cli_filters_that_match_nothing_say_so():
    result = invoke("list", "-a", "dcgan", "-d", "mnist")
    assert result.exit_code == 0, result.output
    assert "no pretrained model with architecture 'dcgan' and dataset 'mnist'" in result.output
    assert _names_in(result.output) == set()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--architecture", "dcgann"), "unknown architecture 'dcgann'; did you mean 'dcgan'"),
        (("--dataset", "mnsit"), "unknown dataset 'mnsit'; did you mean 'mnist'"),
    ],
)
def test_cli_unknown_filter_value_is_one_line(args, fragment):
    one_line_error(invoke("list", *args), fragment, "known: ")


@pytest.mark.parametrize("columns", [200, 100, 80, 60])
def test_list_never_cuts_a_name_and_keeps_every_metric_name_whole(columns):
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    assert _names_in(result.output) == set(CATALOG)
    assert "…" not in result.output  # rich's mark of a cut cell
    assert max(len(line) for line in result.output.splitlines()) <= columns
    for info in CATALOG.values():
        for metric in info.metrics:
            assert re.search(rf"(^|[ ,]){re.escape(metric)} ", result.output, re.M), metric
    for name in ganzoo.list_models():  # the architectures' names too
        assert re.search(rf"[│┃] {re.escape(name)} +[│┃]", result.output), name
