"""Semi-supervised MNIST benchmark: CNN, SGAN and VAE-GAN at 25/50/100/1000 labels.

Prints one JSON document (every run, then the summary) and a markdown table of test
accuracy, mean ± std over seeds, beside the course report's numbers (SPEC, 600 steps).

    GANZOO_DATA=../shared/data python benchmarks/mnist_ssl.py                  # everything
    python benchmarks/mnist_ssl.py --methods cnn-report,sgan-best --labels 100 --seeds 0,1,2
    python benchmarks/mnist_ssl.py --steps 200 --labels 100 --seeds 0          # a quick look

Each method is ``<architecture>-<recipe>`` (recipes: ``ganzoo info`` / the trainers).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch

from ganzoo import create_model, get_trainer
from ganzoo.data import load_dataset
from ganzoo.devices import select_device
from ganzoo.trainers.launch import build_train_config

#: The report's test accuracies (%), SPEC "Reported results", 600 steps.
REPORT = {
    "cnn": {1000: 91.92, 100: 78.74, 50: 70.98, 25: 61.61},
    "sgan": {1000: 94.01, 100: 83.78, 50: 77.22, 25: 65.78},
    "vaegan": {1000: 94.50, 100: 84.35, 50: 79.20, 25: 67.13},
}
METHODS = ["cnn-report", "cnn-best", "sgan-report", "sgan-best", "vaegan-report", "vaegan-best"]


def run_one(method: str, labels: int, seed: int, args: argparse.Namespace, train, test) -> dict:
    arch, recipe = method.split("-", 1)
    trainer_cls = get_trainer(arch)
    overrides = {
        "labels": labels,
        "seed": seed,
        "label_seed": seed,
        "device": args.device,
        "quiet": True,
        "sample_every": 0,
        "eval_every": 0,
    }
    if args.steps:
        overrides["steps"] = args.steps
    if args.precision:
        overrides["precision"] = args.precision
    config = build_train_config(trainer_cls, recipe, **overrides)
    torch.manual_seed(seed)
    trainer = trainer_cls(create_model(arch), train, config, eval_data=test)
    start = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - start
    return {
        "method": method,
        "labels": labels,
        "seed": seed,
        "steps": result.steps,
        "test_accuracy": result.evaluation["test_accuracy"],
        "seconds": round(seconds, 2),
        "device": str(trainer.device),
    }


def summarise(runs: list[dict]) -> list[dict]:
    rows = {}
    for run in runs:
        rows.setdefault((run["method"], run["labels"]), []).append(run)
    summary = []
    for (method, labels), group in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        accs = [100 * r["test_accuracy"] for r in group]
        summary.append(
            {
                "method": method,
                "labels": labels,
                "seeds": len(group),
                "steps": group[0]["steps"],
                "mean": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "report": REPORT[method.split("-")[0]].get(labels),
                "seconds_per_run": statistics.mean(r["seconds"] for r in group),
                "device": group[0]["device"],
            }
        )
    return summary


def markdown(summary: list[dict]) -> str:
    lines = [
        "| method | labels | steps | test accuracy % (mean ± std, seeds) | report % | s/run | device |",  # noqa: E501
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        report = f"{row['report']:.2f}" if row["report"] is not None else "-"
        lines.append(
            f"| {row['method']} | {row['labels']} | {row['steps']} | "
            f"{row['mean']:.2f} ± {row['std']:.2f} ({row['seeds']}) | {report} | "
            f"{row['seconds_per_run']:.0f} | {row['device']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--labels", default="25,50,100,1000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=None, help="override every recipe's steps")
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default=None, choices=[None, "fp32", "bf16"])
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    args.device = str(select_device(args.device))
    train = load_dataset("mnist", "train", root=args.data_root)
    test = load_dataset("mnist", "test", root=args.data_root)
    runs = []
    for method in args.methods.split(","):
        for labels in (int(x) for x in args.labels.split(",")):
            for seed in (int(x) for x in args.seeds.split(",")):
                runs.append(run_one(method, labels, seed, args, train, test))
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    summary = summarise(runs)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else None
    print(
        json.dumps(
            {
                "machine": platform.node(),
                "torch": torch.__version__,
                "gpu": gpu,
                "threads": torch.get_num_threads(),
                "runs": runs,
                "summary": summary,
            },
            indent=1,
        )
    )
    print(markdown(summary))


if __name__ == "__main__":
    main()
