"""Semi-supervised MNIST benchmark: CNN, SGAN and VAE-GAN at 25/50/100/1000 labels.

Prints one JSON document (every run, then the summary) and a markdown table of test
accuracy, mean ± std over seeds, beside the course report's numbers (SPEC, 600 steps).

    GANZOO_DATA=../shared/data python benchmarks/mnist_ssl.py                  # everything
    python benchmarks/mnist_ssl.py --methods cnn-report,sgan-best --labels 100 --seeds 0,1,2
    python benchmarks/mnist_ssl.py --steps 200 --labels 100 --seeds 0          # a quick look
    python benchmarks/mnist_ssl.py --workers 12 --jsonl runs.jsonl --device cuda  # one GPU

Each method is ``<architecture>-<recipe>`` (recipes: ``ganzoo info`` / the trainers),
optionally with trainer fields in brackets for ablations, e.g.
``sgan-best[unsupervised_weight=0]``, ``;`` between fields; ``model.`` fields go to the
model (``sgan-best[model.preset=wide;model.input_noise=0.3]``). ``--steps`` is one
number for every method or ``method=steps`` pairs. With ``--workers`` the runs go to
that many processes sharing the device (small networks leave a GPU mostly idle in one
process); ``--jsonl`` appends each finished run at once, so a cut-off benchmark keeps
what it did. Every run records the test accuracy of each class and its largest
confusion (a run that merged two classes shows there); ``--keep DIR`` also keeps each
run's folder (model, ``metrics.jsonl`` with the test accuracy every 500 steps).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch

from ganzoo import create_model, get_trainer
from ganzoo.data import load_dataset
from ganzoo.devices import select_device
from ganzoo.metrics.classification import confusion_summary
from ganzoo.train.launch import build_train_config

#: The report's test accuracies (%), SPEC "Reported results", 600 steps.
REPORT = {
    "cnn": {1000: 91.92, 100: 78.74, 50: 70.98, 25: 61.61},
    "sgan": {1000: 94.01, 100: 83.78, 50: 77.22, 25: 65.78},
    "vaegan": {1000: 94.50, 100: 84.35, 50: 79.20, 25: 67.13},
}
METHODS = ["cnn-report", "cnn-best", "sgan-report", "sgan-best", "vaegan-report", "vaegan-best"]


def parse_method(method: str) -> tuple[str, str, dict, dict]:
    """Split a method into architecture, recipe, trainer fields and model fields.

    ``"sgan-best[lr=0.0006;model.preset=wide]"`` →
    ``("sgan", "best", {"lr": 0.0006}, {"preset": "wide"})``.
    """
    match = re.fullmatch(r"([a-z0-9]+)-([a-z0-9_+-]+?)(?:\[(.*)\])?", method)
    if match is None:
        raise SystemExit(f"error: method '{method}' is not <architecture>-<recipe>[key=value;...]")
    arch, recipe, extra = match.groups()
    trainer_fields, model_fields = {}, {}
    for pair in filter(None, (extra or "").split(";")):
        key, text = pair.split("=", 1)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if key.startswith("model."):
            model_fields[key.removeprefix("model.")] = value
        else:
            trainer_fields[key] = value
    return arch, recipe, trainer_fields, model_fields


def steps_for(method: str, steps: dict[str, int] | int | None) -> int | None:
    """The step override of a method (``None``: the recipe's own)."""
    if isinstance(steps, dict):
        return steps.get(method)
    return steps


def run_one(method: str, labels: int, seed: int, args: argparse.Namespace, train, test) -> dict:
    """Train one method on one labeled subset and measure its test accuracy."""
    arch, recipe, fields, model_fields = parse_method(method)
    preset = model_fields.pop("preset", None)
    trainer_cls = get_trainer(arch)
    overrides = {
        "labels": labels,
        "seed": seed,
        "label_seed": seed,
        "device": args.device,
        "quiet": True,
        "sample_every": 0,
        "eval_every": 0,
        **fields,
    }
    steps = steps_for(method, args.steps)
    if steps:
        overrides["steps"] = steps
    if args.precision:
        overrides["precision"] = args.precision
    if args.keep:
        overrides.update(out_dir=str(keep_folder(args.keep, method, labels, seed)), eval_every=500)
    limits = [args.max_seconds, args.stop_at - time.time() if args.stop_at else None]
    limits = [limit for limit in limits if limit]
    if limits:
        overrides["max_seconds"] = max(1.0, min(limits))
    config = build_train_config(trainer_cls, recipe, **overrides)
    torch.manual_seed(seed)
    model = create_model(arch, preset, **model_fields)
    trainer = trainer_cls(model, train, config, eval_data=test)
    start = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - start
    return {
        "method": method,
        "labels": labels,
        "seed": seed,
        "steps": result.steps,
        "planned_steps": config.steps,
        **_accuracy_record(trainer, result),
        "seconds": round(seconds, 2),
        "device": str(trainer.device),
    }


def _accuracy_record(trainer, result) -> dict:
    """Test accuracy, that of each class and the largest confusion (the final evaluation)."""
    summary = confusion_summary(trainer.last_confusion, top=1)
    worst = summary["confusions"][0] if summary["confusions"] else None
    return {
        "test_accuracy": result.evaluation["test_accuracy"],
        "class_accuracy": summary["class_accuracy"],
        "worst_confusion": worst and {k: worst[k] for k in ("true", "predicted", "share")},
    }


#: Rough cost of one step, relative to the CNN's, for ordering the runs.
STEP_COST = {"cnn": 1, "vaegan": 2, "sgan": 4}


def planned_cost(method: str, steps: dict[str, int] | int | None) -> int:
    """Steps times the cost of a step: longest runs go first."""
    arch, recipe, fields, _ = parse_method(method)
    planned = steps_for(method, steps)
    if planned is None:
        planned = build_train_config(get_trainer(arch), recipe, **fields).steps
    return planned * STEP_COST.get(arch, 1)


_WORKER: dict = {}


def _init_worker(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    _WORKER["args"] = args
    _WORKER["train"] = load_dataset("mnist", "train", root=args.data_root)
    _WORKER["test"] = load_dataset("mnist", "test", root=args.data_root)


def _run_job(job: tuple[str, int, int]) -> dict:
    args = _WORKER["args"]
    method, labels, seed = job
    failed = {"method": method, "labels": labels, "seed": seed}
    if args.stop_at and time.time() > args.stop_at - 10:
        return {**failed, "error": "skipped: deadline"}
    try:
        return run_one(method, labels, seed, args, _WORKER["train"], _WORKER["test"])
    except Exception as error:  # noqa: BLE001 - one failed run must not lose the others
        return {**failed, "error": repr(error)}


def keep_folder(keep: str, method: str, labels: int, seed: int) -> Path:
    """The folder ``--keep`` gives one run."""
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", method)
    return Path(keep) / f"{name}-{labels}-s{seed}"


def run_all(jobs: list[tuple[str, int, int]], args: argparse.Namespace) -> list[dict]:
    """Run every job, in ``args.workers`` processes or in this one; stream them to jsonl."""
    sink = open(args.jsonl, "a") if args.jsonl else None  # noqa: SIM115
    runs = []

    def keep(run: dict) -> None:
        runs.append(run)
        line = json.dumps(run)
        print(line, file=sys.stderr, flush=True)
        if sink is not None:
            sink.write(line + "\n")
            sink.flush()

    if args.workers > 1:
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.workers, _init_worker, (args,), maxtasksperchild=None) as pool:
            for run in pool.imap_unordered(_run_job, jobs):
                keep(run)
    else:
        _init_worker(args)
        for job in jobs:
            keep(_run_job(job))
    if sink is not None:
        sink.close()
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    rows = {}
    for run in (r for r in runs if "error" not in r):
        rows.setdefault((run["method"], run["labels"]), []).append(run)
    summary = []
    for (method, labels), group in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        accs = [100 * r["test_accuracy"] for r in group]
        summary.append(
            {
                "method": method,
                "labels": labels,
                "seeds": len(group),
                "steps": min(r["steps"] for r in group),
                "mean": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                # The report's number for this architecture: to match (report
                # protocol) or to beat (the other recipes).
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
    parser.add_argument(
        "--steps", default=None, help="steps of every method, or method=steps pairs (a,b)"
    )
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default=None, choices=[None, "fp32", "bf16"])
    parser.add_argument("--max-seconds", type=float, default=None, help="wall limit per run")
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="wall seconds for everything: later runs are cut short or skipped",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the device")
    parser.add_argument("--jsonl", default=None, help="append each finished run to this file")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--keep", default=None, help="keep each run's folder (model, metrics) under this folder"
    )
    args = parser.parse_args()
    args.stop_at = time.time() + args.deadline if args.deadline else None
    if args.steps and "=" in args.steps:
        args.steps = {k: int(v) for k, v in (p.rsplit("=", 1) for p in args.steps.split(","))}
    elif args.steps:
        args.steps = int(args.steps)
    args.device = str(select_device(args.device))
    methods = args.methods.split(",")
    for method in methods:
        get_trainer(parse_method(method)[0])
    jobs = [
        (method, int(labels), int(seed))
        for method in methods
        for labels in args.labels.split(",")
        for seed in args.seeds.split(",")
    ]
    if args.keep:  # refuse now, not hours later when the run reaches its folder
        taken = [f for f in (keep_folder(args.keep, *job) for job in jobs) if f.exists()]
        if taken:
            parser.error(f"--keep: {taken[0]} already exists; choose another --keep folder")
    # Longest first, so the pool does not end waiting on one long run.
    jobs.sort(key=lambda job: -planned_cost(job[0], args.steps))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    runs = run_all(jobs, args)
    summary = summarise(runs)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else None
    print(
        json.dumps(
            {
                "machine": platform.node(),
                "torch": torch.__version__,
                "gpu": gpu,
                "threads": torch.get_num_threads(),
                "workers": args.workers,
                "argv": sys.argv[1:],
                "runs": runs,
                "summary": summary,
            },
            indent=1,
        )
    )
    print(markdown(summary))


if __name__ == "__main__":
    main()
