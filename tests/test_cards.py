"""Issue 24, section 3: model cards the Hub can read, with commands a user can run.

Every bundled card and every exported (and pushed) run's card has YAML front matter
that huggingface_hub parses, with a ``model-index`` of the measured metrics; their
training commands name no private data root or run folder; they link only to what
exists (papers, the Hub, and the project URL of the package metadata, if any).
"""

import importlib.util
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from huggingface_hub import ModelCard, metadata_load

import ganzoo
from ganzoo import create_model
from ganzoo.card_data import HUB_DATASETS, metric_kind, project_url
from ganzoo.card_text import runnable_commands
from ganzoo.catalog import CATALOG_FILE, get_pretrained_info, load_catalog
from ganzoo.hub import export_pretrained
from tiny import TinyTrainConfig, TinyTrainer

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = [name for name, info in load_catalog().items() if info.bundled]
ALLOWED_HOSTS = {"arxiv.org", "huggingface.co", "pytorch.org"}
PRIVATE = ("../shared", "/work/", "shared/data", "runs/s5", "runs/pilots", "--data-root ../")


def _bundler():
    """``scripts/bundle_pretrained.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "bundle_pretrained", ROOT / "scripts/bundle_pretrained.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measured(card_path):
    """``{(task, dataset, split, metric type): value}`` of a card's model-index."""
    card = ModelCard.load(card_path)
    return card, {
        (r.task_type, r.dataset_type, r.dataset_split, r.metric_type, r.metric_name): r.metric_value
        for r in card.data.eval_results or []
    }


def _expected(metrics):
    """The model-index entries a card of ``metrics`` must hold: the known metrics, as given."""
    known = {}
    for name, value in metrics.items():
        found = metric_kind(name)
        if found is not None:
            known[name] = (found, value)
    return known


def _assert_index_holds(card_path, metrics, dataset):
    card, index = _measured(card_path)
    known = _expected(metrics)
    assert len(index) == len(known) > 0
    for (kind, split), value in known.values():
        hits = [
            v
            for (task, data, s, mtype, mname), v in index.items()
            if mtype == kind.type and mname == kind.name and s == split
        ]
        assert hits == [value]
    dataset_ids = {key[1] for key in index}
    assert dataset_ids == {HUB_DATASETS.get(dataset, dataset)}
    return card


def _urls(text):
    return re.findall(r"https?://[^\s)>\]\"'`]+", text)


def _allowed_hosts():
    url = project_url()
    return ALLOWED_HOSTS | ({urlparse(url).hostname} if url else set())


# ------------------------------------------------------------------ bundled cards
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_front_matter_parses_with_the_measured_metrics(name):
    info = get_pretrained_info(name)
    path = info.folder / "README.md"
    card = _assert_index_holds(path, info.metrics, info.dataset)
    data = card.data
    assert data.library_name == "ganzoo" and data.license == "mit"
    assert data.model_name == name
    assert {"ganzoo", "pytorch", info.architecture} <= set(data.tags)
    classifier = info.architecture in ("sgan", "cnn")
    generation = "unconditional-image-generation"
    assert data.pipeline_tag == ("image-classification" if classifier else generation)
    if info.dataset in HUB_DATASETS:
        assert data.datasets == [HUB_DATASETS[info.dataset]]
    else:
        assert data.datasets is None  # the art set is on no Hub repository
    assert metadata_load(path)["model-index"][0]["name"] == name
    # the lineage's last leg in config.json measured the same numbers
    config = json.loads((info.folder / "config.json").read_text())
    for leg in config.get("lineage", [])[-1:]:
        assert {k: leg["metrics"][k] for k in info.metrics} == info.metrics


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_is_what_the_bundler_renders_from_its_folder(name):
    card, config, command = _bundler().render_bundled(name)
    folder = get_pretrained_info(name).folder
    assert card == (folder / "README.md").read_text()
    assert config == json.loads((folder / "config.json").read_text())
    assert command == get_pretrained_info(name).command


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_card_snippets_use_what_the_model_can_do(name):
    card = (get_pretrained_info(name).folder / "README.md").read_text()
    model = ganzoo.from_pretrained(name)
    assert ("model.sample(64, seed=0)" in card) is model.can("sample")
    assert (f"ganzoo sample {name} " in card) is model.can("sample")
    if not model.can("sample"):
        assert "model.classify(images)" in card and f"ganzoo eval {name}" in card


def test_bundled_cards_and_catalog_commands_name_nothing_private():
    catalog = json.loads(CATALOG_FILE.read_text())
    for entry in catalog["models"]:
        name, command = entry["name"], entry["command"]
        assert not [p for p in PRIVATE if p in command] and "--data-root" not in command
        outs = [
            w for i, w in enumerate(shlex.split(command)) if shlex.split(command)[i - 1] == "--out"
        ]
        assert outs and outs[-1] == f"runs/{name}"
        assert all(re.fullmatch(rf"runs/{re.escape(name)}(-stage\d+)?", out) for out in outs)
        if not entry.get("bundled"):
            continue
        folder = get_pretrained_info(name).folder
        texts = [(folder / "README.md").read_text(), (folder / "config.json").read_text()]
        for text in texts:
            assert not [p for p in PRIVATE if p in text], (name, [p for p in PRIVATE if p in text])
        assert f"```bash\n{command}\n```" in texts[0]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_cards_link_only_papers_the_hub_and_the_project(name):
    card = (get_pretrained_info(name).folder / "README.md").read_text()
    urls = _urls(card)
    assert [u for u in urls if "arxiv.org/abs/" in u]  # the papers it follows
    assert {urlparse(u).hostname for u in urls} <= _allowed_hosts(), urls
    template = (ROOT / "src/ganzoo/templates/model_card.md").read_text()
    assert _urls(template) == []


def test_the_project_url_is_the_one_of_pyproject(monkeypatch, tmp_path):
    import tomllib

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("urls") or {}
    assert project_url() == next(iter(urls.values()), None)
    model = create_model("tiny")
    export_pretrained(model, tmp_path / "a")
    assert ("Project: " in (tmp_path / "a" / "README.md").read_text()) is bool(urls)
    monkeypatch.setattr("ganzoo.card_data.project_url", lambda: "https://example.org/ganzoo")
    export_pretrained(model, tmp_path / "b")
    card = (tmp_path / "b" / "README.md").read_text()
    assert "[ganzoo](https://example.org/ganzoo)" in card
    assert "Project: https://example.org/ganzoo." in card


def test_doc_pages_named_by_cards_exist():
    from ganzoo.card_data import DOC_PAGES

    for page in set(DOC_PAGES.values()):
        assert (ROOT / "docs" / "models" / page).is_file()
    assert (ROOT / "docs" / "pretrained.md").is_file()


# ------------------------------------------------------------------ runs
class MeasuringTrainer(TinyTrainer):
    """The tiny trainer with an evaluation that measures the generator's samples."""

    def evaluate(self):
        images = self.model.sample(16, seed=0)
        return {
            "fid": round(float(images.abs().mean()) * 100, 6),
            "kid": round(float(images.std()), 6),
            "kid_std": 0.001,  # a spread, not a result: the table only
            "<b>m|": 1.0,  # an unknown, hostile name: the table only, escaped
        }


def _run(tiny_data, out, command):
    torch.manual_seed(0)
    config = TinyTrainConfig(device="cpu", quiet=True, out_dir=str(out), steps=2)
    trainer = MeasuringTrainer(create_model("tiny"), tiny_data, config, eval_data=tiny_data)
    trainer.command = command
    trainer.fit()
    return trainer


def test_a_run_card_has_the_front_matter_of_its_measured_metrics(tiny_data, tmp_path):
    command = "ganzoo train tiny --data-root ../shared/data --out runs/s5/lr1e-3-s0 --seed 0"
    _run(tiny_data, tmp_path / "run", command)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    measured = config["lineage"][-1]["metrics"]
    card = _assert_index_holds(tmp_path / "run" / "README.md", measured, "tiny")
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert card.data.datasets is None  # "tiny" is no Hub data set
    assert sorted(card.data.metrics) == ["fid", "kid"]
    text = (tmp_path / "run" / "README.md").read_text()
    assert "| &lt;b&gt;m\\| | 1.0 |" in text and "<b>" not in text.split("\n---\n")[0]
    assert "```bash\nganzoo train tiny --out runs/tiny --seed 0\n```" in text
    assert not [p for p in PRIVATE if p in text]
    assert {urlparse(u).hostname for u in _urls(text)} <= _allowed_hosts()


def test_a_pushed_run_sends_a_card_the_hub_can_read(tiny_data, tmp_path, pushed_files):
    from ganzoo.hub import push

    sent = pushed_files
    _run(tiny_data, tmp_path / "run", "ganzoo train tiny --out /home/alice/runs/x")
    push(tmp_path / "run", "me/tiny")
    (tmp_path / "sent.md").write_text(sent["README.md"])
    measured = json.loads((tmp_path / "run" / "config.json").read_text())["lineage"][-1]["metrics"]
    _assert_index_holds(tmp_path / "sent.md", measured, "tiny")
    assert "/home/alice" not in sent["README.md"]


def test_a_hostile_model_name_stays_out_of_the_yaml_and_the_run_folder(tmp_path):
    model = create_model("tiny")
    evil = "<img src=x onerror=alert(1)>\n---\nx: 1"
    export_pretrained(
        model, tmp_path / "m", metrics={"fid": 3.5}, command="ganzoo train tiny --out r",
        model_name=evil,
    )  # fmt: skip
    card = ModelCard.load(tmp_path / "m" / "README.md")
    assert card.data.model_name == "tiny"  # not a plain name: the architecture's
    assert "x" not in card.data.to_dict()
    assert "--out runs/img-src-x-onerror-alert-1-x-1\n" in card.content


# ------------------------------------------------------------------ the command clean-up
def test_a_resumed_run_keeps_the_name_of_the_folder_it_continues():
    legs = [
        "ganzoo train x --out /home/me/runs/leg1",
        "ganzoo train x --resume --out leg1 --steps 9 && ganzoo train x --stage prior "
        "--from /home/me/runs/leg1 --out /home/me/runs/leg2",
    ]
    cleaned, _ = runnable_commands(legs, "m")
    assert cleaned == [
        "ganzoo train x --out runs/m-stage1",
        "ganzoo train x --resume --out runs/m-stage1 --steps 9 && ganzoo train x --stage prior "
        "--from runs/m-stage1 --out runs/m",
    ]


def test_runnable_commands_drop_the_data_root_and_rename_run_folders():
    chain = (
        "ganzoo train vqvae --out runs/vq --data-root ../shared/data && "
        "ganzoo train vqvae --stage prior --from runs/vq --out=runs/a/vq-prior --data-root=/x"
    )
    legs = [chain, "ganzoo train vqvae --init-from runs/a/vq-prior/best -o runs/b/leg2"]
    cleaned, outs = runnable_commands(legs, "vq mnist")
    assert cleaned == [
        "ganzoo train vqvae --out runs/vq-mnist-stage1 && ganzoo train vqvae --stage prior "
        "--from runs/vq-mnist-stage1 --out=runs/vq-mnist-stage2",
        "ganzoo train vqvae --init-from runs/vq-mnist-stage2/best -o runs/vq-mnist",
    ]
    assert outs["runs/a/vq-prior"] == "runs/vq-mnist-stage2"
    assert runnable_commands(cleaned, "vq mnist")[0] == cleaned  # already runnable: unchanged
    unchanged = "ganzoo train dcgan --dataset mnist --out runs/dc"
    assert runnable_commands([unchanged], "dc") == ([unchanged], {})
    assert runnable_commands(["x 'unbalanced --data-root /a"], "m")[0] == [
        "x 'unbalanced --data-root /a"
    ]
    # an earlier leg recorded with its path cut is still followed from a full path
    legs = ["ganzoo train x --out leg1", "ganzoo train x --init-from /home/x/leg1/best -o /h/l2"]
    assert runnable_commands(legs, "m")[0] == [
        "ganzoo train x --out runs/m-stage1",
        "ganzoo train x --init-from runs/m-stage1/best -o runs/m",
    ]
    # a --from that names no earlier run (a pretrained name) stays
    assert runnable_commands(["ganzoo train x --from vqvae-mnist --out o"], "m")[0] == [
        "ganzoo train x --from vqvae-mnist --out runs/m"
    ]


def test_a_two_leg_lineage_shows_each_leg_as_a_user_runs_it(tmp_path):
    model = create_model("tiny")
    first = "ganzoo train tiny --data-root /srv/data --out /home/alice/runs/s5/leg1"
    second = "ganzoo train tiny --init-from /home/alice/runs/s5/leg1/best --out runs/s5/leg2"
    model.lineage = [
        {"command": first, "init_from": None, "steps": 2},
        {"command": second, "init_from": "/home/alice/runs/s5/leg1/best", "steps": 3},
    ]
    export_pretrained(model, tmp_path / "m", command=second, model_name="tiny-art")
    card = (tmp_path / "m" / "README.md").read_text()
    assert (
        "```bash\nganzoo train tiny --init-from runs/tiny-art-stage1/best --out runs/tiny-art\n```"
        in card
    )
    rows = [line for line in card.splitlines() if line.startswith("| 2 |")]
    assert rows[0].startswith("| 2 | runs/tiny-art-stage1/best |")
    assert "| ganzoo train tiny --out runs/tiny-art-stage1 |" in card
    assert "/home/alice" not in card and "runs/s5" not in card


def test_the_bundler_redraws_a_grid_of_the_rows_asked_for_from_the_same_samples(tmp_path):
    from PIL import Image

    model = create_model("tiny")
    draw = _bundler().draw_grid
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir(), large.mkdir()
    sizes = [Image.open(draw(model, f, rows)).size for f, rows in ((small, 2), (large, 3))]
    side = model.sample(1, seed=0).shape[-1]
    assert sizes == [(2 * side + 6, 2 * side + 6), (3 * side + 8, 3 * side + 8)]
    # seed 0 draws the same first samples: both grids' first rows start with samples 0 and 1
    first_two = (0, 0, 2 * side + 6, side + 4)
    crops = [Image.open(f / "samples.png").crop(first_two).tobytes() for f in (small, large)]
    assert crops[0] == crops[1]
    with pytest.raises(SystemExit, match="--grid-rows is 0"):
        draw(model, small, 0)


def test_a_bundle_of_a_resumed_run_shows_every_fit_and_times_them_all():
    # a leg stopped and resumed: its lineage holds both fits, the summary the last one
    first = "ganzoo train x --steps 9 --data-root /srv/d --out /home/a/leg"
    resume = "ganzoo train x --steps 9 --data-root /srv/d --out /home/a/leg --resume"
    leg = {"command": f"{first} && {resume}", "steps": 9, "seconds": 7454.9, "metrics": {}}
    summary = {"command": resume, "steps": 9, "seconds": 5805.94, "device": "cpu"}
    legs, command, seconds = _bundler().shipped_lineage([leg], summary, {"fid": 1.5}, "m")
    assert command == (
        "ganzoo train x --steps 9 --out runs/m && ganzoo train x --steps 9 --out runs/m --resume"
    )
    assert seconds == 7454.9 and legs[-1]["command"] == command
    assert legs[-1]["metrics"] == {"fid": 1.5} and leg["metrics"] == {}
    # a run without a lineage (an older ganzoo): its one leg from the summary
    legs, command, seconds = _bundler().shipped_lineage([], summary, {}, "m")
    assert command.endswith("--out runs/m --resume") and seconds == 5805.9 and len(legs) == 1
