"""MkDocs hook: parameter counts of every preset, measured from the networks at build time.

The marker ``<!-- preset-counts: dcgan wgan wgan-gp -->`` becomes a table with one row
per architecture and preset: the parameters of each of the model's networks, counted as
Keras counts them (weights plus BatchNorm moving statistics, the report's convention),
and the trainable parameters of the whole model. The numbers are never typed in.

The columns are the networks the listed models have: a GAN's generator and
discriminator; a VQ-VAE's encoder, codebook and decoder, and the prior that
``attach_prior()`` gives it by default (a model's own total leaves the prior out, as a
preset has none until the prior stage trains one).
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"<!--\s*preset-counts:\s*(?P<names>[\w\s-]+?)\s*-->")

#: The networks a model may have, in column order: (attribute, column title).
PARTS = (
    ("generator", "generator"),
    ("discriminator", "discriminator"),
    ("encoder", "encoder"),
    ("quantizer", "codebook"),
    ("decoder", "decoder"),
    ("prior", "default prior"),
)


def _count(module: Any) -> str:
    from ganzoo.models.base import keras_parameter_count

    return f"{keras_parameter_count(module):,}" if module is not None else "-"


def _parts(model: Any) -> tuple[dict[str, Any], int]:
    """The model's networks by attribute, and its trainable parameters without a prior."""
    total = sum(p.numel() for p in model.parameters())
    parts = {name: getattr(model, name, None) for name, _ in PARTS}
    if parts["prior"] is None and callable(getattr(model, "attach_prior", None)):
        parts["prior"] = model.attach_prior()
    return parts, total


def render_counts(architectures: list[str]) -> str:
    """A Markdown table of each preset's networks' parameters and its trainable total."""
    import torch

    from ganzoo.registry import get_model_entry

    rows = []
    for name in architectures:
        entry = get_model_entry(name)
        for preset in sorted(entry.presets, key=lambda p: p != entry.default_preset):
            with torch.device("meta"):  # shapes only: nothing is allocated
                model = entry.cls(entry.presets[preset])
                rows.append((name, preset, *_parts(model)))
    shown = [(a, t) for a, t in PARTS if any(parts[a] is not None for *_, parts, _ in rows)]
    header = " | ".join(f"{title} (Keras count)" for _, title in shown)
    lines = [
        f"| architecture | preset | {header} | trainable parameters |",
        "|---|---|" + "---:|" * len(shown) + "---:|",
    ]
    for name, preset, parts, total in rows:
        cells = " | ".join(_count(parts[a]) for a, _ in shown)
        lines.append(f"| `{name}` | `{preset}` | {cells} | {total:,} |")
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace every preset-counts marker with its table."""

    def replace(match: re.Match[str]) -> str:
        try:
            return render_counts(match.group("names").split())
        except Exception as exc:  # noqa: BLE001 - any failure must stop the build, named
            raise PluginError(f"preset-counts {match.group('names')!r}: {exc}") from exc

    return MARKER.sub(replace, markdown)
