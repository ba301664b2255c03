"""Show where a classifier errs: its largest confusions, as rows of test images.

    python examples/largest_confusions.py --out confusions.png
    python examples/largest_confusions.py --model cnn-mnist-100 --top 5

Prints each class's accuracy and the largest confusions (as ``ganzoo eval`` does),
then saves one row of misclassified test images per confusion, largest first.
"""

from __future__ import annotations

import argparse

import torch

import ganzoo
from ganzoo.data import iterate_batches, load_dataset
from ganzoo.io.images import save_grid
from ganzoo.metrics.classification import confusion_matrix, confusion_summary


def main(argv: list[str] | None = None) -> list[dict]:
    """Save the picture and return the confusions it shows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sgan-mnist-100", help="pretrained name or folder")
    parser.add_argument("--dataset", default=None, help="default: the model's own")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--top", type=int, default=3, help="confusions to show")
    parser.add_argument("--per-row", type=int, default=16, help="images per confusion")
    parser.add_argument("--out", default="confusions.png")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    args = parser.parse_args(argv)

    model = ganzoo.from_pretrained(args.model, device=args.device)
    data = load_dataset(
        args.dataset or model.data_contract()["dataset"], args.split, args.data_root
    )
    summary = confusion_summary(confusion_matrix(model, data), top=args.top)
    print("accuracy of each class:", summary["class_accuracy"])

    images, predicted = [], []
    with torch.inference_mode():
        for x, _ in iterate_batches(data, 1000, model.device):
            images.append(x.cpu())
            predicted.append(model.classify(x).argmax(dim=1).cpu())
    images, predicted = torch.cat(images), torch.cat(predicted)
    blank = torch.full_like(images[0], model.value_range[0])
    rows = []
    for c in summary["confusions"]:
        print(f"{c['count']:>5} test {c['true']}s read as {c['predicted']} ({c['share']:.2%})")
        chosen = (data.labels == c["true"]) & (predicted == c["predicted"])
        row = list(images[chosen][: args.per_row])
        rows += row + [blank] * (args.per_row - len(row))
    if rows:
        save_grid(torch.stack(rows), args.out, nrow=args.per_row, value_range=model.value_range)
        print(f"one row per confusion in {args.out}")
    return summary["confusions"]


if __name__ == "__main__":
    main()
