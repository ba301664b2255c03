"""Sample digits from a pretrained SGAN and let its own discriminator read them.

    python examples/sample_and_classify.py --out digits.png
    python examples/sample_and_classify.py --model runs/sgan100 -n 100 --device cuda

The SGAN's discriminator is also a 10-class classifier, so the samples it draws can be
labeled by the same network: a quick check that the generator covers every digit.
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch

import ganzoo
from ganzoo.io.images import save_grid


def main(argv: list[str] | None = None) -> dict[int, int]:
    """Save a sample grid, print the predicted digit of each sample; return the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sgan-mnist-100", help="pretrained name or folder")
    parser.add_argument("-n", type=int, default=64, help="number of samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="digits.png", help="PNG grid to write")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    args = parser.parse_args(argv)

    model = ganzoo.from_pretrained(args.model, device=args.device)
    with torch.inference_mode():
        images = model.sample(args.n, seed=args.seed)
        predicted = model.classify(images).argmax(dim=1).tolist()
    columns = 8
    save_grid(images, args.out, nrow=columns, value_range=model.value_range)
    print(f"{args.n} samples in {args.out}; the discriminator reads them as:")
    for row in range(0, args.n, columns):
        print("  " + " ".join(str(d) for d in predicted[row : row + columns]))
    counts = Counter(predicted)
    print("per digit:", {digit: counts.get(digit, 0) for digit in range(10)})
    return dict(counts)


if __name__ == "__main__":
    main()
