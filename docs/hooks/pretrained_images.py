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


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Replace ``<!-- pretrained-samples -->`` with every bundled checkpoint's grid."""
    if MARKER not in markdown:
        return markdown
    root = Path(config["config_file_path"]).parent / PRETRAINED
    up = "../" * page.file.src_uri.count("/")
    blocks = [
        f"**`{grid.parent.name}`** (`ganzoo sample {grid.parent.name} -n 100 --seed 0`)\n\n"
        f"![samples of {grid.parent.name}]({up}pretrained/{grid.parent.name}/samples.png)"
        for grid in sorted(root.glob("*/samples.png"))
    ]
    return markdown.replace(MARKER, "\n\n".join(blocks) or "No sample grids are bundled.")
