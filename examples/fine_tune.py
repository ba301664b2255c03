"""Fine-tune a pretrained semi-supervised model on a labeled subset, from Python.

    python examples/fine_tune.py --steps 500 --out runs/fine-tune
    python examples/fine_tune.py --model cnn-mnist-100 --labels 1000 --lr 1e-4

It is the loop ``ganzoo train`` runs, driven by hand: a pretrained model, a trainer
recipe with a few fields changed, a callback that prints each evaluation, and the test
accuracy before and after. The run folder ends up loadable with
``ganzoo.from_pretrained(out)``.
"""

from __future__ import annotations

import argparse

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.metrics.classification import accuracy
from ganzoo.train.callbacks import Callback
from ganzoo.train.launch import build_train_config


class PrintEvaluation(Callback):
    """Print every evaluation the trainer runs."""

    def on_evaluate(self, trainer, step: int, metrics: dict[str, float]) -> None:
        """Called by the trainer after each evaluation."""
        print(f"step {step:>6}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Fine-tune and return ``{"before": accuracy, "after": accuracy}`` on the test split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sgan-mnist-100", help="pretrained name or folder")
    parser.add_argument("--dataset", default="mnist", help="data set name or npz:<file>")
    parser.add_argument("--eval-split", default="test", help="split to measure on")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--recipe", default="best", help="trainer recipe to start from")
    parser.add_argument("--labels", type=int, default=100, help="labeled training images")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/fine-tune", help="run folder")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    args = parser.parse_args(argv)

    model = ganzoo.from_pretrained(args.model, device=args.device)
    data = load_dataset(args.dataset, "train", root=args.data_root)
    test = load_dataset(args.dataset, args.eval_split, root=args.data_root)
    before = accuracy(model, test)
    print(f"{args.model}: test accuracy {before:.4f} before fine-tuning")

    trainer_cls = ganzoo.get_trainer(model.architecture)
    config = build_train_config(
        trainer_cls,
        args.recipe,
        steps=args.steps,
        lr=args.lr,
        labels=args.labels,
        eval_every=args.eval_every,
        seed=args.seed,
        out_dir=args.out,
        device=args.device,
    )
    trainer = trainer_cls(model, data, config, eval_data=test, callbacks=[PrintEvaluation()])
    result = trainer.fit()
    tuned = ganzoo.from_pretrained(args.out, device=args.device)  # what the run folder holds
    after = accuracy(tuned, test)
    print(f"after {result.steps} steps ({result.seconds:.1f} s): {after:.4f}; saved in {args.out}")
    return {"before": before, "after": after}


if __name__ == "__main__":
    main()
