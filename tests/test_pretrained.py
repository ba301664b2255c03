"""The bundled checkpoints: complete, small, fp16, and loadable offline."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.catalog import get_pretrained_info, load_catalog

BUNDLED = [name for name, info in load_catalog().items() if info.bundled]
MNIST_FAMILY = ["cnn-mnist-100", "sgan-mnist-100", "vaegan-mnist-100"]
ART_FAMILY = ["dcgan-art64", "wgan-art64", "wgan-gp-art64"]
VQ_FAMILY = ["vqvae-mnist", "vqvae-cifar10"]
#: Issue 15's "second checkpoint tuned for samples", beside the classifier one.
SAMPLER_FAMILY = ["sgan-mnist-100-conditional"]


@pytest.mark.parametrize(
    ("family", "budget_mib"),
    [(MNIST_FAMILY, 6), (ART_FAMILY, 15), (VQ_FAMILY, 8), (SAMPLER_FAMILY, 4)],
)
def test_each_family_is_bundled_within_its_size_budget(family, budget_mib):
    assert set(family) <= set(BUNDLED)
    folders = [get_pretrained_info(name).folder for name in family]
    size = sum(p.stat().st_size for folder in folders for p in folder.iterdir())
    assert size <= budget_mib * 2**20


@pytest.mark.parametrize("name", ["vaegan-mnist-100", *SAMPLER_FAMILY])
def test_mnist_generator_cards_give_their_sample_quality_and_its_protocol(name):
    info = get_pretrained_info(name)
    card = (info.folder / "README.md").read_text()
    keys = {"samples_fid", "samples_fid_floor", "samples_confidence", "samples_kl_uniform"}
    assert keys <= set(info.metrics)
    assert 0 < info.metrics["samples_fid_floor"] < info.metrics["samples_fid"]
    assert (
        0
        <= info.metrics["samples_min_class_share"]
        <= 0.1
        <= info.metrics["samples_max_class_share"]
    )
    assert "2000 samples (seed 0) read by ganzoo's MNIST metric classifier" in card
    conditional = bool(ganzoo.from_pretrained(name).conditional) if "sgan" in name else False
    assert ("samples_agreement" in info.metrics) is conditional


@pytest.mark.parametrize("name", ART_FAMILY)
def test_art_cards_give_fid_kid_with_their_protocol_and_the_data_provenance(name):
    info = get_pretrained_info(name)
    card = (info.folder / "README.md").read_text()
    assert {"fid", "kid"} <= set(info.metrics)
    assert "5000 generated images" in card and "inception-tf features" in card
    assert "all 2781 art64 training images" in card and "own floor" in card
    assert "Third-party artwork" in card


def test_sample_an_art_model_offline_from_the_command_line(tmp_path):
    from PIL import Image

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GANZOO_DATA": str(tmp_path / "no-data")}
    out = tmp_path / "art.png"
    command = ["ganzoo", "sample", "dcgan-art64", "-n", "64", "--out", str(out), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as grid:
        assert grid.size[0] >= 8 * 64 and grid.size[1] >= 8 * 64


@pytest.mark.parametrize("name", VQ_FAMILY)
def test_vqvae_checkpoints_carry_their_prior_and_test_metrics(name):
    info = get_pretrained_info(name)
    model = ganzoo.from_pretrained(name)
    assert model.prior is not None
    expected = {"test_psnr", "test_perplexity", "test_used_codes", "test_prior_bits_per_dim"}
    assert expected <= set(info.metrics)
    card = (info.folder / "README.md").read_text()
    assert "![reconstructions](reconstructions.png)" in card
    assert (info.folder / "reconstructions.png").is_file()
    assert "--stage prior" in info.command and " && " in info.command
    codes = model.encode(model.sample(2, seed=0))
    assert codes.dtype == torch.long and int(codes.max()) < model.config.num_codes


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoint_is_fp16_with_a_card_and_loads(name):
    info = get_pretrained_info(name)
    weights = load_file(str(info.folder / "model.safetensors"))
    assert all(t.dtype == torch.float16 for t in weights.values() if t.is_floating_point())
    card = (info.folder / "README.md").read_text()
    assert "library_name: ganzoo" in card and info.command in card
    for metric, value in info.metrics.items():
        assert f"| {metric} | {value} |" in card
    model = ganzoo.from_pretrained(name)
    assert model.architecture == info.architecture
    config = json.loads((info.folder / "config.json").read_text())
    assert config["data"]["dataset"] == info.dataset
    if model.can("sample"):
        assert (info.folder / "samples.png").is_file()
        images = model.sample(4, seed=0)
        assert images.shape[0] == 4 and torch.isfinite(images).all()


def test_sampling_path_imports_nothing_heavy(tmp_path):
    ganzoo.create_model("sgan").save_pretrained(tmp_path / "sgan")
    code = (
        "import sys\n"
        "from ganzoo.cli import main\n"
        f"sys.argv = ['ganzoo', 'sample', {str(tmp_path / 'sgan')!r}, '-n', '4', '--out', "
        f"{str(tmp_path / 'x.png')!r}, '--quiet']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "heavy = [m for m in ('torchvision', 'matplotlib', 'ganzoo.train', 'ganzoo.data')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "x.png").is_file()


def test_docs_show_the_sample_grid_of_every_bundled_checkpoint_that_has_one():
    from pathlib import Path
    from types import SimpleNamespace

    from doc_snippets import docs_hook

    hook = docs_hook("pretrained_images")
    config = {"config_file_path": str(Path(__file__).resolve().parents[1] / "mkdocs.yml")}
    page = SimpleNamespace(file=SimpleNamespace(src_uri="models/gan.md"))
    text = hook.on_page_markdown("a\n<!-- pretrained-samples -->\nb", page, config)
    with_grids = [n for n in BUNDLED if (get_pretrained_info(n).folder / "samples.png").is_file()]
    assert with_grids
    for name in with_grids:
        assert f"](../pretrained/{name}/samples.png)" in text
    assert "<!-- pretrained-samples -->" not in text


def test_home_page_gallery_shows_every_bundled_grid_with_its_name():
    from pathlib import Path
    from types import SimpleNamespace

    from doc_snippets import docs_hook

    hook = docs_hook("pretrained_images")
    root = Path(__file__).resolve().parents[1]
    assert "<!-- pretrained-gallery -->" in (root / "docs" / "index.md").read_text()
    config = {"config_file_path": str(root / "mkdocs.yml")}
    page = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"))
    text = hook.on_page_markdown("<!-- pretrained-gallery -->", page, config)
    with_grids = [n for n in BUNDLED if (get_pretrained_info(n).folder / "samples.png").is_file()]
    for name in with_grids:
        assert f"](pretrained/{name}/samples.png)" in text
        assert f"<br>`{name}`" in text
    rows = [line for line in text.splitlines() if line.startswith("| !")]
    assert len(rows) == -(-len(with_grids) // 3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_an_absent_device_is_one_line_naming_the_fix():
    with pytest.raises(ganzoo.GanzooError) as info:
        ganzoo.from_pretrained("cnn-mnist-100", device="cuda")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("CUDA is not available") and "device='cpu'" in message
