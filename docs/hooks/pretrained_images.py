"""MkDocs hook: publish each bundled checkpoint's sample grid (and reconstructions) with the site.

The grids live beside the weights (``src/ganzoo/pretrained/<name>/samples.png``) and are
not copied into ``docs/``; this hook adds each one to the site as
``pretrained/<name>/samples.png`` (a VQ-VAE's picture of test images above their
reconstructions as ``pretrained/<name>/reconstructions.png``), so a page links it as
``../pretrained/dcgan-art64/samples.png`` (from ``docs/models/``) and the picture is
always the one that ships.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

PRETRAINED = Path("src") / "ganzoo" / "pretrained"


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add every bundled ``samples.png`` and ``reconstructions.png`` to the site's files."""
    root = Path(config["config_file_path"]).parent / PRETRAINED
    for picture in sorted([*root.glob("*/samples.png"), *root.glob("*/reconstructions.png")]):
        uri = f"pretrained/{picture.parent.name}/{picture.name}"
        files.append(File.generated(config, uri, abs_src_path=str(picture)))
    return files


MARKER = "<!-- pretrained-samples -->"
GALLERY = "<!-- pretrained-gallery -->"
GALLERY_COLUMNS = 3


def _gallery(grids: list[Path], up: str) -> str:
    """A table of small sample grids, ``GALLERY_COLUMNS`` to a row, each named below."""
    cells = [
        f"![samples of {g.parent.name}]({up}pretrained/{g.parent.name}/samples.png)"
        f'{{ width="220" }}<br>`{g.parent.name}`'
        for g in grids
    ]
    rows = [cells[i : i + GALLERY_COLUMNS] for i in range(0, len(cells), GALLERY_COLUMNS)]
    width = min(GALLERY_COLUMNS, len(cells))
    lines = ["|" + " |" * width, "|" + "---|" * width]
    lines += ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Put every bundled checkpoint's sample grid where the page asks for it.

    ``<!-- pretrained-samples -->`` becomes one full-size grid per checkpoint with the
    command that draws it; ``<!-- pretrained-gallery -->`` a compact table of them.
    """
    if MARKER not in markdown and GALLERY not in markdown:
        return markdown
    root = Path(config["config_file_path"]).parent / PRETRAINED
    up = "../" * page.file.src_uri.count("/")
    grids = sorted(root.glob("*/samples.png"))
    blocks = [
        f"**`{grid.parent.name}`** (`ganzoo sample {grid.parent.name} -n 100 --seed 0`)\n\n"
        f"![samples of {grid.parent.name}]({up}pretrained/{grid.parent.name}/samples.png)"
        for grid in grids
    ]
    none = "No sample grids are bundled."
    markdown = markdown.replace(MARKER, "\n\n".join(blocks) or none)
    return markdown.replace(GALLERY, _gallery(grids, up) if grids else none)
