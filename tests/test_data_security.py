"""A data root is hostile: reading CIFAR-10's pickled batches must never run code."""

from __future__ import annotations

import builtins
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from ganzoo.data import load_dataset
from ganzoo.errors import GanzooError

BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


class _Exploit:
    """Unpickling this calls ``exec``, which creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


class _SystemExploit:
    """Unpickling this calls ``os.system``, which creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_batches(root: Path, protocol: int, n: int = 3, seed: int = 0) -> dict[str, tuple]:
    """Write CIFAR-10 batches in the real format: dict with uint8 (N, 3072) data, label list."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ref = {}
    for name in [*BATCHES, "test_batch"]:
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).tolist()
        batch = {
            b"batch_label": f"training batch {name}".encode(),
            b"labels": y,
            b"data": x,
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (d / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        ref[name] = (x, y)
    return ref


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_genuine_cifar_batches_still_load(tmp_path, protocol):
    ref = write_batches(tmp_path, protocol)
    train = load_dataset("cifar10", "train", root=tmp_path)
    assert train.images.shape == (15, 3, 32, 32)
    x1, y1 = ref["data_batch_1"]
    assert np.array_equal(train.images[:3].reshape(3, -1).numpy(), x1)
    assert train.labels[:3].tolist() == y1
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert test.labels.tolist() == ref["test_batch"][1]


def py2_batch(x: np.ndarray, labels: list[int]) -> bytes:
    """A batch as the original files are: Python 2 cPickle, protocol 2, written by numpy 1.

    Keys and the raw pixels are Python 2 ``str`` (SHORT_BINSTRING / BINSTRING opcodes,
    which Python 3 never writes) and the array is rebuilt by ``numpy.core.multiarray``.
    """

    def s(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b

    n, width = x.shape
    dtype = (
        b"cnumpy\ndtype\n" + s(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03" + s(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    raw = x.tobytes()
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + s(b"b")
        + b"\x87R(K\x01K" + bytes([n]) + b"M" + struct.pack("<H", width) + b"\x86"
        + dtype + b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"
    )  # fmt: skip
    labels_op = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return (
        b"\x80\x02}(" + s(b"batch_label") + s(b"training batch 1 of 5")
        + s(b"labels") + labels_op + s(b"data") + array + b"u."
    )  # fmt: skip


def test_original_python2_batch_format_loads(tmp_path):
    ref = write_batches(tmp_path, 2)
    x = np.random.default_rng(5).integers(0, 256, size=(3, 3072), dtype=np.uint8)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(py2_batch(x, [3, 1, 4]))
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert np.array_equal(test.images.reshape(3, -1).numpy(), x)
    assert test.labels.tolist() == [3, 1, 4]
    assert len(load_dataset("cifar10", "all", root=tmp_path)) == 18
    assert load_dataset("cifar10", root=tmp_path).labels[:3].tolist() == ref["data_batch_1"][1]


def test_fortran_ordered_array_loads(tmp_path):
    """numpy pickles non-contiguous arrays differently (protocol 5 falls back to _reconstruct)."""
    ref = write_batches(tmp_path, 5)
    x = np.asfortranarray(ref["test_batch"][0])
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({b"data": x, b"labels": ref["test_batch"][1]}, protocol=5))
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert np.array_equal(test.images.reshape(3, -1).numpy(), x)


@pytest.mark.parametrize("exploit", [_Exploit, _SystemExploit])
@pytest.mark.parametrize("protocol", [2, 4])
def test_crafted_batch_does_not_run_code(tmp_path, exploit, protocol):
    write_batches(tmp_path, protocol)
    marker = tmp_path / "pwned"
    evil = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    payload = {b"data": exploit(marker), b"labels": [0]}
    evil.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(Exception) as exc:  # noqa: PT011 - the marker is checked first
        load_dataset("cifar10", "train", root=tmp_path)
    assert not marker.exists(), "unpickling the crafted batch ran code"
    assert isinstance(exc.value, GanzooError)
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(evil) in msg and "cifar10/train.npz" in msg


def test_crafted_batch_through_ganzoo_data_env(tmp_path, monkeypatch):
    """The same file found through $GANZOO_DATA (no root argument) is refused too."""
    write_batches(tmp_path, 2)
    marker = tmp_path / "pwned"
    evil = tmp_path / "cifar-10-batches-py" / "test_batch"
    evil.write_bytes(pickle.dumps(_Exploit(marker), protocol=2))
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path))
    with pytest.raises(Exception) as exc:  # noqa: PT011 - the marker is checked first
        load_dataset("cifar10", "test")
    assert not marker.exists(), "unpickling the crafted batch ran code"
    assert isinstance(exc.value, GanzooError) and "test_batch" in str(exc.value)


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps({b"data": np.zeros((2, 3072), dtype=object), b"labels": [0, 1]}),
        pickle.dumps({b"data": {1, 2}, b"labels": [0]}),  # builtins.set is a global too
        pickle.dumps([1, 2, 3]),  # not a dict
        pickle.dumps({b"labels": [0]}),  # no data
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})[:-9],
        b"not a pickle at all",
    ],
    ids=["object-array", "set", "list", "no-data", "truncated", "garbage"],
)
def test_malformed_batches_are_one_line_errors(tmp_path, payload):
    write_batches(tmp_path, 2)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(payload)
    with pytest.raises(GanzooError) as exc:
        load_dataset("cifar10", "test", root=tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg


def test_numpy_globals_outside_the_allow_list_are_refused(tmp_path):
    """Only the array-rebuilding globals are admitted, not e.g. numpy.load or numpy.fromfile."""
    write_batches(tmp_path, 2)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    # GLOBAL 'numpy load' then call it on a path: would read (and could unpickle) a file
    path.write_bytes(b"\x80\x02cnumpy\nload\nq\x00X\x02\x00\x00\x00/x\x85R.")
    with pytest.raises(GanzooError, match="numpy.load"):
        load_dataset("cifar10", "test", root=tmp_path)
    # _codecs.encode is admitted only for the latin-1 bytes of protocol-2 pickles
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.")
    with pytest.raises(GanzooError, match="latin"):
        load_dataset("cifar10", "test", root=tmp_path)
