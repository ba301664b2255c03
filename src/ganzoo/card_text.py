"""What model cards and shared ``config.json`` files may say: escaped text, no local paths.

A card is built from text that users choose or hand over: data set names
(``folder:<dir>`` holds a path), command lines, metric names, lineage records read from
other people's checkpoints. Rendered as Markdown (and HTML) on the Hub, such text
could inject markup, so everything that goes into a card passes one of

- :func:`md_text` (a line of text), :func:`md_cell` (a table cell),
- :func:`code_fence` (a fence no backtick run inside the block can close).

And a checkpoint folder is meant to be shared, so absolute local paths (a data root,
an output folder, a local ``--init-from`` folder) are cut to their last component by
:func:`public_path` before they go into ``config.json`` or the card; data set names
and relative or Hub names stay as they are.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

# An argument that holds an absolute path: "--out=" / "key=" / "folder:" before it.
_PATH_ARGUMENT = re.compile(
    r"(?P<head>(?:-{1,2}[\w-]+=|[\w.]+=)?(?:(?:folder|npz|image):)?)"
    r"(?P<path>(?:~|/|[A-Za-z]:[\\/]).*)",
    re.DOTALL,
)


def _one_line(value: Any) -> str:
    """``value`` on one line with HTML's special characters as entities and no links."""
    text = " ".join(str(value).split())
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("](", "]\\(")):
        text = text.replace(raw, safe)
    return text


def md_text(value: Any) -> str:
    """``value`` as one line of Markdown text that renders as text, never as HTML.

    Line breaks collapse to spaces (so nothing starts a line: no ``---``, heading or
    table row), ``&``, ``<`` and ``>`` become entities, ``](`` cannot make a link and
    backticks are escaped (no code span, no fence at the start of a list item).
    """
    return _one_line(value).replace("`", "\\`")


def md_cell(value: Any) -> str:
    """``value`` as text that stays inside one Markdown table cell (see :func:`md_text`).

    Pipes are escaped and backticks become ``'`` (no code span across the row).
    """
    return _one_line(value).replace("|", "\\|").replace("`", "'")


def plain_name(value: Any) -> bool:
    """Whether ``value`` is a plain name for the card's YAML (``mnist``, ``test_accuracy``).

    Letters, digits, ``_``, ``-``, ``.``, ``/`` and spaces: no markup, and no ``folder:``
    or ``npz:`` data set, which is no name the Hub knows.
    """
    return isinstance(value, str) and re.fullmatch(r"[\w./ -]{1,100}", value) is not None


def code_fence(text: str) -> str:
    """A backtick fence longer than every backtick run in ``text`` (at least three).

    A fenced block opened with it can only be closed by a fence as long, which
    ``text`` cannot hold.
    """
    runs = [len(run) for run in re.findall(r"`+", text)]
    return "`" * max(3, max(runs, default=0) + 1)


def public_path(text: str) -> str:
    """An absolute local path (``/...``, ``~/...`` or ``C:/...``) cut to its last component.

    Anything else (a relative path, a data set or Hub name) is returned unchanged.
    """
    match = _PATH_ARGUMENT.fullmatch(text)
    if match is None:
        return text
    parts = [p for p in re.split(r"[\\/]+", match["path"]) if p]
    return match["head"] + (parts[-1] if parts else "")


def public_command(command: str | None) -> str | None:
    """``command`` with each argument that holds an absolute path cut to its last part.

    ``ganzoo train sgan --dataset folder:/home/me/cats --out /tmp/run`` becomes
    ``ganzoo train sgan --dataset folder:cats --out run``; a command without such
    arguments is returned as it is.
    """
    if not command:
        return command
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes (a hand-edited lineage): split on spaces
        return " ".join(public_path(word) for word in command.split())
    public = [public_path(word) for word in words]
    return command if public == words else shlex.join(public)


def public_lineage(lineage: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The lineage's legs with local paths cut from their commands and ``init_from``."""
    legs = []
    for leg in lineage:
        leg = dict(leg)
        for key, public in (("command", public_command), ("init_from", public_path)):
            if isinstance(leg.get(key), str):
                leg[key] = public(leg[key])
        legs.append(leg)
    return legs


def public_config(hub_config: Mapping[str, Any]) -> dict[str, Any]:
    """A ``config.json`` to share: the data set names and the lineage without local paths.

    ``config.dataset`` and ``data.dataset`` (``folder:/home/me/cats`` becomes
    ``folder:cats``) and each lineage leg's ``command`` and ``init_from``; nothing else
    changes, so the checkpoint loads as before.
    """
    config = copy.deepcopy(dict(hub_config))
    for section in ("config", "data"):
        part = config.get(section)
        if isinstance(part, dict) and isinstance(part.get("dataset"), str):
            part["dataset"] = public_path(part["dataset"])
    if isinstance(config.get("lineage"), list):
        config["lineage"] = public_lineage(
            [leg for leg in config["lineage"] if isinstance(leg, Mapping)]
        )
    return config


def card_fields(
    *,
    contract: Mapping[str, Any],
    metrics: Mapping[str, Any],
    command: str | None,
    training: Mapping[str, Any],
    model_name: str,
    model_id: str | None,
) -> dict[str, Any]:
    """The model card template's values, escaped for where each one goes.

    Args:
        contract: the data contract (its ``dataset`` loses local paths).
        metrics: measured values, shown as a table.
        command: the training command (local paths cut; shown in a fenced block).
        training: other facts, shown as a list.
        model_name: the title.
        model_id: the name the usage snippets load (``None``: a folder placeholder).

    Returns:
        ``model_name``, ``model_id_py`` (a Python string literal), ``model_id_sh`` (a
        shell word), ``value_range``, ``contract``, ``metrics`` and ``training`` (lists
        of escaped pairs), ``command`` and its ``fence``.

    """
    contract = dict(contract)
    if isinstance(contract.get("dataset"), str):
        contract["dataset"] = public_path(contract["dataset"])
    shown_id = " ".join(str(model_id or "path/to/this-folder").split())
    command = public_command(command)
    return {
        "model_name": md_text(model_name),
        "model_id_py": json.dumps(shown_id, ensure_ascii=False),
        "model_id_sh": shlex.quote(shown_id),
        "value_range": md_text(contract.get("value_range")),
        "contract": [(md_cell(k), md_cell(v)) for k, v in contract.items()],
        "metrics": [(md_cell(k), md_cell(v)) for k, v in metrics.items()],
        "training": [(md_text(k), md_text(v)) for k, v in training.items()],
        "command": command,
        "fence": code_fence(command or ""),
    }
