"""Equal-CPU pilots of the 64×64 art GAN recipes, ranked by a cheap in-training FID.

Each pilot is one ``ganzoo train`` run on the art set with the same seed, thread count
and wall-clock budget (``max_seconds``); it differs from the base recipe by a few
``--set`` / ``--model-set`` options. At the end the run measures FID of 1,000 samples
of its generator (EMA weights) against the cached Inception features of all training
images (the in-training protocol; the bundled numbers use 5,000 samples). Results are
appended to a JSON file as each pilot ends, so a killed batch keeps what it measured.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/art_pilots.py --data-root ../shared/data \
        --seconds 1200 --out runs/pilots --results benchmarks/results/art_pilots.json \
        --only dcgan-base dcgan-resize

``--list`` prints the pilots.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

#: name -> (architecture, extra ``ganzoo train`` arguments on top of the art-cpu recipe).
PILOTS: dict[str, tuple[str, list[str]]] = {
    "dcgan-base": ("dcgan", []),
    "dcgan-resize": ("dcgan", ["--model-set", "g_upsample=resize"]),
    "dcgan-resize-ttur": (
        "dcgan",
        ["--model-set", "g_upsample=resize", "--set", "g_lr=1e-4", "--set", "d_lr=4e-4"],
    ),
    "dcgan-resize-b32": ("dcgan", ["--model-set", "g_upsample=resize", "--batch-size", "32"]),
    "dcgan-resize-sn": (
        "dcgan",
        ["--model-set", "g_upsample=resize", "--model-set", "spectral_norm=true"],
    ),
    "dcgan-resize-color": (
        "dcgan",
        ["--model-set", "g_upsample=resize", "--set", "diffaugment=color,translation,cutout"],
    ),
    "dcgan-resize-ema99": ("dcgan", ["--model-set", "g_upsample=resize", "--ema", "0.99"]),
    "dcgan-resize-noaug": ("dcgan", ["--model-set", "g_upsample=resize", "--set", "diffaugment="]),
    "wgan-gp-base": ("wgan-gp", []),
    "wgan-gp-resize-c1": ("wgan-gp", ["--model-set", "g_upsample=resize", "--set", "n_critic=1"]),
    "wgan-base": ("wgan", []),
    "wgan-resize": ("wgan", ["--model-set", "g_upsample=resize"]),
}


def command(name: str, args: argparse.Namespace) -> list[str]:
    """The ``ganzoo train`` command line of pilot ``name``."""
    arch, extra = PILOTS[name]
    return [
        "ganzoo", "train", arch, "--recipe", "art-cpu", "--preset", "small",
        "--dataset", "art64", "--data-root", str(args.data_root), "--seed", str(args.seed),
        "--device", "cpu", "--quiet", "--precision", "fp32", "--steps", "1000000",
        "--out", str(Path(args.out) / name),
        "--set", f"max_seconds={args.seconds}", "--set", "eval_metrics=fid",
        "--set", f"eval_samples={args.eval_samples}", "--set", f"eval_feature={args.feature}",
        "--set", "checkpoint_every=100000", "--set", "sample_every=100000",
        *extra,
    ]  # fmt: skip


def run_pilot(name: str, args: argparse.Namespace) -> dict:
    """Train one pilot and read its summary."""
    cmd = command(name, args)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    row = {"pilot": name, "command": shlex.join(cmd), "rc": proc.returncode, "wall_s": wall}
    summary_path = Path(args.out) / name / "train_summary.json"
    if proc.returncode != 0 or not summary_path.is_file():
        row["error"] = proc.stderr.strip().splitlines()[-3:]
        return row
    summary = json.loads(summary_path.read_text())
    row.update(
        steps=summary.get("steps"),
        train_seconds=summary.get("seconds"),
        fid_1k=summary.get("fid"),
    )
    return row


def main() -> None:
    """Run the chosen pilots one after the other and append each result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=False)
    parser.add_argument("--seconds", type=float, default=1200)
    parser.add_argument("--eval-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--feature", default="inception-tf", help="FID's feature network")
    parser.add_argument("--out", type=Path, default=Path("runs/pilots"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/art_pilots.json"))
    parser.add_argument("--only", nargs="*", default=None, help="pilots to run, in this order")
    parser.add_argument("--list", action="store_true", help="print the pilots and exit")
    args = parser.parse_args()
    if args.list:
        for name in PILOTS:
            print(name, shlex.join(PILOTS[name][1]))
        return
    names = args.only or list(PILOTS)
    unknown = [n for n in names if n not in PILOTS]
    if unknown:
        sys.exit(f"unknown pilot(s): {', '.join(unknown)} (see --list)")
    results = json.loads(args.results.read_text()) if args.results.is_file() else []
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    for name in names:
        row = run_pilot(name, args)
        row.update(threads=threads, seconds_budget=args.seconds, eval_samples=args.eval_samples)
        results.append(row)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
