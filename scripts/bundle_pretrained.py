"""Turn a finished ``ganzoo train`` run into a bundled pretrained checkpoint.

    python scripts/bundle_pretrained.py runs/sgan-mnist-100 sgan-mnist-100 \
        --description "SGAN, 100 MNIST labels, best recipe"

    python scripts/bundle_pretrained.py runs/dcgan-art64/best dcgan-art64 \
        --description "DCGAN, small preset, art-cpu recipe" --floor runs/eval/floor.json

    python scripts/bundle_pretrained.py runs/vq-mnist-prior vqvae-mnist \
        --earlier-stage runs/vq-mnist --description "VQ-VAE with its PixelCNN prior"

It measures the model exactly as ``ganzoo eval`` does (a classifier: accuracy on the
test split; a VQ-VAE: reconstruction MSE/PSNR, codebook perplexity and used codes, and
its prior's bits per dimension on the test split, with a picture of test images above
their reconstructions and code maps; a generator without a classifier: FID and KID of
``--fid-samples`` images against the whole training set, TF-Inception features, the data
set's own floor from ``benchmarks/art_fid_floor.py`` quoted beside), draws a sample
grid (seed 0; 10×10, or ``--grid-rows``), writes fp16 weights, config and a model card into
``src/ganzoo/pretrained/<name>/`` and adds or replaces the entry in ``catalog.json``. A
``best/`` folder of a run is read with its run's ``train_summary.json`` and checkpoint
config. A model trained in stages (a VQ-VAE's autoencoder, then its prior) names the
earlier stage's run with ``--earlier-stage``: the card's command is both commands and
its time their sum.

The card's command (and the lineage's, in ``config.json``, and the catalog's) is one
another user can run: no ``--data-root`` of this machine, ``--out runs/<name>``
(:func:`ganzoo.card_text.runnable_commands`).

    python scripts/bundle_pretrained.py --cards-only

re-renders every bundled card from its ``config.json``, its catalog entry and the
training facts its card records, without measuring again (weights untouched).

    python scripts/bundle_pretrained.py --redraw-grid dcgan-art64 --grid-rows 8

draws a bundled generator's sample grid again at another size, as bundling draws it
(seed 0, from the fp16 weights), to keep a family of bundles within its size budget.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.card_text import runnable_lineage
from ganzoo.catalog import CATALOG_FILE, PRETRAINED_DIR, get_pretrained_info, load_catalog
from ganzoo.data import ImageDataset, iterate_batches, load_dataset
from ganzoo.errors import GanzooError
from ganzoo.hub import (
    ONLINE_WEIGHTS_NAME,
    export_pretrained,
    load_folder,
    save_weights,
    write_checkpoint,
)
from ganzoo.io.images import save_grid
from ganzoo.io.pictures import save_reconstructions
from ganzoo.lineage import make_leg
from ganzoo.metrics.evaluate import evaluate_model
from ganzoo.metrics.fid import generative_metrics
from ganzoo.metrics.sample_quality import CLASSIFIER, sample_metrics

ART_PROVENANCE = (
    "the 'Abstract Art Gallery' set (WikiArt abstract expressionism): 2,781 of its 2,782 "
    "paintings, centre-cropped and resized to 64x64 (Lanczos). Third-party artwork, used "
    "for research; the paintings belong to their authors and are not part of ganzoo"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("run", type=Path, nargs="?")
    parser.add_argument("name", nargs="?")
    parser.add_argument(
        "--cards-only", action="store_true", help="re-render the bundled cards, measure nothing"
    )
    parser.add_argument("--description", default="")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--trained-torch", default=None, help="torch version of the run, if its summary lacks it"
    )
    parser.add_argument("--device-name", default=None, help="e.g. 'cuda (NVIDIA H200)'")
    parser.add_argument("--note", default=None, help="one more line for the Training section")
    parser.add_argument("--fid-samples", type=int, default=5000, help="generated images for FID")
    parser.add_argument(
        "--grid-rows", type=int, default=10, help="the sample grid is this many rows of as many"
    )
    parser.add_argument(
        "--redraw-grid",
        metavar="NAME",
        default=None,
        help="draw a bundled generator's sample grid again at --grid-rows, measure nothing",
    )
    parser.add_argument("--feature", default="inception-tf", help="FID/KID feature network")
    parser.add_argument("--floor", type=Path, default=None, help="art_fid_floor.py's JSON")
    parser.add_argument(
        "--earlier-stage", type=Path, default=None, help="the run of the stage before this one"
    )
    args = parser.parse_args()
    if args.cards_only:
        rerender_cards()
        return
    if args.redraw_grid is not None:
        print(redraw_grid(args.redraw_grid, args.grid_rows))
        return
    if args.run is None or args.name is None:
        parser.error("give RUN and NAME, or --cards-only")

    model = ganzoo.from_pretrained(str(args.run))
    run = args.run if (args.run / "train_summary.json").is_file() else args.run.parent
    summary = json.loads((run / "train_summary.json").read_text())
    if args.earlier_stage is not None:
        summary = merge_stages(
            json.loads((args.earlier_stage / "train_summary.json").read_text()), summary
        )
    train_config = json.loads((run / "checkpoint" / "train_config.json").read_text())
    dataset = model.data_contract()["dataset"]
    folder = PRETRAINED_DIR / args.name
    # Measure what ships: the fp16 weights, loaded back as `ganzoo eval` loads them.
    write_checkpoint(model, folder, dtype=torch.float16)
    model = load_folder(folder)
    reconstructions = None
    if model.can("classify") or getattr(model, "quantizer", None) is not None:
        test = load_dataset(dataset, "test", root=args.data_root)
        results = evaluate_model(model, test)
        # The card's metrics are numbers; per-class lists and confusions stay in `ganzoo eval`.
        metrics = {
            f"test_{k}": round(v, 6) if isinstance(v, float) else v
            for k, v in results.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        measured_on = f"metrics on the {len(test)}-image test split"
        if model.can("reconstruct"):
            images, _ = next(iterate_batches(test, 10, model.device))
            with torch.no_grad():
                save_reconstructions(model, images, folder / "reconstructions.png", overwrite=True)
            reconstructions = "reconstructions.png"
        if dataset == "mnist" and model.can("sample"):
            digits, sample_protocol = measure_digits(model, test, args)
            metrics.update(digits)
            measured_on += f"; {sample_protocol}"
    else:
        metrics, measured_on = measure_generator(model, dataset, args)

    samples = draw_grid(model, folder, args.grid_rows).name if model.can("sample") else None
    model.lineage, command, seconds = shipped_lineage(
        model.lineage, summary, metrics, args.name, args.device_name
    )
    training = {
        "seed": train_config["seed"],
        "labels": train_config.get("labels"),
        "label_seed": train_config.get("label_seed"),
        "steps": summary["steps"],
        "device": args.device_name or summary["device"],
        "wall time (s)": seconds,
        "torch": summary.get("torch") or args.trained_torch or "unknown",
        "data": f"{dataset} train split; {measured_on}",
    }
    training = {key: value for key, value in training.items() if value is not None}
    if args.note:
        training["note"] = args.note
    if dataset == "mnist":
        training["data"] += (
            " (the training images carry a 1/255 grey-level rebuild error on ~3% of pixels)"
        )
    if dataset == "art64":
        training["data"] = ART_PROVENANCE
        training["metrics"] = measured_on
    best = json.loads((args.run / "best.json").read_text()) if args.run.name == "best" else None
    if best is not None:
        training["kept best"] = (
            f"step {best['step']} of {summary['steps']} by {best['metric']} "
            f"{best['value']:.4g} (the trainer's keep_best)"
        )
    online = online_weights(args.run)  # what a next leg trains on (--init-from)
    if online is not None:
        save_weights(online, folder / ONLINE_WEIGHTS_NAME, dtype=torch.float16)
    export_pretrained(
        model,
        folder,
        dtype=torch.float16,
        metrics=metrics,
        command=command,
        training=training,
        samples=samples,
        model_name=args.name,
        reconstructions=reconstructions,
    )
    catalog = json.loads(CATALOG_FILE.read_text())
    entry = {
        "name": args.name,
        "architecture": model.architecture,
        "dataset": dataset,
        "description": args.description,
        "bundled": True,
        "metrics": metrics,
        "command": command,  # as the card shows it
    }
    catalog["models"] = [m for m in catalog["models"] if m["name"] != args.name] + [entry]
    catalog["models"].sort(key=lambda m: m["name"])
    CATALOG_FILE.write_text(json.dumps(catalog, indent=2) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(json.dumps({"name": args.name, "folder": str(folder), "bytes": size, **metrics}))


def shipped_lineage(
    lineage: list[dict[str, Any]],
    summary: dict[str, Any],
    metrics: dict[str, Any],
    name: str,
    device_name: str | None = None,
) -> tuple[list[dict[str, Any]], str | None, float]:
    """The lineage, the card's command and the wall seconds of the leg a bundle adds.

    The run's last leg holds every fit of a resumed run and, for a later stage, the stage
    it continues; the summary holds the last fit only. A run of an older ganzoo, without a
    lineage, gets its one leg from its summary. The last leg's metrics become ``metrics``
    (measured on what ships) and the commands are made runnable by another user.
    """
    if not lineage:
        lineage = [
            make_leg(
                init_from=None,
                command=summary["command"],
                steps=int(summary["steps"]) if str(summary["steps"]).isdigit() else 0,
                seconds=float(summary["seconds"]),
                device=device_name or summary["device"],
                metrics={},
                version=ganzoo.__version__,
            )
        ]
    # the measured numbers replace the run's own (a few-sample FID, the kept step)
    leg = {**lineage[-1], "metrics": dict(metrics)}
    legs, command = runnable_lineage([*lineage[:-1], leg], leg["command"], name)
    return legs, command, float(leg["seconds"])


def redraw_grid(name: str, rows: int) -> Path:
    """Draw a bundled generator's grid again, ``rows`` × ``rows``; weights and card stay."""
    try:
        folder = get_pretrained_info(name).folder
    except GanzooError as error:
        raise SystemExit(f"error: {error}") from None
    model = load_folder(folder)
    if not model.can("sample"):
        raise SystemExit(f"error: {name} does not sample, so it has no grid")
    return draw_grid(model, folder, rows)


def draw_grid(model: ganzoo.ZooModel, folder: Path, rows: int) -> Path:
    """Draw ``rows`` × ``rows`` samples of ``model`` (seed 0) as ``folder/samples.png``."""
    if rows < 1:
        raise SystemExit(f"error: --grid-rows is {rows}; give 1 or more")
    with torch.no_grad():
        save_grid(model.sample(rows * rows, seed=0), folder / "samples.png", nrow=rows)
    return folder / "samples.png"


def recorded_training(card: str) -> dict[str, str]:
    """The facts of a card's Training list (``- key: value``), unescaped as they were given."""
    section = card.split("\n## Training\n", 1)[-1].split("\n## ", 1)[0]
    facts = {}
    for line in section.splitlines():
        if line.startswith("- ") and ": " in line:
            key, _, value = line[2:].partition(": ")
            facts[_unescape(key)] = _unescape(value)
    return facts


def _unescape(text: str) -> str:
    """The inverse of :func:`ganzoo.card_text.md_text` on its output."""
    for safe, raw in (("\\`", "`"), ("]\\(", "]("), ("&gt;", ">"), ("&lt;", "<"), ("&amp;", "&")):
        text = text.replace(safe, raw)
    return text


def render_bundled(name: str) -> tuple[str, dict[str, Any], str]:
    """A bundled checkpoint's card, ``config.json`` and catalog command, re-rendered.

    From what its folder and catalog entry hold: the config (its lineage's commands made
    runnable), the catalog's metrics and command, the card's training facts and the
    pictures present. Nothing is measured and nothing is written.
    """
    info = get_pretrained_info(name)
    folder = info.folder
    config = json.loads((folder / "config.json").read_text())
    legs, command = runnable_lineage(config.get("lineage") or [], info.command, name)
    if "lineage" in config:
        config["lineage"] = legs
    model = load_folder(folder)
    model.lineage = legs
    pictures = {
        key: file if (folder / file).is_file() else None
        for key, file in (("samples", "samples.png"), ("reconstructions", "reconstructions.png"))
    }
    card = model.generate_model_card(
        metrics=dict(info.metrics),
        command=command,
        training=recorded_training((folder / "README.md").read_text()),
        model_name=name,
        model_id=name,
        **pictures,
    )
    return str(card), config, command or ""


def rerender_cards() -> None:
    """Write every bundled card, its config's lineage commands and its catalog command."""
    catalog = json.loads(CATALOG_FILE.read_text())
    for entry in catalog["models"]:
        if not entry.get("bundled"):
            continue
        card, config, command = render_bundled(entry["name"])
        folder = PRETRAINED_DIR / entry["name"]
        (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        (folder / "README.md").write_text(card)
        entry["command"] = command
        print(f"re-rendered {folder / 'README.md'}")
    CATALOG_FILE.write_text(json.dumps(catalog, indent=2) + "\n")
    load_catalog.cache_clear()


def online_weights(run: Path) -> dict[str, torch.Tensor] | None:
    """The run's non-averaged generator: its export's file, or (older runs) its checkpoint's.

    ``None`` for a run without an EMA (its exported generator is the trained one).
    """
    if (run / ONLINE_WEIGHTS_NAME).is_file():
        return load_file(str(run / ONLINE_WEIGHTS_NAME))
    checkpoint = run / "checkpoint"
    if not (checkpoint / "ema.safetensors").is_file():
        return None
    weights = load_file(str(checkpoint / "model.safetensors"))  # the EMA follows the generator
    return {k: v for k, v in weights.items() if k.startswith("generator.")} or None


def merge_stages(earlier: dict, later: dict) -> dict:
    """One summary of a model trained in two runs: both commands, steps and times."""
    return {
        **later,
        "command": f"{earlier['command']} && {later['command']}",
        "steps": f"{earlier['steps']} + {later['steps']} (stage by stage)",
        "seconds": round(earlier["seconds"] + later["seconds"], 2),
    }


def measure_digits(
    model: ganzoo.ZooModel, test: ImageDataset, args: argparse.Namespace, n: int = 2000
) -> tuple[dict[str, float], str]:
    """What ``ganzoo eval <model> --metric fid,confidence,balance --feature mnist-classifier``
    measures for an MNIST generator (``agreement`` too for a conditional one), and the protocol.
    """
    train = load_dataset("mnist", "train", root=args.data_root)
    names = "fid,confidence,balance" + (",agreement" if getattr(model, "conditional", 0) else "")
    found = sample_metrics(
        model,
        train,
        n,
        metrics=names,
        feature=CLASSIFIER,
        split="train",
        floor_data=test,
        floor_split="test",
    )
    metrics = {
        "samples_fid": round(found["fid"], 6),
        "samples_fid_floor": round(found["floor"]["fid"], 6),
        "samples_confidence": round(found["confidence"], 6),
        "samples_kl_uniform": round(found["kl_uniform"], 6),
        "samples_min_class_share": round(min(found["class_shares"]), 6),
        "samples_max_class_share": round(max(found["class_shares"]), 6),
    }
    if "agreement" in found:
        metrics["samples_agreement"] = round(found["agreement"], 6)
    protocol = (
        f"samples_*: {n} samples (seed 0) read by ganzoo's MNIST metric classifier "
        f"({CLASSIFIER}): FID in its features against all {len(train)} training images "
        f"(floor: {n} test images against them), the share read with confidence >= 0.9, "
        "the class shares' KL from uniform and their extremes"
        + ("; agreement: the share read as the digit asked for" if "agreement" in found else "")
    )
    return metrics, protocol


def measure_generator(
    model: ganzoo.ZooModel, dataset: str, args: argparse.Namespace
) -> tuple[dict[str, float], str]:
    """FID and KID of ``--fid-samples`` images against the whole training set, and the protocol."""
    real = load_dataset(dataset, "train", root=args.data_root)
    results = generative_metrics(
        model, real, n=args.fid_samples, metrics="fid,kid", feature=args.feature, split="train"
    )
    metrics = {key: round(results[key], 6) for key in ("fid", "kid", "kid_std")}
    kid = results["protocol"]["kid"]
    protocol = (
        f"FID/KID of {args.fid_samples} generated images (seed 0) against all {len(real)} "
        f"{dataset} training images, {args.feature} features; KID over {kid['subsets']} "
        f"subsets of {kid['subset_size']}"
    )
    if args.floor is not None:
        floor = json.loads(args.floor.read_text())
        halves = floor["runs"][0]["protocol"]["halves"]
        protocol += (
            f"; the data set's own floor (one random half of it against the other, "
            f"{halves} images each, mean of {len(floor['runs'])} splits): "
            f"FID {floor['mean_over_seeds']['fid']:.2f}, KID {floor['mean_over_seeds']['kid']:.5f}"
        )
    return metrics, protocol


if __name__ == "__main__":
    main()
