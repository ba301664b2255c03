import os
from pathlib import Path

import numpy as np
import pytest

import tiny  # noqa: F401  (registers the "tiny" architecture and trainer)
from fake_hub import fake_hub  # noqa: F401  (the fixture)
from ganzoo.data import ImageDataset


def pytest_configure(config):
    """Under ``pytest -n N`` (pytest-xdist), give each worker its share of the CPU cores.

    Without this, every worker and every interpreter it starts uses all the cores, and N
    workers fight over them. ``OMP_NUM_THREADS``, when set, is left as it is.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ["OMP_NUM_THREADS"] = str(share)  # for the interpreters tests start
        __import__("torch").set_num_threads(share)


@pytest.fixture
def tiny_data():
    images = tiny.tiny_images()
    return ImageDataset(images=images, labels=None, name="tiny", num_classes=None)


@pytest.fixture
def tiny_npz(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, x=tiny.tiny_images().numpy())
    return path


@pytest.fixture
def tiny_checkpoint(tmp_path):
    from ganzoo import create_model

    torch_seed = __import__("torch").manual_seed(0)
    del torch_seed
    model = create_model("tiny")
    folder = tmp_path / "ckpt"
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def pushed_files(monkeypatch):
    """Make ``ganzoo.hub.push`` upload to a recorder: ``{file name: text}`` of what it sent."""
    import huggingface_hub

    sent = {}

    class RecordingApi:
        def __init__(self, endpoint=None, token=None):
            pass

        def create_repo(self, repo_id, private, exist_ok):
            pass

        def upload_folder(self, folder_path, repo_id, **options):
            files = Path(folder_path).iterdir()
            sent.update({p.name: p.read_text() for p in files if p.suffix in (".md", ".json")})
            return "https://hub/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    return sent
