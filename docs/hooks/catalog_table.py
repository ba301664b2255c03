"""MkDocs hook: generate the pretrained-models table from the catalog at build time.

The catalog (``src/ganzoo/pretrained/catalog.json``) is the single source of truth
for pretrained checkpoints. This hook reads the JSON directly (no ``import ganzoo``,
no torch) and replaces the marker ``<!-- catalog-table -->`` in any page with a
Markdown table, so the docs can never disagree with ``ganzoo list``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = "<!-- catalog-table -->"
CATALOG = Path("src") / "ganzoo" / "pretrained" / "catalog.json"
EMPTY = "No pretrained checkpoints are bundled yet."


def _cell(value: Any) -> str:
    """One table cell: text with pipes escaped and newlines flattened."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _code(value: str) -> str:
    return f"`{value}`" if value else ""


def _where(entry: dict[str, Any]) -> str:
    places = []
    if entry.get("bundled"):
        places.append("bundled")
    repo_id = entry.get("repo_id")
    if repo_id:
        revision = entry.get("revision") or "main"
        places.append(_code(repo_id) + ("" if revision == "main" else f" @ `{revision}`"))
    return ", ".join(places) or "-"


def _metrics(metrics: dict[str, Any] | None, most: int | None = None) -> str:
    """``name value`` pairs; with ``most``, the first ``most`` without spreads (``*_std``)."""
    items = list((metrics or {}).items())
    if most is not None:
        items = [(k, v) for k, v in items if not k.endswith("_std")][:most]
    return ", ".join(f"{name} {value}" for name, value in items) or "-"


def render_catalog(catalog: dict[str, Any]) -> str:
    """Markdown for the catalog: a narrow table, then each checkpoint's details.

    The table holds what a reader compares (name, architecture, data set, the first
    metrics, where it lives); the description, every metric and the training command
    follow per checkpoint, so the table fits a page without scrolling sideways.
    """
    models = sorted(catalog.get("models") or [], key=lambda m: m.get("name", ""))
    if not models:
        return EMPTY
    lines = [
        "| name | architecture | dataset | results | where |",
        "|---|---|---|---|---|",
    ]
    for m in models:
        cells = [
            f"[{_code(_cell(m.get('name')))}](#{_cell(m.get('name'))})",
            _code(_cell(m.get("architecture"))),
            _cell(m.get("dataset")),
            _cell(_metrics(m.get("metrics"), most=2)),
            _cell(_where(m)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "### Each checkpoint", ""]
    for m in models:
        name = _cell(m.get("name"))
        about = f"**{_code(name)}**: {_cell(m.get('description'))}"
        lines += [f'<a id="{name}"></a>', "", about, ""]
        lines += [f"Measured: {_cell(_metrics(m.get('metrics')))}.", ""]
        if m.get("command"):
            lines += ["Trained with:", "", "```bash", m["command"].strip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _catalog_path(config: Any) -> Path:
    return Path(config.config_file_path).resolve().parent / CATALOG


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Replace the marker with the rendered catalog."""
    if MARKER not in markdown:
        return markdown
    path = _catalog_path(config)
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PluginError(f"cannot read the pretrained catalog {path}: {exc}") from exc
    return markdown.replace(MARKER, render_catalog(catalog))
