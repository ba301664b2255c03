"""Tiny synthetic MNIST-shaped data for the MNIST-family tests."""

import torch

from ganzoo import get_trainer
from ganzoo.data import ImageDataset
from ganzoo.train.launch import build_train_config


def synthetic_digits(per_class=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(per_class)
    images = torch.zeros(len(labels), 1, 28, 28, dtype=torch.uint8)
    for i, label in enumerate(labels.tolist()):  # a bright bar whose place encodes the class
        images[i, 0, 2 + 2 * label : 5 + 2 * label, 4:24] = 255
    noise = torch.randint(0, 40, images.shape, generator=g, dtype=torch.uint8)
    images = (images.int() + noise.int()).clamp(0, 255).to(torch.uint8)
    return ImageDataset(images=images, labels=labels, name="synthetic-digits", num_classes=10)


def tiny_labeled_trainer(arch, recipe, model, steps=1, **overrides):
    """A trainer of ``arch``'s ``recipe`` on synthetic digits: 20 labels, batches of 8, no grids."""
    cls = get_trainer(arch)
    config = build_train_config(
        cls,
        recipe,
        steps=steps,
        device="cpu",
        quiet=True,
        labels=20,
        labeled_batch=8,
        batch_size=8,
        sample_every=0,
        eval_every=0,
        log_every=1,
        **overrides,
    )
    return cls(model, synthetic_digits(), config, eval_data=synthetic_digits(1, 1))
