"""The MNIST metric classifier and the sample-quality metrics: features, FID in its space
against a float64 reference, confidence and balance on hand-made logits, `ganzoo eval`."""

import fnmatch
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import ganzoo.metrics.networks as metric_networks
from ganzoo import create_model
from ganzoo.cli import app
from ganzoo.data import ImageDataset
from ganzoo.errors import GanzooError
from ganzoo.metrics.features import get_feature, list_features, load_feature
from ganzoo.metrics.fid import generated_images
from ganzoo.metrics.networks import (
    MNIST_CLASSIFIER_RECORD,
    MNIST_CLASSIFIER_WEIGHTS,
    MNISTClassifierNet,
    load_mnist_classifier,
)
from ganzoo.metrics.sample_quality import (
    balance,
    check_digit_generator,
    class_shares,
    confidence,
    kl_from_uniform,
    parse_eval_metrics,
    read_samples,
    sample_metrics,
    split_floor,
)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def random_uint8(n, channels=3, size=28, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (n, channels, size, size)
    return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)


def dataset(images, name="rand"):
    return ImageDataset(images=images, labels=None, name=name, num_classes=None)


def numpy_fid(a, b):
    """FID in float64 with numpy alone (no torchmetrics, no scipy).

    Tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric
    PSD matrix, so only symmetric eigendecompositions are needed.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_root)


# ------------------------------------------------------------------------------- the network
def test_shipped_classifier_is_small_fp16_and_records_how_it_was_trained():
    assert MNIST_CLASSIFIER_WEIGHTS.stat().st_size <= 1 << 20
    from ganzoo.hub import read_weights_header

    header = read_weights_header(MNIST_CLASSIFIER_WEIGHTS)
    assert {dtype for shape, dtype in header.values() if len(shape) > 1} == {"F16"}
    record = json.loads(MNIST_CLASSIFIER_RECORD.read_text())
    assert record["command"].startswith("OMP_NUM_THREADS=1 python scripts/train_mnist_metric.py")
    assert isinstance(record["seed"], int) and record["torch"] and record["wall_s"] > 0
    assert record["train"]["n"] == 60000 and record["test"]["n"] == 10000
    assert record["test"]["accuracy"] >= 0.993


def test_package_data_ships_the_metric_network():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["ganzoo"]
    for path in (MNIST_CLASSIFIER_WEIGHTS, MNIST_CLASSIFIER_RECORD):
        relative = path.relative_to(ROOT / "src" / "ganzoo").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_mnist_classifier_is_a_registered_128d_feature_network():
    assert "mnist-classifier" in list_features()
    assert get_feature("mnist-classifier").dims == MNISTClassifierNet.num_features == 128
    network = load_feature("mnist-classifier")
    assert not network.training and not any(p.requires_grad for p in network.parameters())


def test_features_are_float32_deterministic_and_read_grey_as_mnist():
    network = load_feature("mnist-classifier")
    grey = random_uint8(6, channels=1, seed=1)
    features = network(grey.expand(-1, 3, -1, -1))
    assert features.shape == (6, 128) and features.dtype == torch.float32
    assert torch.isfinite(features).all() and features.abs().sum() > 0
    assert torch.equal(network(grey.expand(-1, 3, -1, -1)), features)  # deterministic
    assert torch.equal(network(grey), features)  # one channel reads as three equal ones
    assert torch.equal(load_feature("mnist-classifier")(grey), features)  # and across loads
    # colour is averaged to grey; other sizes are resized to 28x28
    colour = random_uint8(4, seed=2)
    mean = colour.float().mean(1, keepdim=True).round().to(torch.uint8)
    assert torch.allclose(network(colour), network(mean), atol=0.05)
    assert network(random_uint8(3, size=64, seed=3)).shape == (3, 128)


def test_logits_are_the_head_of_the_features():
    network = load_mnist_classifier()
    images = random_uint8(5, channels=1, seed=4)
    logits = network.logits(images)
    assert logits.shape == (5, 10)
    assert torch.allclose(logits, network.head(network(images)))


def test_a_missing_or_damaged_weights_file_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(GanzooError, match="weights are missing") as missing:
        load_mnist_classifier(tmp_path / "nope.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 10**6) + b"{not json")
    with pytest.raises(GanzooError, match="weights are damaged") as damaged:
        load_mnist_classifier(garbage)
    from ganzoo.hub import save_weights

    other = tmp_path / "other.safetensors"
    save_weights({"w": torch.zeros(3)}, other)
    with pytest.raises(GanzooError, match="damaged.*missing tensor") as wrong:
        load_mnist_classifier(other)
    for error in (missing, damaged, wrong):
        assert "\n" not in str(error.value) and "reinstall ganzoo" in str(error.value)
    # the feature table loads the shipped path, read when it is called
    monkeypatch.setattr(metric_networks, "MNIST_CLASSIFIER_WEIGHTS", tmp_path / "gone")
    with pytest.raises(GanzooError, match="weights are missing"):
        load_feature("mnist-classifier")


# ------------------------------------------------------------------------------- pure metrics
def test_kl_from_uniform_on_hand_made_histograms():
    assert kl_from_uniform([0.1] * 10) == pytest.approx(0.0, abs=1e-15)
    assert kl_from_uniform([1.0] + [0.0] * 9) == pytest.approx(math.log(10), rel=1e-15)
    # half and half over two of four classes: 2 * 0.5 * log(0.5 * 4) = log 2
    assert kl_from_uniform([0.5, 0.0, 0.5, 0.0]) == pytest.approx(math.log(2), rel=1e-15)
    p = [0.2, 0.3, 0.5]
    assert kl_from_uniform(p) == pytest.approx(sum(x * math.log(3 * x) for x in p), rel=1e-14)
    for bad in ([0.5, 0.6], [-0.1, 1.1], [float("nan"), 1.0]):
        with pytest.raises(GanzooError):
            kl_from_uniform(bad)


def test_balance_counts_argmax_classes_and_handles_empty_ones():
    logits = torch.full((4, 10), -5.0)
    logits[:, 3] = 5.0  # every sample is a 3
    result = balance(logits)
    assert result["class_shares"] == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert result["kl_uniform"] == pytest.approx(math.log(10), rel=1e-15)
    eye = torch.eye(10) * 4  # one sample per class
    assert balance(eye) == {"class_shares": [0.1] * 10, "kl_uniform": pytest.approx(0, abs=1e-15)}
    assert class_shares(torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])).tolist() == [
        pytest.approx(1 / 3),
        pytest.approx(2 / 3),
    ]


def test_confidence_is_the_share_of_confident_readings():
    probabilities = torch.tensor([[0.95, 0.05], [0.80, 0.20], [0.02, 0.98], [0.5, 0.5]])
    logits = probabilities.log() + 3.0  # softmax is shift-invariant
    assert confidence(logits) == pytest.approx(0.5)  # 0.95 and 0.98 reach 0.9
    assert confidence(logits, threshold=0.96) == pytest.approx(0.25)
    assert confidence(logits, threshold=0.5) == pytest.approx(1.0)
    assert confidence(logits, threshold=0.99) == 0.0
    for threshold in (0.0, 1.5, -1):
        with pytest.raises(GanzooError, match="threshold"):
            confidence(logits, threshold)
    with pytest.raises(GanzooError, match="logits must be"):
        confidence(torch.zeros(3))


def test_eval_metric_names_split_into_fid_kid_and_readings():
    assert parse_eval_metrics("fid,confidence,balance") == (["fid"], ["confidence", "balance"])
    assert parse_eval_metrics(["balance", "kid", "balance"]) == (["kid"], ["balance"])
    with pytest.raises(GanzooError, match="did you mean 'confidence'"):
        parse_eval_metrics("confidance")


# ------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def sgan():
    torch.manual_seed(0)
    return create_model("sgan").eval()


def test_mnist_classifier_fid_and_readings_match_a_float64_reference(sgan):
    real = dataset(random_uint8(40, channels=1, seed=5), "real")
    held = dataset(random_uint8(30, channels=1, seed=6), "held")
    result = sample_metrics(
        sgan,
        real,
        25,
        metrics="fid,confidence,balance",
        feature="mnist-classifier",
        seed=3,
        floor_data=held,
        floor_split="test",
        split="train",
        use_cache=False,
    )
    network = load_mnist_classifier()
    with torch.no_grad():
        images = torch.cat(list(generated_images(sgan, 25, 3)))
        fake, real_features = network(images), network(real.images)
        logits = network.logits(images)
    assert result["fid"] > 0.01
    assert result["fid"] == pytest.approx(numpy_fid(real_features, fake), rel=1e-6)
    floor = numpy_fid(real_features, network(held.images[torch.arange(30)]))
    assert result["floor"]["fid"] != result["fid"]
    assert result["floor"]["protocol"]["other"]["n"] == 25  # as many as generated
    assert result["floor"]["protocol"]["other"]["split"] == "test"
    assert result["floor"]["protocol"]["feature"] == "mnist-classifier"
    assert split_floor(real, held, use_cache=False)["fid"] == pytest.approx(floor, rel=1e-6)
    top = logits.double().softmax(1).max(1).values
    assert result["confidence"] == pytest.approx(float((top >= 0.9).double().mean()))
    counts = torch.bincount(logits.argmax(1), minlength=10).double() / 25
    assert result["class_shares"] == pytest.approx(counts.tolist())
    assert sum(result["class_shares"]) == pytest.approx(1.0)
    protocol = result["protocol"]
    assert protocol["feature"] == "mnist-classifier" and protocol["real"]["split"] == "train"
    assert protocol["generated"] == {"n": 25, "seed": 3, "sample_batch": 500}
    assert protocol["reading"]["classifier"] == "mnist-classifier"
    assert protocol["reading"]["threshold"] == 0.9
    assert protocol["reading"]["classifier_test_accuracy"] >= 0.993


def test_readings_need_a_1x28x28_generator():
    torch.manual_seed(0)
    dcgan = create_model("dcgan", preset="small")
    with pytest.raises(GanzooError, match="1x28x28.*sgan-mnist-100.*3x64x64.*fid and kid"):
        check_digit_generator(dcgan, "my-dcgan")
    with pytest.raises(GanzooError, match="1x28x28"):
        read_samples(dcgan, 4)
    with pytest.raises(GanzooError, match="cannot sample"):
        check_digit_generator(create_model("cnn"))


@pytest.fixture
def sgan_folder(tmp_path, sgan):
    folder = tmp_path / "sgan"
    sgan.save_pretrained(folder)
    return folder


def write_mnist(root, n_train=30, n_test=20):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, shape in (("images", (n, 28, 28)), ("labels", (n,))):
            array = rng.integers(0, 10 if kind == "labels" else 256, shape, dtype=np.uint8)
            header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            (raw / f"{prefix}-{kind}-idx{array.ndim}-ubyte").write_bytes(header + array.tobytes())
    return root


def test_cli_eval_reads_digits_and_gives_the_floor(sgan_folder, tmp_path):
    root = write_mnist(tmp_path / "data")
    args = ["eval", str(sgan_folder), "--metric", "fid,confidence", "-m", "balance"]
    args += ["--feature", "mnist-classifier", "-n", "12", "--data-root", str(root)]
    args += ["--cache-dir", str(tmp_path / "cache")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["fid"] > 0 and 0 <= report["confidence"] <= 1
    assert len(report["class_shares"]) == 10 and report["kl_uniform"] >= 0
    assert report["protocol"]["real"] == {
        "dataset": "mnist",
        "split": "train",
        "n": 30,
        "of": 30,
        "sha256": report["protocol"]["real"]["sha256"],
    }
    floor = report["floor"]["protocol"]
    assert floor["other"]["split"] == "test" and floor["other"]["n"] == 12
    assert floor["other"]["of"] == 20 and report["floor"]["fid"] > 0
    assert "reading 12 generated images with mnist-classifier" in result.stderr
    # inception-tf's default is not changed, and no floor without mnist-classifier features
    only = runner.invoke(app, ["eval", str(sgan_folder), "-m", "confidence", "-n", "7"])
    assert only.exit_code == 0, only.output
    report = json.loads(only.stdout)
    assert set(report) == {"model", "confidence", "protocol"}
    assert report["protocol"]["generated"]["n"] == 7


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-m", "confidence"], "1x28x28 images, e.g. sgan-mnist-100"),
        (["-m", "balance", "--feature", "mnist-classifier"], "--feature chooses the network"),
        (["-m", "confidnce"], "did you mean 'confidence'"),
        (["-m", "fid", "--threshold", "0.5"], "--threshold applies to --metric confidence"),
        (["--threshold", "0.5"], "add --metric fid, kid, confidence or balance"),
    ],
)
def test_cli_eval_reading_errors_are_one_line(tmp_path, args, fragment):
    torch.manual_seed(0)
    folder = tmp_path / "dcgan"
    create_model("dcgan", preset="small").save_pretrained(folder)
    result = runner.invoke(app, ["eval", str(folder), *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines


def test_cli_eval_names_a_bad_threshold_and_missing_weights(sgan_folder, tmp_path, monkeypatch):
    result = runner.invoke(app, ["eval", str(sgan_folder), "-m", "confidence", "--threshold", "2"])
    assert result.exit_code == 1 and "threshold must be in (0, 1]" in result.stderr
    monkeypatch.setattr(metric_networks, "MNIST_CLASSIFIER_WEIGHTS", tmp_path / "gone")
    result = runner.invoke(app, ["eval", str(sgan_folder), "-m", "confidence", "-n", "4"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "weights are missing" in lines[0]
