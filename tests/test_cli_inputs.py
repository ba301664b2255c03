"""Bad input to `ganzoo sample`, `encode` and `eval`: one line, nothing lost or half-written."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import tiny
from ganzoo.cli import app

runner = CliRunner()
TESTS = Path(__file__).parent


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    text = result.stderr if result.stderr else result.output
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def sample(ckpt, out, *more):
    return invoke("sample", ckpt, "--out", out, "--device", "cpu", "-q", *more)


def listing(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# ------------------------------------------------------------------------------- --out
@pytest.mark.parametrize("out", ["", "   "])
def test_sample_refuses_an_empty_out_instead_of_writing_into_the_current_folder(
    tiny_checkpoint, tmp_path, monkeypatch, out
):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert_one_line_error(sample(tiny_checkpoint, out, "-n", 3), "--out is empty", ".npy")
    assert listing(here) == []


@pytest.mark.parametrize("name", ["a.gif", "a.tiff", "a.TXT"])
def test_sample_refuses_unsupported_suffixes_naming_the_supported_ones(
    tiny_checkpoint, tmp_path, name
):
    line = assert_one_line_error(sample(tiny_checkpoint, tmp_path / name, "-n", 3))
    assert all(s in line for s in (".png", ".jpg", ".npy", ".npz", "folder"))
    assert not (tmp_path / name).exists()


def test_npz_output_is_the_npy_array_under_x_and_reads_back_as_data(tiny_checkpoint, tmp_path):
    from ganzoo.data import load_dataset

    for name in ("a.npy", "a.npz"):
        result = sample(tiny_checkpoint, tmp_path / name, "-n", 5, "--seed", 3, "-b", 2)
        assert result.exit_code == 0, result.output
    array = np.load(tmp_path / "a.npy")
    with np.load(tmp_path / "a.npz") as npz:
        assert npz.files == ["x"]
        assert npz["x"].dtype == np.uint8 and np.array_equal(npz["x"], array)
    data = load_dataset(f"npz:{tmp_path / 'a.npz'}", "all")
    assert torch.equal(data.images, torch.from_numpy(array).permute(0, 3, 1, 2))


def test_streamed_outputs_hold_the_same_images(tiny_checkpoint, tmp_path):
    from PIL import Image

    for out in ("a.npy", "pngs"):
        assert sample(tiny_checkpoint, tmp_path / out, "-n", 7, "--seed", 1, "-b", 3).exit_code == 0
    array = np.load(tmp_path / "a.npy")
    pngs = [np.asarray(Image.open(tmp_path / "pngs" / f"{i:06d}.png")) for i in range(7)]
    assert listing(tmp_path / "pngs") == [f"{i:06d}.png" for i in range(7)]
    assert np.array_equal(np.stack(pngs)[..., None], array)


# ------------------------------------------------------------------------------- overwriting
def test_sample_never_writes_into_a_folder_that_is_not_empty_without_overwrite(
    tiny_checkpoint, tmp_path
):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "000000.png").write_bytes(b"my own picture")
    (folder / "notes.txt").write_text("keep me")
    assert_one_line_error(sample(tiny_checkpoint, folder, "-n", 3), "not empty", "--overwrite")
    assert (folder / "000000.png").read_bytes() == b"my own picture"
    assert listing(folder) == ["000000.png", "notes.txt"]

    assert sample(tiny_checkpoint, folder, "-n", 3, "--overwrite").exit_code == 0
    assert listing(folder) == ["000000.png", "000001.png", "000002.png", "notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"
    assert (folder / "000000.png").read_bytes().startswith(b"\x89PNG")


def test_sample_writes_into_an_existing_empty_folder(tiny_checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    assert sample(tiny_checkpoint, tmp_path / "empty", "-n", 2).exit_code == 0
    assert listing(tmp_path / "empty") == ["000000.png", "000001.png"]


@pytest.mark.parametrize("name", ["grid.png", "images.npy", "images.npz"])
def test_sample_never_replaces_an_existing_file_without_overwrite(tiny_checkpoint, tmp_path, name):
    out = tmp_path / name
    out.write_bytes(b"precious")
    assert_one_line_error(sample(tiny_checkpoint, out, "-n", 3), "already exists", "--overwrite")
    assert out.read_bytes() == b"precious"
    assert sample(tiny_checkpoint, out, "-n", 3, "--overwrite").exit_code == 0
    assert out.read_bytes() != b"precious"
    assert listing(tmp_path) == ["ckpt", name]  # no temporary file left beside it


def test_sample_refuses_a_file_where_a_folder_goes_and_back(tiny_checkpoint, tmp_path):
    (tmp_path / "plain").write_text("x")
    (tmp_path / "dir.png").mkdir()
    assert_one_line_error(sample(tiny_checkpoint, tmp_path / "plain", "--overwrite"), "is a file")
    assert_one_line_error(sample(tiny_checkpoint, tmp_path / "dir.png", "--overwrite"), "folder")


@pytest.mark.parametrize("name", ["grid.png", "pngs"])
def test_a_failed_write_leaves_no_partial_output(tiny_checkpoint, tmp_path, monkeypatch, name):
    from PIL import Image

    real_save = Image.Image.save
    calls = []

    def failing_save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) < 3 and name == "pngs":
            return real_save(self, fp, *args, **kwargs)
        target = fp if hasattr(fp, "write") else open(fp, "wb")  # noqa: SIM115
        target.write(b"\x89PNG half")
        target.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    result = sample(tiny_checkpoint, tmp_path / name, "-n", 5)
    assert listing(tmp_path) == ["ckpt"]
    line = assert_one_line_error(result)
    assert "no space left" in line and "free some space" in line


# ------------------------------------------------------------------------------- sizes and memory
def record_batch_sizes(monkeypatch):
    sizes = []
    real = tiny.TinyGAN.sample

    def sample_and_record(self, n, seed=None, device=None):
        sizes.append(n)
        return real(self, n, seed=seed, device=device)

    monkeypatch.setattr(tiny.TinyGAN, "sample", sample_and_record)
    return sizes


def test_batch_size_is_capped_per_forward_pass(tiny_checkpoint, tmp_path, monkeypatch):
    sizes = record_batch_sizes(monkeypatch)
    out = tmp_path / "x.npy"
    result = invoke("sample", tiny_checkpoint, "-n", 3000, "-b", 10_000_000, "--out", out)
    assert result.exit_code == 0, result.output
    assert "1024 images per forward pass" in result.stderr
    assert max(sizes) <= 1024 and sum(sizes) == 3000
    assert np.load(out).shape == (3000, 8, 8, 1)


def test_a_grid_too_large_is_refused_naming_the_fix(tiny_checkpoint, tmp_path, monkeypatch):
    sizes = record_batch_sizes(monkeypatch)
    line = assert_one_line_error(sample(tiny_checkpoint, tmp_path / "g.png", "-n", 5000))
    assert "too large" in line and "fewer (-n)" in line and "folder" in line
    assert listing(tmp_path) == ["ckpt"] and sum(sizes) <= 1024  # stopped after one batch


def test_an_array_too_large_is_refused_before_writing(tiny_checkpoint, tmp_path, monkeypatch):
    import ganzoo.io.images

    monkeypatch.setattr(ganzoo.io.images, "MAX_ARRAY_BYTES", 1000)
    line = assert_one_line_error(sample(tiny_checkpoint, tmp_path / "a.npz", "-n", 100))
    assert "fewer (-n)" in line and "folder of PNGs" in line
    monkeypatch.setattr(ganzoo.io.images, "MAX_ARRAY_BYTES", 10**9)
    monkeypatch.setattr(ganzoo.io.images, "_free_bytes", lambda folder: 100)
    assert_one_line_error(sample(tiny_checkpoint, tmp_path / "a.npy", "-n", 100), "is free")
    assert listing(tmp_path) == ["ckpt"]


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"
        ),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        MemoryError(),
    ],
    ids=["cpu", "cuda", "python"],
)
def test_out_of_memory_says_to_lower_the_batch_size(tiny_checkpoint, tmp_path, monkeypatch, error):
    def exhausted(self, n, seed=None, device=None):
        raise error

    monkeypatch.setattr(tiny.TinyGAN, "sample", exhausted)
    assert_one_line_error(
        sample(tiny_checkpoint, tmp_path / "x.npy", "-b", 512), "out of memory", "-b 256"
    )
    assert listing(tmp_path) == ["ckpt"]


_RLIMIT_SCRIPT = """
import json, resource, sys
sys.path.insert(0, {tests!r})
import numpy as np
import tiny
from typer.testing import CliRunner
from ganzoo.cli import app
from ganzoo.encoding import save_codes
from ganzoo.errors import GanzooError

limit = {limit}
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
report = {{}}
for name in ("big.npy", "big.npz", "big.png"):
    args = ["sample", {ckpt!r}, "-n", "4000", "--seed", "0", "--out", {tmp!r} + "/" + name]
    result = CliRunner().invoke(app, args + ["-q", "--device", "cpu"])
    report[name] = [result.exit_code, result.stderr, repr(result.exception)]
try:
    save_codes({{"codes": np.zeros((4000, 64), np.float32)}}, {tmp!r} + "/codes.npz")
    report["codes.npz"] = [0, "", ""]
except GanzooError as exc:
    report["codes.npz"] = [1, "error: " + str(exc), ""]
print(json.dumps(report))
"""


def test_a_file_size_limit_gives_one_line_and_no_partial_file(tiny_checkpoint, tmp_path):
    resource = pytest.importorskip("resource")
    del resource
    out = tmp_path / "out"
    out.mkdir()
    script = _RLIMIT_SCRIPT.format(
        tests=str(TESTS), ckpt=str(tiny_checkpoint), tmp=str(out), limit=16 * 1024
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name, (code, stderr, exception) in report.items():
        lines = stderr.strip().splitlines()
        assert code == 1 and len(lines) == 1, (name, stderr, exception)
        assert lines[0].startswith(f"error: cannot write {out / name}: the file size limit"), name
        assert "fewer images (-n)" in lines[0]
    assert listing(out) == []


def test_python_m_ganzoo_cli_runs():
    done = subprocess.run(
        [sys.executable, "-m", "ganzoo.cli", "sample", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--overwrite" in done.stdout


# ------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--seed", -1, "--seed must be between 0 and 2**63-1"),
        ("--seed", 2**63, "--seed must be between 0 and 2**63-1"),
        ("-n", -5, "-n must be at least 1"),
        ("-n", 0, "-n must be at least 1"),
        ("-b", 0, "--batch-size must be at least 1"),
        ("-b", -3, "--batch-size must be at least 1"),
    ],
)
def test_bad_numbers_are_one_line_errors(tiny_checkpoint, tmp_path, option, value, fragment):
    assert_one_line_error(sample(tiny_checkpoint, tmp_path / "x.npy", option, value), fragment)
    assert listing(tmp_path) == ["ckpt"]


def test_seed_zero_and_the_largest_seed_are_accepted(tiny_checkpoint, tmp_path):
    for i, seed in enumerate((0, 2**63 - 1)):
        result = sample(tiny_checkpoint, tmp_path / f"{i}.npy", "-n", 2, "--seed", seed)
        assert result.exit_code == 0, result.output


# ------------------------------------------------------------------------------- encode / eval
@pytest.mark.parametrize(
    ("out", "fragment"),
    [("", "--out is empty"), ("  ", "--out is empty"), ("codes.txt", "must end in .npz")],
)
def test_encode_checks_out_before_loading_anything(
    tiny_checkpoint, tiny_npz, tmp_path, out, fragment
):
    assert_one_line_error(invoke("encode", tiny_checkpoint, tiny_npz, "--out", out), fragment)


def test_encode_never_replaces_codes_without_overwrite(tmp_path):
    from ganzoo import create_model
    from mnist_fixtures import synthetic_digits

    torch.manual_seed(0)
    create_model("vaegan").save_pretrained(tmp_path / "vg")
    data = synthetic_digits(per_class=1)
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=data.images.numpy(), y=data.labels.numpy())
    codes = tmp_path / "codes.npz"
    assert_one_line_error(
        invoke("encode", tmp_path / "vg", " ", "--out", codes), "the data set is empty"
    )
    codes.write_bytes(b"earlier codes")
    args = ["encode", tmp_path / "vg", npz, "--split", "all", "--out", codes]
    assert_one_line_error(invoke(*args), "already exists", "--overwrite")
    assert codes.read_bytes() == b"earlier codes"
    result = invoke(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert np.load(codes)["mu"].shape == (10, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.npz", "digits.npz", "vg"]


def test_encode_and_eval_refuse_empty_or_missing_data(tiny_checkpoint, tmp_path):
    assert_one_line_error(invoke("eval", tiny_checkpoint, "--dataset", ""), "--dataset is empty")
    assert_one_line_error(
        invoke("eval", tiny_checkpoint, "--dataset", tmp_path / "missing.npz"), "missing.npz"
    )


def test_eval_out_of_memory_says_to_lower_the_batch_size(tiny_checkpoint, tiny_npz, monkeypatch):
    import ganzoo.metrics.evaluate

    def exhausted(model, data, batch_size):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(ganzoo.metrics.evaluate, "evaluate_model", exhausted)
    assert_one_line_error(
        invoke("eval", tiny_checkpoint, "--dataset", f"npz:{tiny_npz}", "--split", "all"),
        "out of memory with --batch-size 1000",
        "-b 500",
    )


def test_eval_reads_a_users_npz_whole_and_in_the_models_shape(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photos.npz"
    np.savez(
        path, x=rng.integers(0, 256, (12, 40, 40, 3), dtype=np.uint8), y=rng.integers(0, 10, 12)
    )
    result = invoke("eval", "sgan-mnist-100", "--dataset", path)  # 28x28 gray model
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["n"] == 12


def test_eval_of_a_missing_npz_names_the_file(tmp_path):
    result = invoke("eval", "sgan-mnist-100", "--dataset", tmp_path / "missing.npz")
    assert_one_line_error(result, "missing.npz", "not found")
