"""Train the MNIST metric classifier that ships as ``src/ganzoo/metrics/networks/mnist_classifier``.

    OMP_NUM_THREADS=1 python scripts/train_mnist_metric.py --data-root ../shared/data

A compact CNN (``ganzoo.metrics.networks.MNISTClassifierNet``) trained on all 60,000
MNIST training labels: Adam with a one-cycle learning rate, batches of 128, light
augmentation (each image rotated by up to 10 degrees, scaled by 0.9-1.1 and shifted by
up to 2 pixels, one random affine map per image), no label smoothing (the
``confidence`` metric reads its softmax, so it must not be taught to doubt). One
thread, about 6-8 CPU minutes.

It writes, atomically, ``mnist_classifier.safetensors`` (fp16) and
``mnist_classifier.json`` (the command, seed, epochs, test accuracy of the fp16 weights
as shipped, the share of test digits it reads with confidence >= 0.9 and the KL
divergence of its test predictions from uniform, wall and CPU time, torch version)
into ``--out``, and prints the record.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganzoo.data import load_dataset
from ganzoo.hub import save_weights
from ganzoo.io.atomic import write_text
from ganzoo.metrics.networks import (
    FOLDER,
    MNIST_MEAN,
    MNIST_STD,
    MNISTClassifierNet,
    load_mnist_classifier,
)
from ganzoo.metrics.sample_quality import DEFAULT_THRESHOLD, balance, confidence


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random affine map per image of ``x`` (float ``(N, 1, 28, 28)`` in [0, 1])."""
    n = len(x)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10)
    scale = 0.9 + 0.2 * torch.rand(n, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 / 14)  # 2 px in [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.inference_mode()
def evaluate(network: MNISTClassifierNet, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Accuracy, and confidence and balance as ``ganzoo eval`` reads generated digits."""
    network.eval()
    logits = torch.cat([network.logits(images[i : i + 1000]) for i in range(0, len(images), 1000)])
    errors = int((logits.argmax(1) != labels).sum())
    return {
        "accuracy": 1 - errors / len(labels),
        "errors": errors,
        "confidence": confidence(logits, DEFAULT_THRESHOLD),
        "kl_uniform": balance(logits)["kl_uniform"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak of the one-cycle schedule")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=FOLDER)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    start, cpu_start = time.perf_counter(), time.process_time()

    train = load_dataset("mnist", "train", root=args.data_root)
    test = load_dataset("mnist", "test", root=args.data_root)
    network = MNISTClassifierNet()
    steps_per_epoch = len(train) // args.batch_size
    optimizer = torch.optim.Adam(network.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    history = []
    for epoch in range(args.epochs):
        network.train()
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        for step in range(steps_per_epoch):
            index = order[step * args.batch_size : (step + 1) * args.batch_size]
            x = augment(train.images[index].float() / 255.0, generator)
            logits = network.head(network.features_of((x - MNIST_MEAN) / MNIST_STD))
            loss = F.cross_entropy(logits, train.labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        result = evaluate(network, test.images, test.labels)
        history.append({"epoch": epoch + 1, "train_loss": total / steps_per_epoch, **result})
        print(json.dumps(history[-1]), file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "mnist_classifier.safetensors"
    save_weights(network.state_dict(), weights, dtype=torch.float16)
    shipped = evaluate(load_mnist_classifier(weights), test.images, test.labels)
    record = {
        "network": "ganzoo.metrics.networks.MNISTClassifierNet",
        "parameters": sum(p.numel() for p in network.parameters()),
        "features": MNISTClassifierNet.num_features,
        "weights": weights.name,
        "weights_dtype": "float16",
        "command": "OMP_NUM_THREADS=1 python scripts/train_mnist_metric.py "
        + shlex.join(sys.argv[1:]),
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "train": {"dataset": "mnist", "split": "train", "n": len(train)},
        "test": {"dataset": "mnist", "split": "test", "n": len(test), **shipped},
        "threshold": DEFAULT_THRESHOLD,
        "history": history,
        "wall_s": round(time.perf_counter() - start, 1),
        "cpu_s": round(time.process_time() - cpu_start, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    write_text(args.out / "mnist_classifier.json", json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
