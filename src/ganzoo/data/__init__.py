"""Image data sets as uint8 tensors, their sources, labeled subsets and device batching.

Every data set is loaded whole into memory as an :class:`ImageDataset`: a
``uint8`` tensor of shape ``(N, C, H, W)`` plus optional ``int64`` labels. The
sets the zoo trains on are small (MNIST is 47 MB, CIFAR-10 150 MB), so the
training loop keeps them on the accelerator with :class:`DeviceBatcher` and
draws mini-batches by index there, with no per-step host work.

The package has one module per job:

* ``dataset``: the data set type, :class:`ImageDataset`, and pixel conversions.
* ``sources``: a table from name to loader (:data:`~ganzoo.data.sources.SOURCES`) and
  :func:`load_dataset`; adding a data set is one loader and one table entry.
* ``readers``: the file formats (IDX, ``.npz``, CIFAR-10 batches).
* ``pictures``: pictures and folders of them, checked before they are decoded.
* ``subsets``: :func:`labeled_subset`, the class-balanced labeled examples.
* ``batching``: :class:`DeviceBatcher` and :func:`iterate_batches`.

Known names for :func:`load_dataset`:

* ``mnist`` and ``fashion-mnist``: the IDX files, in torchvision's layout
  ``<root>/MNIST/raw`` and ``<root>/FashionMNIST/raw`` (plain or ``.gz``);
  Fashion-MNIST is also read from the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``).
* ``cifar10``: torchvision's ``<root>/cifar-10-batches-py`` or
  ``<root>/cifar10/{train,test}.npz``. The python batches are pickles; they are read
  with an unpickler that rebuilds plain data and numpy arrays only, so a crafted file
  under the data root cannot run code (it is refused with an error).
* ``art64``: ``<root>/abstract-art/images64.npz`` (64x64 RGB, no labels).
* ``npz:<file>``: any ``.npz`` with an image array ``x`` and optional labels ``y``.
* ``image:<file>``: one picture (png, jpg, jpeg, bmp, webp, gif), as a set of one image.
* ``folder:<dir>``: a folder of image files, ImageFolder-style class subfolders
  give labels.

``image_size=`` and ``channels=`` bring any of them to a model's contract (e.g. a
folder of RGB photos to 1-channel 28x28 images).

The root is the ``root`` argument, else the ``GANZOO_DATA`` environment
variable, else ``~/.cache/ganzoo/data`` (see :func:`default_root`).
"""

from __future__ import annotations

from ganzoo.data.batching import DeviceBatcher, iterate_batches
from ganzoo.data.dataset import ImageDataset, to_unit_range
from ganzoo.data.readers import read_idx
from ganzoo.data.sources import (
    DATASET_NAMES,
    DEBIAN_FASHION_MNIST_DIR,
    default_root,
    load_dataset,
)
from ganzoo.data.subsets import labeled_subset

__all__ = [
    "DATASET_NAMES",
    "DEBIAN_FASHION_MNIST_DIR",
    "DeviceBatcher",
    "ImageDataset",
    "default_root",
    "iterate_batches",
    "labeled_subset",
    "load_dataset",
    "read_idx",
    "to_unit_range",
]
