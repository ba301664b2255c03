import numpy as np
import pytest

import tiny  # noqa: F401  (registers the "tiny" architecture and trainer)
from fake_hub import fake_hub  # noqa: F401  (the fixture)
from ganzoo.data import ImageDataset


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
