"""Turn a finished ``ganzoo train`` run into a bundled pretrained checkpoint.

    python scripts/bundle_pretrained.py runs/sgan-mnist-100 sgan-mnist-100 \
        --description "SGAN, 100 MNIST labels, best recipe"

It measures the model exactly as ``ganzoo eval`` does, draws a 10×10 sample grid
(seed 0), writes fp16 weights, config and a model card into
``src/ganzoo/pretrained/<name>/`` and adds or replaces the entry in ``catalog.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import ganzoo
from ganzoo.catalog import CATALOG_FILE, PRETRAINED_DIR
from ganzoo.data import load_dataset
from ganzoo.hub import export_pretrained, load_folder, write_checkpoint
from ganzoo.metrics import evaluate_model
from ganzoo.sampling import save_grid


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--description", default="")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--trained-torch", default=None, help="torch version of the run, if its summary lacks it"
    )
    parser.add_argument("--device-name", default=None, help="e.g. 'cuda (NVIDIA H200)'")
    parser.add_argument("--note", default=None, help="one more line for the Training section")
    args = parser.parse_args()

    model = ganzoo.from_pretrained(str(args.run))
    summary = json.loads((args.run / "train_summary.json").read_text())
    train_config = json.loads((args.run / "checkpoint" / "train_config.json").read_text())
    dataset = model.data_contract()["dataset"]
    folder = PRETRAINED_DIR / args.name
    # Measure what ships: the fp16 weights, loaded back as `ganzoo eval` loads them.
    write_checkpoint(model, folder, dtype=torch.float16)
    model = load_folder(folder)
    test = load_dataset(dataset, "test", root=args.data_root)
    results = evaluate_model(model, test)
    # The card's metrics are numbers; per-class lists and confusions stay in `ganzoo eval`.
    metrics = {f"test_{k}": round(v, 6) for k, v in results.items() if isinstance(v, float)}

    samples = None
    if model.can("sample"):
        with torch.no_grad():
            save_grid(model.sample(100, seed=0), folder / "samples.png", nrow=10)
        samples = "samples.png"
    training = {
        "seed": train_config["seed"],
        "labels": train_config.get("labels"),
        "label_seed": train_config.get("label_seed"),
        "steps": summary["steps"],
        "device": args.device_name or summary["device"],
        "wall time (s)": summary["seconds"],
        "torch": summary.get("torch") or args.trained_torch or "unknown",
        "data": f"{dataset} train split; metrics on the {len(test)}-image test split",
    }
    if args.note:
        training["note"] = args.note
    if dataset == "mnist":
        training["data"] += (
            " (the training images carry a 1/255 grey-level rebuild error on ~3% of pixels)"
        )
    export_pretrained(
        model,
        folder,
        dtype=torch.float16,
        metrics=metrics,
        command=summary["command"],
        training=training,
        samples=samples,
        model_name=args.name,
    )
    catalog = json.loads(CATALOG_FILE.read_text())
    entry = {
        "name": args.name,
        "architecture": model.architecture,
        "dataset": dataset,
        "description": args.description,
        "bundled": True,
        "metrics": metrics,
        "command": summary["command"],
    }
    catalog["models"] = [m for m in catalog["models"] if m["name"] != args.name] + [entry]
    catalog["models"].sort(key=lambda m: m["name"])
    CATALOG_FILE.write_text(json.dumps(catalog, indent=2) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(json.dumps({"name": args.name, "folder": str(folder), "bytes": size, **metrics}))


if __name__ == "__main__":
    main()
