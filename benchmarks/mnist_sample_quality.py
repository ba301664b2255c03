"""How good are the MNIST generators' samples? FID, confidence and balance in one JSON.

    OMP_NUM_THREADS=1 python benchmarks/mnist_sample_quality.py --data-root ../shared/data

For each model it measures what
``ganzoo eval MODEL --metric fid,confidence,balance --feature mnist-classifier -n N``
prints (the same library call, :func:`ganzoo.metrics.sample_quality.sample_metrics`): FID of
``N`` samples against the 60,000 training images in the feature space of ganzoo's MNIST
classifier, the floor (``N`` test images against the same training set), the share of
samples read with confidence >= 0.9 and the class histogram with its KL divergence from
uniform (and, for a class-conditional generator, the share read as the digit asked
for: ``agreement``). It adds the full floor (all 10,000 test images against the training set), the
floor at ``N`` for further seeds, and the same readings of ``N`` real test digits, so
every generator number has its real-data counterpart. Real features are cached.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time

import torch

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.metrics.feature_cache import select_real
from ganzoo.metrics.features import load_feature
from ganzoo.metrics.networks import mnist_classifier_record
from ganzoo.metrics.sample_quality import (
    CLASSIFIER,
    balance,
    confidence,
    sample_metrics,
    split_floor,
)


def _conditional(model: object) -> bool:
    """Whether the model draws the digit it is asked for (then agreement is measured too)."""
    return bool(getattr(model, "conditional", False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["sgan-mnist-100", "vaegan-mnist-100"])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--floor-seeds", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    train = load_dataset("mnist", "train", root=args.data_root)
    test = load_dataset("mnist", "test", root=args.data_root)
    common = {"seed": args.seed, "cache_dir": args.cache_dir, "log": log}
    models = {}
    for name in args.models:
        start = time.perf_counter()
        model = ganzoo.from_pretrained(name, device="cpu")
        result = sample_metrics(
            model,
            train,
            args.n,
            metrics="fid,confidence,balance" + (",agreement" if _conditional(model) else ""),
            feature=CLASSIFIER,
            threshold=args.threshold,
            split="train",
            floor_data=test,
            floor_split="test",
            **common,
        )
        result["seconds"] = round(time.perf_counter() - start, 1)
        models[name] = result

    start = time.perf_counter()
    floors = {
        "full": split_floor(train, test, None, **common),
        **{
            f"n{args.n}_seed{seed}": split_floor(
                train, test, args.n, seed=seed, cache_dir=args.cache_dir, log=log
            )
            for seed in [args.seed, *args.floor_seeds]
        },
    }
    network = load_feature(CLASSIFIER)
    with torch.inference_mode():
        logits = network.logits(select_real(test, args.n, args.seed))
    real_test = {
        "n": args.n,
        "seed": args.seed,
        "confidence": confidence(logits, args.threshold),
        **balance(logits),
    }
    floors_seconds = round(time.perf_counter() - start, 1)
    record = mnist_classifier_record()
    print(
        json.dumps(
            {
                "benchmark": "mnist_sample_quality",
                "command": "OMP_NUM_THREADS=1 python benchmarks/mnist_sample_quality.py "
                + shlex.join(sys.argv[1:]),
                "same_as": [
                    f"ganzoo eval {name} --metric fid,confidence,balance --feature "
                    f"{CLASSIFIER} -n {args.n}" + (f" --seed {args.seed}" if args.seed else "")
                    for name in args.models
                ],
                "models": models,
                "floor": floors,
                "floor_seconds": floors_seconds,
                "real_test_digits": real_test,
                "classifier": {
                    "name": CLASSIFIER,
                    "test_accuracy": record["test"]["accuracy"],
                    "command": record["command"],
                },
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "ganzoo": ganzoo.__version__,
                "machine": platform.machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
