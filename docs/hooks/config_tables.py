"""MkDocs hook: generate option tables from the config dataclasses at build time.

A page writes a marker where a table of a dataclass's fields belongs::

    <!-- config-table: ganzoo.train.config.TrainConfig -->

and the hook replaces it with a Markdown table of every field: its name, type, default and
description. The description is the field's entry in the ``Attributes:`` section of the
docstring of the class, or of the nearest base class that documents it (Google style, the
same text the API reference shows). So a table can never lack a field the code has, nor show
a default the code does not use. A field that no class in the MRO documents fails the build
(``mkdocs build --strict``) with the class and field named.

The classes are imported (the docs build runs with the package installed).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(
    r"^(?P<indent>[ \t]*)<!--\s*config-table:\s*(?P<path>[\w.]+)\s*-->[ \t]*$", re.MULTILINE
)
_ROLE = re.compile(r":(?:py:)?\w+:`~?([^`]+)`")
_SECTION = re.compile(r"^(?P<indent>\s*)Attributes:\s*$")
_ENTRY = re.compile(r"^(?P<name>\w+)(?:\s*\([^)]*\))?:\s*(?P<text>.*)$")


def docstring_attributes(cls: type) -> dict[str, str]:
    """The ``Attributes:`` entries of ``cls``'s own docstring, ``{name: description}``.

    Continuation lines (indented deeper than the entry) are joined with spaces.
    """
    doc = cls.__dict__.get("__doc__") or ""
    lines = inspect.cleandoc(doc).split("\n")
    entries: dict[str, str] = {}
    inside, entry_indent, name = False, None, None
    for line in lines:
        if not inside:
            inside = bool(_SECTION.match(line))
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:  # the next section (or prose) ends the attributes
            break
        if entry_indent is None:
            entry_indent = indent
        match = _ENTRY.match(line.strip())
        if indent == entry_indent and match:
            name = match["name"]
            entries[name] = match["text"].strip()
        elif indent > entry_indent and name is not None:
            entries[name] = f"{entries[name]} {line.strip()}".strip()
        else:
            break
    return entries


def field_descriptions(cls: type) -> dict[str, str | None]:
    """Every dataclass field of ``cls`` with its description from the MRO (``None``: none)."""
    documented: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # subclasses' words win
        documented.update(docstring_attributes(klass))
    return {f.name: documented.get(f.name) for f in dataclasses.fields(cls) if f.init}


def import_class(path: str) -> type:
    """Import ``package.module.Class``; a clear error when it is not a dataclass."""
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PluginError(f"config-table: cannot import {path}: {exc}") from exc
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise PluginError(f"config-table: {path} is not a dataclass")
    return cls


def _cell(text: str) -> str:
    """Table-cell text: reST roles as code, pipes escaped, one line."""
    text = _ROLE.sub(r"``\1``", text)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _type(field: dataclasses.Field) -> str:
    kind = field.type
    if not isinstance(kind, str):
        kind = getattr(kind, "__name__", str(kind))
    return " or ".join(f"`{part.strip()}`" for part in kind.split("|"))  # no pipe in a cell


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    text = repr(value)
    return f"`{text}`" if "|" not in text and "`" not in text else _cell(text)


def render_table(cls: type) -> str:
    """The Markdown table of ``cls``'s fields.

    Raises:
        PluginError: when a field has no description in any docstring of the MRO.
    """
    descriptions = field_descriptions(cls)
    missing = [name for name, text in descriptions.items() if not text]
    if missing:
        raise PluginError(
            f"config-table: {cls.__module__}.{cls.__qualname__} does not document "
            f"{', '.join(missing)}: add them to the Attributes: section of its docstring"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, text in descriptions.items():
        field = fields[name]
        lines.append(f"| `{name}` | {_type(field)} | {_default(field)} | {_cell(text or '')} |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Replace every ``<!-- config-table: ... -->`` marker with its table (kept at its indent)."""

    def table(match: re.Match) -> str:
        rendered = render_table(import_class(match["path"])).rstrip("\n").split("\n")
        return "\n".join(match["indent"] + line for line in rendered)

    return MARKER.sub(table, markdown)
