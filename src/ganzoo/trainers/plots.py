"""Pictures of a run, like the report's figures: loss curves and test accuracy over steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ganzoo.trainers.callbacks import Callback

if TYPE_CHECKING:
    from ganzoo.trainers.base import Trainer


def read_metrics(path: str | Path) -> list[dict]:
    """Records of a ``metrics.jsonl`` file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draw ``plots/losses.png`` and ``plots/accuracy.png`` from ``<run>/metrics.jsonl``.

    Returns the files written (none when matplotlib, the ``plots`` extra, is missing).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    run_dir = Path(run_dir)
    records = read_metrics(run_dir / "metrics.jsonl")
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, name, title in (
        ("train", "losses.png", "training losses"),
        ("eval", "accuracy.png", "evaluation"),
    ):
        rows = [r for r in records if r.get("kind") == kind]
        keys = sorted({k for r in rows for k in r if k not in ("step", "kind")})
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            ax.plot([p[0] for p in points], [p[1] for p in points], label=key)
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(out / name)
    return written


class TrainingPlots(Callback):
    """Draws the run's loss and accuracy curves into ``<out>/plots/`` at the end of training."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def on_fit_end(self, trainer: Trainer) -> None:
        """Plot from ``metrics.jsonl`` (says so on stderr if matplotlib is missing)."""
        if trainer.out_dir is None or not (trainer.out_dir / "metrics.jsonl").is_file():
            return
        self.paths = plot_run(trainer.out_dir)
        if not self.paths and not trainer.config.quiet:
            print("plots skipped: install matplotlib (pip install -e '.[plots]')", file=sys.stderr)
