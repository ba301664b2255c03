from __future__ import annotations

import ast
import gzip
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import ganzoo.data as data
import ganzoo.data.sources as sources
from ganzoo.data import (
    DeviceBatcher,
    ImageDataset,
    default_root,
    iterate_batches,
    labeled_subset,
    load_dataset,
    read_idx,
    to_unit_range,
)
from ganzoo.errors import GanzooError
from ganzoo.io.images import to_uint8

# --------------------------------------------------------------------------------------
# helpers


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    """Write a uint8 array in IDX format (magic 0x0000 08 ndim, big-endian dims)."""
    assert arr.dtype == np.uint8
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = header + arr.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def make_mnist(raw: Path, n_train: int = 12, n_test: int = 7, gz: bool = False, seed: int = 0):
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x, gz=gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y, gz=gz)
        out[prefix] = (x, y)
    return out


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# --------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_round_trip(tmp_path, gz):
    ref = make_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = load_dataset("mnist", split, root=tmp_path)
        x, y = ref[prefix]
        assert ds.images.dtype == torch.uint8 and ds.images.shape == (len(x), 1, 28, 28)
        assert np.array_equal(ds.images[:, 0].numpy(), x)
        assert ds.labels is not None and ds.labels.dtype == torch.int64
        assert np.array_equal(ds.labels.numpy(), y.astype(np.int64))
        assert ds.num_classes == 10 and ds.channels == 1 and ds.image_size == 28
        assert len(ds) == len(x)
    both = load_dataset("mnist", "all", root=tmp_path)
    assert len(both) == 12 + 7
    assert np.array_equal(both.images[12:, 0].numpy(), ref["t10k"][0])


def test_read_idx_rejects_bad_magic(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04" + bytes(10))
    with pytest.raises(GanzooError, match="not an IDX file") as exc:
        read_idx(bad)
    one_line(exc)
    truncated = write_idx(tmp_path / "t", np.zeros((3, 4, 4), np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:-5])
    with pytest.raises(GanzooError, match="truncated"):
        read_idx(truncated)


def test_fashion_mnist_torchvision_layout_and_debian_fallback(tmp_path, monkeypatch):
    ref = make_mnist(tmp_path / "root" / "FashionMNIST" / "raw", seed=1)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "missing")
    ds = load_dataset("fashion-mnist", "train", root=tmp_path / "root")
    assert np.array_equal(ds.images[:, 0].numpy(), ref["train"][0])
    assert ds.classes is not None and ds.classes[0] == "T-shirt/top"

    debian = tmp_path / "debian"
    ref2 = make_mnist(debian, n_test=5, gz=True, seed=2)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", debian)
    ds = load_dataset("fashion_mnist", "test", root=tmp_path / "empty")
    assert np.array_equal(ds.images[:, 0].numpy(), ref2["t10k"][0])


def test_mnist_missing_is_one_line_with_path(tmp_path):
    with pytest.raises(GanzooError) as exc:
        load_dataset("mnist", root=tmp_path)
    msg = one_line(exc)
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "train-images-idx3-ubyte" in msg and "download=True" in msg and "GANZOO_DATA" in msg


def test_mnist_missing_labels_names_labels_file(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(GanzooError, match="train-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path)


def test_mnist_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((root, download))
            make_mnist(Path(root) / "MNIST" / "raw", n_train=3, n_test=2)

    fake_tv = types.ModuleType("torchvision")
    fake_ds = types.ModuleType("torchvision.datasets")
    fake_ds.MNIST = FakeMNIST
    fake_tv.datasets = fake_ds
    monkeypatch.setitem(sys.modules, "torchvision", fake_tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake_ds)
    ds = load_dataset("mnist", "test", root=tmp_path, download=True)
    assert len(ds) == 2 and calls == [(str(tmp_path), True)]
    load_dataset("mnist", "train", root=tmp_path, download=True)
    assert len(calls) == 1  # files present: no second download


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    class Offline:
        def __init__(self, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried mirrors")

    fake_tv = types.ModuleType("torchvision")
    fake_ds = types.ModuleType("torchvision.datasets")
    fake_ds.MNIST = Offline
    fake_tv.datasets = fake_ds
    monkeypatch.setitem(sys.modules, "torchvision", fake_tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake_ds)
    with pytest.raises(GanzooError, match="could not download MNIST") as exc:
        load_dataset("mnist", root=tmp_path, download=True)
    assert str(tmp_path) in one_line(exc)


def test_module_import_is_light():
    """torchvision and PIL are imported lazily, inside the functions that need them."""
    top_level = set()
    modules = sorted(Path(data.__file__).parent.glob("*.py"))
    assert len(modules) >= 5  # the package, not one file
    for module in modules:
        tree = ast.parse(module.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                top_level.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                top_level.add(node.module.split(".")[0])
    assert "torch" in top_level and "numpy" in top_level
    assert not top_level & {"torchvision", "PIL"}


# --------------------------------------------------------------------------------------
# CIFAR-10


def test_cifar10_pickle_batches(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(0)
    ref = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=4).tolist()
        with (d / name).open("wb") as f:
            pickle.dump({b"data": x, b"labels": y, b"batch_label": name.encode()}, f)
        ref[name] = (x, y)
    train = load_dataset("cifar10", "train", root=tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and train.num_classes == 10
    x1, y1 = ref["data_batch_1"]
    assert np.array_equal(train.images[:4].reshape(4, -1).numpy(), x1)
    assert train.labels[:4].tolist() == y1
    # channel 0 of the pickle row is the first 1024 bytes (red plane)
    assert np.array_equal(train.images[0, 0].reshape(-1).numpy(), x1[0, :1024])
    assert train.labels[16:].tolist() == ref["data_batch_5"][1]
    test = load_dataset("cifar-10", "test", root=tmp_path)
    assert len(test) == 4 and test.labels.tolist() == ref["test_batch"][1]
    assert len(load_dataset("cifar10", "all", root=tmp_path)) == 24


def test_cifar10_npz_layout(tmp_path):
    d = tmp_path / "cifar10"
    d.mkdir()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    y = np.arange(5, dtype=np.uint8)
    np.savez(d / "test.npz", x=x, y=y)
    ds = load_dataset("cifar10", "test", root=tmp_path)
    assert ds.images.shape == (5, 3, 32, 32)
    assert np.array_equal(ds.images.numpy(), x.transpose(0, 3, 1, 2))
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(GanzooError) as exc:  # train split missing
        load_dataset("cifar10", "train", root=tmp_path)
    msg = one_line(exc)
    assert str(tmp_path / "cifar-10-batches-py") in msg and str(d) in msg


def test_image_size_resizes_non_folder_sets(tmp_path):
    d = tmp_path / "cifar10"
    d.mkdir()
    x = np.full((2, 32, 32, 3), 200, dtype=np.uint8)
    np.savez(d / "test.npz", x=x, y=np.zeros(2, np.uint8))
    same = load_dataset("cifar10", "test", root=tmp_path, image_size=32)
    assert np.array_equal(same.images.numpy(), x.transpose(0, 3, 1, 2))
    small = load_dataset("cifar10", "test", root=tmp_path, image_size=16)
    assert small.images.shape == (2, 3, 16, 16) and small.images.dtype == torch.uint8
    assert torch.all(small.images == 200)  # a flat image stays flat


# --------------------------------------------------------------------------------------
# art64 and npz:


def test_art64(tmp_path):
    d = tmp_path / "abstract-art"
    d.mkdir()
    x = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    np.savez(d / "images64.npz", x=x, idx=np.arange(3))
    ds = load_dataset("art64", root=tmp_path)
    assert ds.images.shape == (3, 3, 64, 64) and ds.labels is None and ds.num_classes is None
    assert np.array_equal(ds.images.permute(0, 2, 3, 1).numpy(), x)
    assert len(load_dataset("art64", "all", root=tmp_path)) == 3
    with pytest.raises(GanzooError, match="valid splits: train, all"):
        load_dataset("art64", "test", root=tmp_path)


def test_art64_missing_says_where_to_put_it(tmp_path):
    with pytest.raises(GanzooError) as exc:
        load_dataset("art64", root=tmp_path)
    msg = one_line(exc)
    assert str(tmp_path / "abstract-art" / "images64.npz") in msg
    assert "cannot be downloaded" in msg
    # where the set comes from, and how to train on downloaded pictures instead
    assert "'Abstract Art Gallery' data set on Kaggle" in msg
    assert "--dataset folder:<dir>" in msg


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((4, 10, 12), "nhw"),
        ((4, 10, 10, 3), "nhwc"),
        ((4, 8, 8, 1), "nhwc"),
        ((4, 3, 10, 10), "nchw"),
        ((4, 1, 9, 9), "nchw"),
        ((4, 3, 8, 3), "nchw"),  # ambiguous: dim1 in {1, 3} means channels-first
    ],
)
def test_npz_layouts(tmp_path, shape, layout):
    x = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, x=x)
    ds = load_dataset(f"npz:{path}")
    expected = {
        "nhw": x[:, None],
        "nhwc": x.transpose(0, 3, 1, 2) if x.ndim == 4 else None,
        "nchw": x,
    }[layout]
    assert ds.images.shape == expected.shape
    assert np.array_equal(ds.images.numpy(), expected)
    assert ds.labels is None and ds.num_classes is None


def test_npz_labels_and_errors(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 8, 8, 3), np.uint8), y=np.array([0, 4, 2]))
    ds = load_dataset(f"npz:{path}")
    assert ds.labels.tolist() == [0, 4, 2] and ds.num_classes == 5
    assert ds.name == f"npz:{path}"
    np.savez(tmp_path / "f.npz", x=np.zeros((3, 8, 8), np.float32))
    with pytest.raises(GanzooError, match="uint8"):
        load_dataset(f"npz:{tmp_path / 'f.npz'}")
    with pytest.raises(GanzooError) as exc:
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")
    assert str(tmp_path / "nope.npz") in one_line(exc)


# --------------------------------------------------------------------------------------
# folder:


def test_folder_image_folder_style(tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    # 40x20 landscape: left quarter red, centre half green, right quarter blue
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :10, 0] = 255
    wide[:, 10:30, 1] = 255
    wide[:, 30:, 2] = 255
    Image.fromarray(wide).save(root / "cats" / "a.png")
    Image.fromarray(np.full((30, 30, 3), 77, np.uint8)).save(root / "cats" / "b.png")
    Image.fromarray(np.full((16, 16), 9, np.uint8), mode="L").save(root / "dogs" / "c.png")

    ds = load_dataset(f"folder:{root}", image_size=8)
    assert ds.images.shape == (3, 3, 8, 8) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist() == [0, 0, 1] and ds.num_classes == 2
    assert ds.classes == ("cats", "dogs")
    # the center crop keeps only the green middle of the wide image
    a = ds.images[0].int()
    assert torch.all(a[1] >= 250) and torch.all(a[0] <= 5) and torch.all(a[2] <= 5)
    assert torch.all(ds.images[1] == 77)
    assert torch.all(ds.images[2] == 9)  # grayscale converted to RGB
    assert load_dataset(f"folder:{root}").image_size == 64  # default size


def test_folder_flat_grayscale_unlabeled(tmp_path):
    from PIL import Image

    (tmp_path / "sub").mkdir()
    Image.fromarray(np.full((10, 10), 50, np.uint8), mode="L").save(tmp_path / "x.png")
    Image.fromarray(np.full((12, 10), 60, np.uint8), mode="L").save(tmp_path / "sub" / "y.bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = load_dataset(f"folder:{tmp_path}", image_size=10)
    assert ds.images.shape == (2, 1, 10, 10)  # all grayscale -> one channel
    assert ds.labels is None and ds.num_classes is None
    assert ds.images[0].unique().tolist() == [60]  # sorted: "sub/y.bmp" < "x.png"
    assert ds.images[1].unique().tolist() == [50]


def test_folder_missing_or_empty(tmp_path):
    with pytest.raises(GanzooError) as exc:
        load_dataset(f"folder:{tmp_path / 'nope'}")
    assert str(tmp_path / "nope") in one_line(exc)
    with pytest.raises(GanzooError, match="png"):
        load_dataset(f"folder:{tmp_path}")


def _pil_luma(r: int, g: int, b: int) -> int:
    """Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point."""
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16


def _flat_rgb_folder(root: Path, colours, size=(40, 30)) -> Path:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for i, colour in enumerate(colours):
        arr = np.zeros((size[1], size[0], 3), np.uint8)
        arr[:] = colour
        Image.fromarray(arr).save(root / f"{i}.png")
    return root


@pytest.mark.parametrize("size", [28, 8, 64])
def test_folder_is_resized_to_image_size(tmp_path, size):
    """A folder feeds a model of any image size: every image comes out size x size."""
    root = _flat_rgb_folder(tmp_path / "imgs", [(10, 20, 30), (200, 100, 50)])
    ds = load_dataset(f"folder:{root}", image_size=size)
    assert ds.images.shape == (2, 3, size, size)
    assert torch.all(ds.images[1, 0] == 200) and torch.all(ds.images[1, 2] == 50)


def test_folder_rgb_to_one_channel(tmp_path):
    """A folder of RGB images can feed a 1-channel model: channels=1 gives luma."""
    colours = [(10, 20, 30), (200, 100, 50), (255, 255, 255)]
    root = _flat_rgb_folder(tmp_path / "imgs", colours)
    ds = load_dataset(f"folder:{root}", image_size=28, channels=1)
    assert ds.images.shape == (3, 1, 28, 28) and ds.channels == 1
    for i, colour in enumerate(colours):
        assert ds.images[i].unique().tolist() == [_pil_luma(*colour)]
    # an .npz of the same pictures converts to the same pixels
    x = np.stack([np.full((28, 28, 3), c, np.uint8) for c in colours])
    np.savez(tmp_path / "same.npz", x=x)
    same = load_dataset(f"npz:{tmp_path / 'same.npz'}", channels=1)
    assert torch.equal(same.images, ds.images)


def test_gray_to_three_channels(tmp_path):
    from PIL import Image

    root = tmp_path / "gray"
    root.mkdir()
    Image.fromarray(np.full((12, 12), 90, np.uint8), mode="L").save(root / "a.png")
    assert load_dataset(f"folder:{root}", image_size=12).channels == 1  # auto: stays gray
    ds = load_dataset(f"folder:{root}", image_size=12, channels=3)
    assert ds.images.shape == (1, 3, 12, 12) and torch.all(ds.images == 90)
    ref = make_mnist(tmp_path / "MNIST" / "raw", n_test=3)
    mnist = load_dataset("mnist", "test", root=tmp_path, channels=3, image_size=32)
    assert mnist.images.shape == (3, 3, 32, 32)
    assert torch.equal(mnist.images[:, 0], mnist.images[:, 2])
    plain = load_dataset("mnist", "test", root=tmp_path, channels=1)
    assert np.array_equal(plain.images[:, 0].numpy(), ref["t10k"][0])  # already 1: untouched


def test_npz_alpha_is_dropped_for_three_channels(tmp_path):
    x = np.zeros((2, 8, 8, 4), np.uint8)
    x[..., :3] = (1, 2, 3)
    x[..., 3] = 255
    np.savez(tmp_path / "rgba.npz", x=x)
    ds = load_dataset(f"npz:{tmp_path / 'rgba.npz'}", channels=3)
    assert ds.images.shape == (2, 3, 8, 8) and ds.images[:, :, 0, 0].tolist() == [[1, 2, 3]] * 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": 2}, "channels must be 1"),
        ({"channels": True}, "channels must be 1"),
        ({"image_size": 0}, "image_size must be a positive integer"),
        ({"image_size": 2.5}, "image_size must be a positive integer"),
    ],
)
def test_bad_image_size_or_channels_is_one_line(tmp_path, kwargs, match):
    root = _flat_rgb_folder(tmp_path / "imgs", [(1, 2, 3)])
    with pytest.raises(GanzooError, match=match) as exc:
        load_dataset(f"folder:{root}", **kwargs)
    one_line(exc)


def test_a_new_source_is_one_table_entry(monkeypatch):
    """Sources are a table: one loader and one entry make a name (with aliases) loadable."""

    def load_toy(req: sources.Request) -> ImageDataset:
        images = torch.full((3, 1, 4, 4), 7, dtype=torch.uint8)
        return ImageDataset(images, torch.tensor([0, 1, 0]), "toy", 2)

    monkeypatch.setitem(
        sources.SOURCES, "toy", sources.Source(load_toy, ("train",), aliases=("toy-set",))
    )
    ds = load_dataset("Toy-Set", image_size=8)
    assert ds.name == "toy" and ds.images.shape == (3, 1, 8, 8)
    with pytest.raises(GanzooError, match="did you mean 'toy'"):
        load_dataset("tyo")
    with pytest.raises(GanzooError, match="valid splits: train$"):
        load_dataset("toy", "test")


def test_form_without_path_says_how():
    for name in ("npz", "npz:", "FOLDER:"):
        with pytest.raises(GanzooError, match=r"needs a path, e\.g\.") as exc:
            load_dataset(name)
        one_line(exc)


# --------------------------------------------------------------------------------------
# names, splits, roots


def test_unknown_name_did_you_mean():
    with pytest.raises(GanzooError) as exc:
        load_dataset("mnsit")
    msg = one_line(exc)
    assert "did you mean 'mnist'" in msg
    assert "npz:<file>" in msg and "folder:<dir>" in msg and "cifar10" in msg


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_bad_split(tmp_path, name):
    with pytest.raises(GanzooError) as exc:
        load_dataset(name, "valid", root=tmp_path)
    msg = one_line(exc)
    assert "'valid'" in msg and "train, test, all" in msg


def test_default_root_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("GANZOO_DATA", raising=False)
    assert default_root() == Path.home() / ".cache" / "ganzoo" / "data"
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path))
    assert default_root() == tmp_path
    assert default_root(tmp_path / "explicit") == tmp_path / "explicit"
    ref = make_mnist(tmp_path / "MNIST" / "raw", n_test=3)
    ds = load_dataset("mnist", "test")  # found through GANZOO_DATA
    assert np.array_equal(ds.images[:, 0].numpy(), ref["t10k"][0])


# --------------------------------------------------------------------------------------
# ImageDataset


def test_image_dataset_subset_and_to():
    images = torch.arange(5 * 1 * 2 * 2, dtype=torch.uint8).reshape(5, 1, 2, 2)
    ds = ImageDataset(images, torch.tensor([0, 1, 0, 1, 2]), "toy", 3)
    sub = ds.subset(torch.tensor([4, 0]))
    assert len(sub) == 2 and sub.labels.tolist() == [2, 0]
    assert torch.equal(sub.images[0], images[4]) and sub.num_classes == 3
    assert sub.subset([1]).labels.tolist() == [0]
    moved = ds.to("cpu")
    assert moved is not ds and torch.equal(moved.images, ds.images)
    assert "n=5" in repr(ds)
    with pytest.raises(ValueError):
        ImageDataset(images.float(), None, "bad", None)


# --------------------------------------------------------------------------------------
# labeled_subset


def toy_labels(per_class: int = 20, k: int = 10, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.arange(k).repeat_interleave(per_class)[torch.randperm(per_class * k, generator=g)]


def test_labeled_subset_balanced():
    labels = toy_labels(per_class=150)
    for n in (100, 1000):
        idx = labeled_subset(labels, n)
        assert idx.dtype == torch.int64 and len(idx) == n and len(idx.unique()) == n
        counts = torch.bincount(labels[idx], minlength=10)
        assert counts.tolist() == [n // 10] * 10
    idx = labeled_subset(labels, 25, seed=3)
    counts = torch.bincount(labels[idx], minlength=10)
    assert counts.sum() == 25 and set(counts.tolist()) <= {2, 3} and (counts == 3).sum() == 5


def test_labeled_subset_reproducible_and_seeded():
    labels = toy_labels()
    torch.manual_seed(1)
    a = labeled_subset(labels, 30, seed=7)
    torch.manual_seed(999)
    torch.rand(10)
    b = labeled_subset(labels, 30, seed=7)
    assert torch.equal(a, b)
    assert not torch.equal(a, labeled_subset(labels, 30, seed=8))
    # does not consume the global RNG
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    labeled_subset(labels, 30, seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_labeled_subset_errors():
    labels = toy_labels(per_class=3)
    with pytest.raises(GanzooError, match="n >= 10"):
        labeled_subset(labels, 5)
    with pytest.raises(GanzooError, match="n <= 30"):
        labeled_subset(labels, 31)
    uneven = torch.cat([torch.zeros(10, dtype=torch.long), torch.ones(2, dtype=torch.long)])
    with pytest.raises(GanzooError, match="class 1 has only 2"):
        labeled_subset(uneven, 8)
    with pytest.raises(GanzooError, match="class 2 has only 0"):
        labeled_subset(uneven, 6, num_classes=3)


# --------------------------------------------------------------------------------------
# batching


def test_unit_range_round_trip():
    u = torch.arange(256, dtype=torch.uint8)
    x = to_unit_range(u)
    assert x.dtype == torch.float32 and x.min() == -1 and x.max() == 1
    assert torch.equal(to_uint8(x), u)
    assert to_uint8(torch.tensor([-3.0, 0.0, 3.0])).tolist() == [0, 128, 255]


def toy_dataset(n: int = 50, labeled: bool = True) -> ImageDataset:
    images = torch.arange(n, dtype=torch.uint8).reshape(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    labels = torch.arange(n) % 3 if labeled else None
    return ImageDataset(images, labels, "toy", 3 if labeled else None)


def test_device_batcher_values_and_resume():
    ds = toy_dataset()
    b = DeviceBatcher(ds, 8, "cpu", seed=123)
    x, y = b.next()
    assert x.dtype == torch.float32 and x.shape == (8, 1, 4, 4)
    assert x.min() >= -1 and x.max() <= 1
    assert y.dtype == torch.int64 and y.shape == (8,)
    # labels travel with their images
    idx = to_uint8(x[:, 0, 0, 0]).long()
    assert torch.equal(y, idx % 3)

    # the generator is the batcher's whole state (the trainer checkpoints it): restoring
    # its state into a fresh batcher's generator repeats the batches exactly
    state = b.generator.get_state()
    expected = [b.next() for _ in range(3)]
    gen = torch.Generator().manual_seed(0)
    fresh = DeviceBatcher(ds, 8, "cpu", generator=gen)
    gen.set_state(state)
    for (ex, ey), (gx, gy) in zip(expected, [next(fresh) for _ in range(3)], strict=True):
        assert torch.equal(ex, gx) and torch.equal(ey, gy)
    assert not torch.equal(DeviceBatcher(ds, 8, "cpu", seed=1).next()[0], x)
    assert not hasattr(b, "state_dict")  # one mechanism: the trainer's generator checkpoint


def test_device_batcher_unlabeled_iter():
    b = DeviceBatcher(toy_dataset(labeled=False), 4, "cpu")
    it = iter(b)
    batches = [next(it) for _ in range(3)]
    assert all(y is None and x.shape == (4, 1, 4, 4) for x, y in batches)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_batcher_cuda():
    b = DeviceBatcher(toy_dataset(), 16, "cuda")
    x, y = b.next()
    assert x.is_cuda and y.is_cuda and b.generator.device.type == "cuda"
    state = b.generator.get_state()
    a = b.next()[0]
    b.generator.set_state(state)
    assert torch.equal(a, b.next()[0])


@pytest.mark.parametrize("batch_size", [1, 7, 50, 64])
def test_iterate_batches_covers_all(batch_size):
    ds = toy_dataset(50)
    seen_images, seen_labels, sizes = [], [], []
    for x, y in iterate_batches(ds, batch_size, "cpu"):
        assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
        sizes.append(len(x))
        seen_images.append(to_uint8(x[:, 0, 0, 0]).long())
        seen_labels.append(y)
    seen = torch.cat(seen_images)
    assert seen.tolist() == list(range(50))  # every index exactly once, in order
    assert torch.equal(torch.cat(seen_labels), ds.labels)
    assert all(s == batch_size for s in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
