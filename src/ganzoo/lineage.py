"""A model's lineage: the training runs ("legs") its weights went through, oldest first.

Each run that exports a model appends one leg to the lineage of the weights it started
from (none for a run from scratch; the source's for ``--init-from``), and the list
travels in ``config.json`` under ``"lineage"``. The model card shows it as a table and
``train_summary.json`` repeats it with the total steps, so a checkpoint trained in
several legs — or fine-tuned from a pretrained one — says how it came to be.

The list comes from files a user may hand over, so :func:`check_lineage` reads it
defensively: a bounded number of legs, each a flat object of short strings and numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ganzoo.card_text import md_cell
from ganzoo.errors import GanzooError

#: The key of ``config.json`` that holds the lineage.
LINEAGE_KEY = "lineage"
#: At most this many legs are kept (the oldest beyond it are dropped when a leg is added).
MAX_LEGS = 64
_MAX_TEXT = 2000
_LEG_FIELDS = ("init_from", "command", "steps", "seconds", "device", "metrics", "ganzoo_version")


def _plain(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise GanzooError(f"{where} is {len(value)} characters long; re-save the checkpoint")
        return value
    raise GanzooError(f"{where} must be a string or a number, got {type(value).__name__}")


def check_lineage(raw: Any, source: str) -> list[dict[str, Any]]:
    """The lineage read from a checkpoint's ``config.json``, checked and cleaned.

    Unknown fields of a leg are dropped; a metrics object keeps only plain numbers.

    Raises:
        GanzooError: naming ``source``, if it is not a list of legs of plain values.

    """
    if raw is None:
        return []
    where = f"{source}: '{LINEAGE_KEY}'"
    if not isinstance(raw, list):
        raise GanzooError(f"{where} must be a list of training runs; re-save the checkpoint")
    if len(raw) > MAX_LEGS:
        raise GanzooError(f"{where} has {len(raw)} legs (at most {MAX_LEGS}); not ganzoo's")
    legs = []
    for i, leg in enumerate(raw):
        if not isinstance(leg, dict):
            raise GanzooError(f"{where} entry {i} must be an object; re-save the checkpoint")
        clean: dict[str, Any] = {}
        for key in _LEG_FIELDS:
            if key not in leg:
                continue
            if key == "metrics":
                metrics = leg[key]
                if not isinstance(metrics, dict) or len(metrics) > 64:
                    raise GanzooError(f"{where} entry {i}: metrics must be a small object")
                clean[key] = {
                    str(name)[:100]: _plain(value, f"{where} entry {i} metric {name!r}")
                    for name, value in _numbers(metrics).items()
                }
            else:
                clean[key] = _plain(leg[key], f"{where} entry {i} field '{key}'")
        legs.append(clean)
    return legs


def make_leg(
    *,
    init_from: str | None,
    command: str | None,
    steps: int,
    seconds: float,
    device: str,
    metrics: Mapping[str, Any] | None,
    version: str,
) -> dict[str, Any]:
    """One leg's record: where it started, how it was run, how long, what it measured."""
    return {
        "init_from": init_from,
        "command": command,
        "steps": int(steps),
        "seconds": round(float(seconds), 1),
        "device": device,
        "metrics": _numbers(metrics or {}),
        "ganzoo_version": version,
    }


def _numbers(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``metrics`` that are numbers (not booleans, lists or text)."""
    return {
        k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def extend(lineage: Sequence[Mapping[str, Any]], leg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``lineage`` with ``leg`` appended (the oldest legs dropped beyond :data:`MAX_LEGS`)."""
    return [dict(x) for x in (*lineage, leg)][-MAX_LEGS:]


def join_commands(commands: Sequence[str | None]) -> str | None:
    """Commands run one after the other, as one line (``a && b``); ``None`` without any."""
    return " && ".join(c for c in commands if c) or None


def fold_stage(
    lineage: Sequence[Mapping[str, Any]], leg: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``lineage`` with a later stage's ``leg`` folded into the leg it continues (the last).

    A later stage (a VQ-VAE's prior, ``--stage prior --from RUN``) trains on the model
    the last leg made; with that stage it is one leg: both commands (``a && b``), both
    times and the later stage's metrics, counted in the first stage's steps. Without an
    earlier leg it is the first one.
    """
    if not lineage:
        return extend(lineage, leg)
    first = lineage[-1]
    folded = {
        **first,
        "command": join_commands([first.get("command"), leg.get("command")]),
        "seconds": round(float(first.get("seconds") or 0) + float(leg.get("seconds") or 0), 2),
        "metrics": dict(leg.get("metrics") or {}),
    }
    return [*(dict(x) for x in lineage[:-1]), folded]


def total_steps(lineage: Sequence[Mapping[str, Any]]) -> int:
    """The optimisation steps of every leg together (legs of unknown length count 0)."""
    return sum(int(leg.get("steps") or 0) for leg in lineage)


def table_rows(lineage: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The model card's lineage table: leg, start, steps and time (each also cumulative)."""
    rows, cumulative, seconds = [], 0, 0.0
    for i, leg in enumerate(lineage, 1):
        steps = int(leg.get("steps") or 0)
        cumulative += steps
        seconds += float(leg.get("seconds") or 0.0)
        metrics = leg.get("metrics") or {}
        rows.append(
            {
                "leg": str(i),
                "init_from": md_cell(leg.get("init_from") or "scratch"),
                "steps": f"{steps:,}",
                "total_steps": f"{cumulative:,}",
                "total_hours": f"{seconds / 3600:.2f}",
                "device": md_cell(leg.get("device") or ""),
                "metrics": md_cell(", ".join(f"{k} {_short(v)}" for k, v in metrics.items())),
                "command": md_cell(leg.get("command") or ""),
            }
        )
    return rows


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
