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


#: Options whose value is a folder on the machine that ran the command (dropped),
#: that name the run's own folder (renamed), and that name an earlier run's (followed).
_DROPPED = ("--data-root",)
_OUT = ("--out", "-o")
_FOLLOWS = ("--from", "--init-from")


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
    return command if public == words else join_words(public)


def join_words(words: Sequence[str]) -> str:
    """``words`` as one shell line: each quoted where it needs it, ``&&`` left bare."""
    return " ".join(word if word == "&&" else shlex.quote(word) for word in words)


def _clean_words(words: list[str], outs: dict[str, str], new_out: str | None) -> list[str]:
    """One command's words: no ``--data-root``, ``--out`` renamed, earlier outputs followed."""
    kept: list[str] = []
    words = list(words)
    while words:
        word = words.pop(0)
        option, inline, value = word.partition("=")
        if option not in _DROPPED + _OUT + _FOLLOWS or (not inline and not words):
            kept.append(word)
            continue
        if not inline:
            value = words.pop(0)
        if option in _OUT:
            value = new_out or value
        elif option in _FOLLOWS:
            value = _follow(value, outs)
        if option not in _DROPPED:
            kept += [f"{option}={value}"] if inline else [option, value]
    return kept


def _same_folder(a: str, b: str) -> bool:
    """Whether two recorded ``--out`` values name one folder (one may be cut to its end)."""
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _follow(value: str, outs: Mapping[str, str]) -> str:
    """``value`` with an earlier ``--out`` folder in it replaced by its new name.

    The folder matches at the start of ``value`` or, when the earlier command was
    recorded with its path cut (:func:`public_command`), after a ``/`` inside it:
    ``/home/me/leg1/best`` follows ``leg1``.
    """
    for old, new in outs.items():
        old = old.rstrip("/")
        if value == old or value.startswith(old + "/"):
            return new + value[len(old) :]
        if value.endswith("/" + old) or "/" + old + "/" in value:
            at = value.rfind("/" + old) + 1
            return new + value[at + len(old) :]
    return value


def _out_value(words: Sequence[str]) -> str | None:
    """The value of the last ``--out``/``-o`` in ``words``, if any."""
    found = None
    for i, word in enumerate(words):
        option, inline, value = word.partition("=")
        if option in _OUT:
            found = value if inline else (words[i + 1] if i + 1 < len(words) else found)
    return found


def run_name(name: str) -> str:
    """``name`` as one plain folder name: each run of other characters and ``-`` is one ``-``."""
    return re.sub(r"[^\w.]+", "-", name).strip("-.") or "model"


def runnable_commands(commands: Sequence[str], name: str) -> tuple[list[str], dict[str, str]]:
    """Commands another user can run: no private data root, no private run folders.

    ``commands`` are consecutive runs (lineage legs, each maybe ``a && b`` stages). In
    each, ``--data-root DIR`` is dropped (a reader's data lives in ganzoo's data folder),
    the last run's ``--out`` becomes ``runs/<name>`` and an earlier one's
    ``runs/<name>-stage<k>``; a ``--from`` or ``--init-from`` naming an earlier run's
    folder follows it. A command that shell-splitting refuses is kept as it is.

    Args:
        commands: the recorded commands, oldest first.
        name: the model's name (made plain by :func:`run_name`).

    Returns:
        The commands (unchanged ones identical to the input), and the renamed run
        folders ``{old: new}`` (for the lineage's ``init_from``).

    """
    split: list[list[list[str]] | None] = []
    for command in commands:
        try:
            words = shlex.split(command)
        except ValueError:
            split.append(None)
            continue
        parts: list[list[str]] = [[]]
        for word in words:
            if word == "&&":
                parts.append([])
            else:
                parts[-1].append(word)
        split.append(parts)
    stages = [part for parts in split if parts for part in parts]
    # a stage whose --out is an earlier stage's folder (a resume) keeps that folder's name
    keys: list[str] = []
    for k, part in enumerate(stages):
        old = _out_value(part)
        if old is None:
            keys.append(f"#{k}")  # no --out: a folder of its own
        else:
            keys.append(next((key for key in keys if _same_folder(key, old)), old))
    distinct = list(dict.fromkeys(keys))
    base = f"runs/{run_name(name)}"
    named = {
        key: base if i == len(distinct) - 1 else f"{base}-stage{i + 1}"
        for i, key in enumerate(distinct)
    }
    new_outs = [named[key] for key in keys]
    outs: dict[str, str] = {}
    cleaned: list[str] = []
    k = 0
    for command, parts in zip(commands, split, strict=True):
        if parts is None:
            cleaned.append(command)
            continue
        texts = []
        for part in parts:
            texts.append(shlex.join(_clean_words(part, outs, new_outs[k])))
            old = _out_value(part)
            if old is not None and old != new_outs[k]:
                outs[old] = new_outs[k]
            k += 1
        text = " && ".join(texts)
        cleaned.append(command if text == " && ".join(map(shlex.join, parts)) else text)
    return cleaned, outs


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


def runnable_lineage(
    lineage: Sequence[Mapping[str, Any]], command: str | None, name: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The lineage's legs and the training ``command`` as a card shows them.

    The legs' commands, followed by ``command`` unless it is the last leg's, are made
    runnable together (:func:`runnable_commands`: a leg's ``--init-from`` and
    ``init_from`` naming an earlier leg's run folder follow its new name), then what
    local paths remain are cut (:func:`public_command`, :func:`public_path`).

    Returns:
        The legs (copies) and the command.

    """
    legs = [dict(leg) for leg in lineage]
    recorded = [leg["command"] for leg in legs if isinstance(leg.get("command"), str)]
    last_leg = bool(recorded) and public_command(command) == public_command(recorded[-1])
    sequence = recorded + ([] if command is None or last_leg else [command])
    cleaned, outs = runnable_commands(sequence, name)
    remaining = iter([public_command(text) for text in cleaned])
    for leg in legs:
        if isinstance(leg.get("command"), str):
            leg["command"] = next(remaining)
        if isinstance(leg.get("init_from"), str):
            leg["init_from"] = public_path(_follow(leg["init_from"], outs))
    return legs, (None if command is None else public_command(cleaned[-1]))


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
