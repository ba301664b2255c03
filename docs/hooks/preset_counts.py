"""MkDocs hook: parameter counts of every preset, measured from the networks at build time.

The marker ``<!-- preset-counts: dcgan wgan wgan-gp -->`` becomes a table with one row
per architecture and preset: the generator's and the discriminator's parameters, counted
as Keras counts them (weights plus BatchNorm moving statistics, the report's convention),
and the trainable parameters of the whole model. The numbers are never typed in.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!--\s*preset-counts:\s*(?P<names>[\w\s-]+?)\s*-->")


def _count(module: Any) -> str:
    from ganzoo.models.base import keras_parameter_count

    return f"{keras_parameter_count(module):,}" if module is not None else "-"


def render_counts(architectures: list[str]) -> str:
    """A Markdown table of each preset's generator, discriminator and total parameters."""
    import torch

    from ganzoo.registry import get_model_entry

    rows = [
        "| architecture | preset | generator (Keras count) | discriminator (Keras count) "
        "| trainable parameters |",
        "|---|---|---:|---:|---:|",
    ]
    for name in architectures:
        entry = get_model_entry(name)
        for preset in sorted(entry.presets, key=lambda p: p != entry.default_preset):
            with torch.device("meta"):  # shapes only: nothing is allocated
                model = entry.cls(entry.presets[preset])
            total = sum(p.numel() for p in model.parameters())
            g = getattr(model, "generator", None)
            d = getattr(model, "discriminator", None)
            rows.append(
                f"| `{name}` | `{preset}` | {_count(g)} | {_count(d)} | {total:,} |"
            )
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace every preset-counts marker with its table."""

    def replace(match: re.Match[str]) -> str:
        try:
            return render_counts(match.group("names").split())
        except Exception as exc:  # noqa: BLE001 - any failure must stop the build, named
            raise PluginError(f"preset-counts {match.group('names')!r}: {exc}") from exc

    return MARKER.sub(replace, markdown)
