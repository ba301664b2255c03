"""Griffe extension: render the reST roles used in ganzoo's docstrings as links.

The docstrings are Google style but refer to other objects with Sphinx roles
(``:func:`from_pretrained```, ``:class:`~ganzoo.data.ImageDataset```). Markdown
would show those literally. This extension rewrites each role into an *optional*
autorefs cross-reference: a link when the target is on one of the API pages, plain
code otherwise, and never a build warning. A reST literal-block marker (``text::``)
becomes a colon, and ``# doctest: +SKIP`` directives are dropped from examples.

Loaded by mkdocstrings (``extensions:`` in ``mkdocs.yml``); it changes only the
rendered docs, never the source.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const):`([^`]+)`")
_LITERAL_MARKER = re.compile(r"(\S)::[ \t]*\n(?=[ \t]*\n)")
_BARE_LITERAL_MARKER = re.compile(r"^[ \t]*::[ \t]*\n", flags=re.MULTILINE)
_DOCTEST_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*doctest:[^\n]*", flags=re.IGNORECASE)


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """Full dotted path of ``target`` as seen from ``obj``'s scope, or ``None``."""
    if target.startswith("ganzoo."):
        return target
    head, _, rest = target.partition(".")
    try:
        path = obj.resolve(head)
    except (griffe.NameResolutionError, Exception):  # noqa: BLE001 - unresolvable names stay text
        return None
    return f"{path}.{rest}" if rest else path


def _rewrite(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        raw = match.group(1).strip()
        short = raw.startswith("~")
        target = raw.lstrip("~.")
        title = target.rsplit(".", 1)[-1] if short else target
        code = f"<code>{html.escape(title)}</code>"
        identifier = _resolve(obj, target)
        if identifier is None:
            return code
        return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'

    text = _ROLE.sub(replace, text)
    text = _LITERAL_MARKER.sub(r"\1:\n", text)
    text = _BARE_LITERAL_MARKER.sub("", text)
    return _DOCTEST_DIRECTIVE.sub("", text)


class RstRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package once it is fully loaded."""
        self._walk(pkg, seen=set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = _rewrite(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)
