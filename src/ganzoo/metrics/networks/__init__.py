"""Small networks that measure generated images, shipped with the package.

``mnist_classifier.safetensors`` is a compact CNN trained on all 60,000 MNIST
training labels by ``scripts/train_mnist_metric.py``; ``mnist_classifier.json``
beside it records the command, the seed, the test accuracy, the time and the
torch version of that run. It is registered as the feature network
``mnist-classifier`` (:mod:`ganzoo.metrics.features`): its 128-d penultimate layer is the
feature space of an MNIST FID, and its logits read generated digits for the
``confidence`` and ``balance`` metrics (:mod:`ganzoo.metrics.sample_quality`).

It is a *metric* network: fixed, independent of every model of the zoo (none of
them was trained with it), so it can judge them all alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.errors import GanzooError

#: The folder of the shipped files.
FOLDER = Path(__file__).resolve().parent
#: The shipped weights (fp16).
MNIST_CLASSIFIER_WEIGHTS = FOLDER / "mnist_classifier.safetensors"
#: The record of the run that trained them.
MNIST_CLASSIFIER_RECORD = FOLDER / "mnist_classifier.json"
#: MNIST's pixel mean and standard deviation on the 0..1 scale (training split).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _block(channels_in: int, channels_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    ]


class MNISTClassifierNet(nn.Module):
    """A compact MNIST classifier whose penultimate layer is a 128-d feature space.

    Three 3x3 convolutions (32, 64, 128 channels, batch norm, ReLU, 2x2 max pooling:
    28 -> 14 -> 7 -> 3), a dense layer of 128 units with ReLU (the features), dropout
    and a dense layer of 10 logits; 241,770 parameters.

    Its forward follows the feature-network contract of :mod:`ganzoo.metrics.features`:
    uint8 images ``(N, 1 or 3, H, W)`` in 0..255 go in, float features ``(N, 128)``
    come out. Colour images are averaged to grey, other sizes are resized to 28x28
    (bilinear, antialiased), and pixels are standardised with MNIST's mean and std.
    :meth:`logits` gives the class logits of the same images, :meth:`head` maps
    features to logits.
    """

    num_features = 128
    num_classes = 10
    size = (28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_block(1, 32),
            *_block(32, 64),
            *_block(64, 128),
            nn.Flatten(),
            nn.Linear(128 * 3 * 3, self.num_features),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(self.num_features, self.num_classes)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(N, 1 or 3, H, W)`` -> standardised grey float ``(N, 1, 28, 28)``.

        Raises:
            GanzooError: for another shape.

        """
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise GanzooError(
                f"the MNIST classifier reads images (N, 1 or 3, H, W), got {tuple(images.shape)}"
            )
        x = images.to(torch.float32)
        if x.shape[1] == 3:  # sum then divide: exact for grey images stored as RGB
            x = x.sum(dim=1, keepdim=True) / 3
        x = x / 255.0
        if tuple(x.shape[2:]) != MNISTClassifierNet.size:
            x = nn.functional.interpolate(
                x, size=MNISTClassifierNet.size, mode="bilinear", antialias=True
            ).clamp_(0, 1)
        return (x - MNIST_MEAN) / MNIST_STD

    def features_of(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(N, 128)`` of prepared images (the output of :meth:`prepare`)."""
        return self.body(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, 10)`` of features ``(N, 128)``."""
        return self.classifier(self.dropout(features))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(N, 128)`` of uint8 images ``(N, 1 or 3, H, W)``."""
        return self.features_of(self.prepare(images))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, 10)`` of uint8 images ``(N, 1 or 3, H, W)``."""
        return self.head(self.forward(images))


def load_mnist_classifier(path: str | Path | None = None) -> MNISTClassifierNet:
    """The shipped MNIST metric classifier, in eval mode, float32, on the CPU.

    Args:
        path: another weights file of the same architecture (default: the shipped one).

    Raises:
        GanzooError: in one line when the file is missing or damaged (unreadable,
            tensors missing, extra or misshapen, NaN or infinite values).

    """
    from ganzoo.hub import load_weights_strict

    path = Path(path) if path is not None else MNIST_CLASSIFIER_WEIGHTS
    fix = "reinstall ganzoo, or retrain it with scripts/train_mnist_metric.py"
    if not path.is_file():
        raise GanzooError(f"the mnist-classifier weights are missing ({path}); {fix}")
    network = MNISTClassifierNet()
    try:
        load_weights_strict(network, path, source="mnist-classifier")
    except GanzooError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise GanzooError(f"the mnist-classifier weights are damaged: {first}; {fix}") from None
    return network.eval().requires_grad_(False)


def mnist_classifier_record() -> dict[str, Any]:
    """The record of the run that trained the shipped weights (command, seed, accuracy...).

    Raises:
        GanzooError: if the record is missing or not a JSON object.

    """
    try:
        record = json.loads(MNIST_CLASSIFIER_RECORD.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GanzooError(
            f"cannot read {MNIST_CLASSIFIER_RECORD.name}: {exc}; reinstall ganzoo"
        ) from None
    if not isinstance(record, dict):
        raise GanzooError(f"{MNIST_CLASSIFIER_RECORD.name} is not a JSON object; reinstall ganzoo")
    return record
