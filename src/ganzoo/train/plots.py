"""Pictures of a run, like the report's figures: loss curves and evaluation metrics over steps."""

from __future__ import annotations

from pathlib import Path

from ganzoo.train.run_folder import METRICS_NAME, read_metrics

__all__ = ["plot_run", "read_metrics"]


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draw ``plots/losses.png`` and ``plots/evaluation.png`` from ``<run>/metrics.jsonl``.

    Unreadable lines of the log (e.g. one cut off by a kill) are skipped.
    Returns the files written (none when matplotlib, the ``plots`` extra, is missing).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    run_dir = Path(run_dir)
    records = read_metrics(run_dir / METRICS_NAME)
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, name, title in (
        ("train", "losses.png", "training losses"),
        ("eval", "evaluation.png", "evaluation (accuracy, FID, ...)"),
    ):
        rows = [r for r in records if r.get("kind") == kind]
        keys = sorted(
            {k for r in rows for k, v in r.items() if k not in ("step", "kind") and _number(v)}
        )
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if _number(r.get(key))]
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


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
