"""Issue 23, the data a user hands over: each hostile input gets one line, before it costs much."""

from __future__ import annotations

import gzip
import os
import struct
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from cli_checks import invoke, one_line_error
from ganzoo.data import load_dataset, read_idx
from ganzoo.errors import GanzooError


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    return message


def idx_header(*dims: int, ndim: int | None = None) -> bytes:
    """An IDX header for uint8 data of shape ``dims``."""
    return bytes([0, 0, 0x08, ndim or len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def write_mnist(root, images: bytes, labels: np.ndarray, gz: bool = False):
    """``<root>/MNIST/raw`` with the raw image file given and labels ``labels``."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    label_bytes = idx_header(len(labels)) + labels.astype(np.uint8).tobytes()
    for stem, payload in (
        ("train-images-idx3-ubyte", images),
        ("train-labels-idx1-ubyte", label_bytes),
    ):
        path = raw / (stem + ".gz" if gz else stem)
        path.write_bytes(gzip.compress(payload, compresslevel=1) if gz else payload)
    return raw


@pytest.fixture(scope="module")
def vaegan_folder(tmp_path_factory):
    """A VAE-GAN checkpoint (28x28 gray, 10 classes): a model that encodes."""
    from ganzoo import create_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "vaegan"
    create_model("vaegan").save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------- IDX
def test_a_gzip_bomb_idx_is_refused_after_the_size_its_header_claims(tmp_path, monkeypatch):
    """2 images of 28x28 claimed, 50 MB inside: no more than the claim is decompressed."""
    header = idx_header(2, 28, 28)
    raw = write_mnist(tmp_path, header + bytes(2 * 28 * 28 + 50 * 2**20), np.zeros(2), gz=True)
    decompressed = []
    real_open = gzip.open

    class Counting:
        def __init__(self, f):
            self.f = f

        def read(self, size=-1):
            chunk = self.f.read(size)
            decompressed.append(len(chunk))
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(gzip, "open", lambda *a, **k: Counting(real_open(*a, **k)))
    with pytest.raises(GanzooError, match="holds more") as exc:
        read_idx(raw / "train-images-idx3-ubyte.gz")
    assert "(2, 28, 28)" in one_line(exc)
    assert sum(decompressed) <= len(header) + 2 * 28 * 28 + 1
    with pytest.raises(GanzooError, match="delete it"):
        load_dataset("mnist", root=tmp_path)


def test_a_gzip_bomb_idx_through_the_cli_is_one_line(tmp_path, vaegan_folder):
    write_mnist(tmp_path, idx_header(2, 28, 28) + bytes(5 * 2**20), np.zeros(2), gz=True)
    result = invoke(
        "encode", vaegan_folder, "mnist", "--split", "train", "--data-root", tmp_path,
        "--out", tmp_path / "codes.npz",
    )  # fmt: skip
    one_line_error(result, "train-images-idx3-ubyte.gz", "holds more")
    assert not (tmp_path / "codes.npz").exists()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dimensions_whose_product_overflows_int64_are_refused(tmp_path, gz):
    """65536**4 bytes wraps to 0 in int64, which matched an empty payload."""
    write_mnist(tmp_path, idx_header(65536, 65536, 65536, 65536), np.zeros(2), gz=gz)
    with pytest.raises(GanzooError, match=r"\(65536, 65536, 65536, 65536\)") as exc:
        load_dataset("mnist", root=tmp_path)
    assert "bytes of data, more than the" in one_line(exc)


def test_a_truncated_gzip_idx_is_one_line(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(idx_header(3, 4, 4) + bytes(48))[:-12])
    with pytest.raises(GanzooError, match="truncated or corrupt") as exc:
        read_idx(path)
    one_line(exc)


def test_genuine_idx_files_still_read_plain_and_gzipped(tmp_path):
    x = np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4)
    for gz in (False, True):
        raw = write_mnist(tmp_path / str(gz), idx_header(*x.shape) + x.tobytes(), np.arange(3), gz)
        suffix = ".gz" if gz else ""
        assert np.array_equal(read_idx(raw / f"train-images-idx3-ubyte{suffix}"), x)
    plain = tmp_path / "False" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    plain.write_bytes(plain.read_bytes() + b"x")
    with pytest.raises(GanzooError, match="expected 76 bytes, file has 77"):
        read_idx(plain)


# ------------------------------------------------------------------------------- pictures
def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    """144 megapixels in a small PNG: one line naming the limit, no Pillow warning, no decode."""
    from ganzoo.data.pictures import MAX_PICTURE_PIXELS

    path = tmp_path / "huge.png"
    Image.new("1", (12000, 12000)).save(path)
    assert path.stat().st_size < 200_000
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: decoded.append(1) or real_load(self)
    )
    before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(GanzooError) as exc:
            load_dataset(f"image:{path}", image_size=28, channels=1)
    message = one_line(exc)
    assert "12000x12000" in message and f"{MAX_PICTURE_PIXELS:,}" in message
    assert "GANZOO_MAX_PIXELS=144000000" in message
    assert not decoded
    assert before == Image.MAX_IMAGE_PIXELS  # Pillow's own threshold is put back


def test_the_pixel_limit_is_set_by_ganzoo_max_pixels(tmp_path, monkeypatch):
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.new("L", (300, 200), 255).save(folder / "a.png")
    monkeypatch.setenv("GANZOO_MAX_PIXELS", "59999")
    with pytest.raises(GanzooError, match="60,000 pixels"):
        load_dataset(f"folder:{folder}", image_size=8)
    monkeypatch.setenv("GANZOO_MAX_PIXELS", "60000")
    assert load_dataset(f"folder:{folder}", image_size=8).images.shape == (1, 1, 8, 8)
    monkeypatch.setenv("GANZOO_MAX_PIXELS", "lots")
    with pytest.raises(GanzooError, match="GANZOO_MAX_PIXELS='lots' is not a positive") as exc:
        load_dataset(f"folder:{folder}", image_size=8)
    one_line(exc)


def test_a_picture_over_the_limit_through_the_cli_is_one_line(tmp_path, vaegan_folder):
    path = tmp_path / "wide.png"
    Image.new("1", (20000, 5000)).save(path)
    result = invoke("encode", vaegan_folder, path, "--out", tmp_path / "codes.npz")
    one_line_error(result, "20000x5000", "GANZOO_MAX_PIXELS")


def drawing(ink: int) -> np.ndarray:
    """A 28x28 RGBA picture whose colour is ``ink`` everywhere: the bar is in alpha only."""
    pixels = np.full((28, 28, 4), ink, dtype=np.uint8)
    pixels[..., 3] = 0
    pixels[6:22, 12:16, 3] = 255
    return pixels


@pytest.mark.parametrize("ink", [0, 255], ids=["black-ink", "white-ink"])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_drawing_only_in_the_alpha_channel_reads_white_on_black(tmp_path, ink, channels):
    path = tmp_path / "drawn.png"
    Image.fromarray(drawing(ink), "RGBA").save(path)
    images = load_dataset(f"image:{path}", image_size=28, channels=channels).images
    expected = torch.from_numpy(drawing(ink)[..., 3]).expand(channels, 28, 28)
    assert torch.equal(images[0], expected)


def test_transparency_is_laid_onto_black_for_la_and_palette_pictures(tmp_path):
    gray = np.full((28, 28), 200, dtype=np.uint8)
    alpha = np.zeros((28, 28), dtype=np.uint8)
    alpha[:, :14] = 255
    Image.fromarray(np.stack([gray, alpha], -1), "LA").save(tmp_path / "la.png")
    palette = Image.fromarray((alpha > 0).astype(np.uint8), "P")
    palette.putpalette([255, 255, 255, 120, 120, 120] + [0] * 762)
    palette.save(tmp_path / "p.png", transparency=0)  # colour 0 (white) is transparent
    la = load_dataset(f"image:{tmp_path / 'la.png'}", image_size=28, channels=1).images[0, 0]
    assert (la[:, :14] == 200).all() and (la[:, 14:] == 0).all()
    pal = load_dataset(f"image:{tmp_path / 'p.png'}", image_size=28, channels=1).images[0, 0]
    assert (pal[:, :14] == 120).all() and (pal[:, 14:] == 0).all()


def test_an_alpha_only_drawing_encodes_unlike_a_blank_picture(tmp_path, vaegan_folder):
    Image.fromarray(drawing(0), "RGBA").save(tmp_path / "drawn.png")
    Image.new("L", (28, 28), 0).save(tmp_path / "blank.png")
    codes = {}
    for name in ("drawn", "blank"):
        out = tmp_path / f"{name}.npz"
        result = invoke("encode", vaegan_folder, tmp_path / f"{name}.png", "--out", out)
        assert result.exit_code == 0, result.output
        codes[name] = np.load(out)["mu"]
    assert not np.allclose(codes["drawn"], codes["blank"])


# ------------------------------------------------------------------------------- animations, FIFOs
def test_an_animated_gif_is_named_as_such(tmp_path, vaegan_folder):
    frames = [Image.new("L", (28, 28), c) for c in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("L", (28, 28), 255).save(tmp_path / "still.gif")
    for data in (tmp_path / "anim.gif", f"image:{tmp_path / 'anim.gif'}"):
        result = invoke("encode", vaegan_folder, data, "--out", tmp_path / "codes.npz")
        one_line_error(result, "anim.gif is an animated picture (2 frames)", "save the frame")
    with pytest.raises(GanzooError, match="animated picture") as exc:
        load_dataset(f"folder:{tmp_path}", image_size=28)
    one_line(exc)
    still = load_dataset(f"image:{tmp_path / 'still.gif'}", image_size=28, channels=1)
    assert still.images.shape == (1, 1, 28, 28) and (still.images == 255).all()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("name", ["pipe.png", "pipe.npz", "pipe"])
def test_a_fifo_is_named_as_such_and_never_opened(tmp_path, vaegan_folder, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    result = invoke("encode", vaegan_folder, fifo, "--out", tmp_path / "codes.npz")
    one_line_error(result, f"{name} is a FIFO (named pipe)")
    for form in ("image", "npz", "folder"):
        with pytest.raises(GanzooError, match="is a FIFO") as exc:
            load_dataset(f"{form}:{fifo}")
        one_line(exc)


# ------------------------------------------------------------------------------- npz
def test_an_npz_of_images_with_a_side_of_zero_pixels_is_one_line(tmp_path, vaegan_folder):
    for shape in [(3, 0, 28), (3, 28, 0, 1), (3, 1, 28, 0)]:
        np.savez(tmp_path / "zero.npz", x=np.zeros(shape, np.uint8))
        with pytest.raises(GanzooError, match="a side of 0 pixels") as exc:
            load_dataset(f"npz:{tmp_path / 'zero.npz'}")
        one_line(exc)
    result = invoke("encode", vaegan_folder, tmp_path / "zero.npz", "--out", tmp_path / "c.npz")
    one_line_error(result, "zero.npz", "a side of 0 pixels")


def test_encoding_an_empty_npz_is_refused_and_writes_nothing(tmp_path, vaegan_folder):
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 28, 28), np.uint8))
    out = tmp_path / "codes.npz"
    result = invoke("encode", vaegan_folder, tmp_path / "empty.npz", "--out", out)
    one_line_error(result, "empty.npz", "holds no images")
    assert not out.exists()


def test_encode_dataset_refuses_an_empty_data_set(vaegan_folder):
    from ganzoo import from_pretrained
    from ganzoo.data import ImageDataset
    from ganzoo.encoding import encode_dataset

    empty = ImageDataset(torch.zeros(0, 1, 28, 28, dtype=torch.uint8), None, "nothing", None)
    with pytest.raises(GanzooError, match="'nothing' holds no images"):
        encode_dataset(from_pretrained(vaegan_folder, device="cpu"), empty)


# ------------------------------------------------------------------------------- labels
def labeled_npz(path, classes: int, per_class: int = 2):
    rng = np.random.default_rng(0)
    y = np.arange(classes * per_class) % classes
    np.savez(path, x=rng.integers(0, 256, (len(y), 28, 28), dtype=np.uint8), y=y)
    return path


@pytest.mark.parametrize("arch", ["cnn", "sgan", "vaegan"])
def test_labels_outside_the_models_classes_are_refused_before_training(tmp_path, arch):
    npz = labeled_npz(tmp_path / "eleven.npz", 11)
    out = tmp_path / "run"
    result = invoke("train", arch, "--dataset", f"npz:{npz}", "--labels", 22, "--out", out)
    line = one_line_error(result, "labels 0..10 (11 distinct)", "num_classes=10")
    assert "--model-set num_classes=11" in line
    assert not out.exists() or not any(out.iterdir())


def test_the_fix_the_label_error_names_trains(tmp_path):
    npz = labeled_npz(tmp_path / "eleven.npz", 11)
    args = ["train", "cnn", "--dataset", f"npz:{npz}", "--labels", 22, "--steps", 1, "-q"]
    result = invoke(*args, "--model-set", "num_classes=11", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output


def test_idx_labels_outside_the_classes_are_refused(tmp_path):
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200] * 2)
    x = np.zeros((len(labels), 28, 28), np.uint8)
    write_mnist(tmp_path, idx_header(*x.shape) + x.tobytes(), labels)
    args = ["train", "cnn", "--data-root", tmp_path, "--labels", 20, "--out", tmp_path / "run"]
    one_line_error(invoke(*args), "'mnist' has labels 0..200 (11 distinct)", "num_classes=201")


def test_a_folder_of_eleven_classes_is_refused_for_a_ten_class_model(tmp_path):
    for c in range(11):
        (tmp_path / "pics" / f"class{c:02d}").mkdir(parents=True)
        Image.new("L", (28, 28), 20 * c).save(tmp_path / "pics" / f"class{c:02d}" / "a.png")
    args = ["--dataset", f"folder:{tmp_path / 'pics'}", "--labels", 11, "--out", tmp_path / "r"]
    one_line_error(invoke("train", "sgan", *args), "labels 0..10", "--model-set num_classes=11")


def test_negative_labels_are_refused_naming_the_class_indices():
    from ganzoo.archs.sgan.labeled import check_label_range
    from ganzoo.data import ImageDataset

    images = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    signed = ImageDataset(images, torch.tensor([-3, 0]), "signed", None)
    with pytest.raises(
        GanzooError, match=r"negative labels \(down to -3\); use class indices 0..9"
    ):
        check_label_range(signed, 10)
    check_label_range(ImageDataset(images, torch.tensor([0, 9]), "fine", 10), 10)
