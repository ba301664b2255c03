"""Type checks for config dataclasses, run before anything is built.

Configs come from users' dicts, ``--set`` options and the ``config.json`` of
checkpoints someone else made, so every value is checked against its field's
annotation before a network is sized from it: ``int`` (a ``bool`` is not an int),
``float`` (an ``int`` is accepted and stored as a float), ``str``, ``bool``,
``None``, ``X | None`` and other unions, ``Literal[...]``, and ``tuple`` / ``list``
/ ``dict`` of those (a JSON list is accepted for a tuple). Ranges are each config's
own business: after the type check, :func:`check_config` calls the config's
``validate()`` method when it has one.

Importing this module is light (no torch).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

from ganzoo.errors import GanzooError

__all__ = ["check_config", "check_fields", "check_range", "check_value", "field_types"]

_NO_VALUE = object()


@functools.cache
def field_types(config_class: type) -> dict[str, Any]:
    """``{field name: resolved annotation}`` of a dataclass (``from __future__`` annotations too).

    A field whose annotation cannot be resolved is mapped to :data:`typing.Any` (not checked).
    """
    try:
        hints = typing.get_type_hints(config_class)
    except Exception:  # noqa: BLE001 - an unresolvable annotation is simply not checked
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_class)}


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (tuple, list):
        return "a list"
    if origin is dict:
        return "an object"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def check_value(annotation: Any, value: Any, where: str) -> Any:
    """Check ``value`` against ``annotation``; return it, converted where JSON loses the type.

    An ``int`` for a ``float`` becomes a float, a list for a ``tuple`` becomes a tuple.

    Args:
        annotation: the field's resolved type.
        value: the value to check.
        where: what to call it in the error, e.g. ``"SGANConfig.width"``.

    Raises:
        GanzooError: one line naming ``where``, the expected type and the value given.

    """
    converted = _convert(annotation, value, where)
    if converted is _NO_VALUE:
        raise GanzooError(f"{where} must be {_type_name(annotation)}, got {_describe(value)}")
    return converted


def _convert(annotation: Any, value: Any, where: str) -> Any:  # noqa: PLR0911, PLR0912
    if annotation is Any or annotation is object:
        return value
    if annotation is type(None) or annotation is None:
        return None if value is None else _NO_VALUE
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        for option in args:  # exact types first, so 1 stays an int in `int | float`
            if option in (int, float, str, bool, type(None)) and type(value) is option:
                return value
        for option in args:
            converted = _convert(option, value, where)
            if converted is not _NO_VALUE:
                return converted
        return _NO_VALUE
    if origin is Literal:
        return value if any(type(value) is type(a) and value == a for a in args) else _NO_VALUE
    if annotation is bool:
        return value if isinstance(value, bool) else _NO_VALUE
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO_VALUE
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _NO_VALUE
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return _NO_VALUE
    if annotation is str:
        return value if isinstance(value, str) else _NO_VALUE
    if origin in (tuple, list) or annotation in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return _NO_VALUE
        if not args:
            items = list(value)
        elif origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return _NO_VALUE
            pairs = enumerate(zip(args, value, strict=True))
            items = [check_value(a, v, f"{where}[{i}]") for i, (a, v) in pairs]
        else:
            items = [check_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or annotation) is tuple else items
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            return _NO_VALUE
        key_type, value_type = args if args else (Any, Any)
        return {
            check_value(key_type, k, f"{where} key"): check_value(value_type, v, f"{where}[{k!r}]")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if isinstance(value, annotation):
            return check_config(value)
        if isinstance(value, Mapping):
            return check_config(annotation(**check_fields(annotation, value)))
        return _NO_VALUE
    if isinstance(annotation, type):
        return value if isinstance(value, annotation) else _NO_VALUE
    return value  # an annotation this checker does not know: not checked


def check_fields(config_class: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``values`` (field name → value) against ``config_class``'s annotations.

    Returns:
        The values, converted as :func:`check_value` does.

    Raises:
        GanzooError: for an unknown field (with a did-you-mean) or a value of the wrong type.

    """
    from ganzoo.errors import did_you_mean

    types_ = field_types(config_class)
    name = config_class.__name__
    checked = {}
    for key, value in values.items():
        if key not in types_:
            raise GanzooError(
                f"{name} has no field '{key}'{did_you_mean(str(key), types_)}; "
                f"fields: {', '.join(types_)}"
            )
        checked[key] = check_value(types_[key], value, f"{name}.{key}")
    return checked


def check_config(config: Any) -> Any:
    """Type-check every field of a config dataclass, then run its ``validate()`` if any.

    Returns:
        The config, or a copy with values converted (``int`` → ``float``, list → tuple).

    Raises:
        GanzooError: one line naming the field and what it must be.

    """
    current = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    checked = check_fields(type(config), current)
    changed = {k: v for k, v in checked.items() if v is not current[k] and v != current[k]}
    changed.update(
        {k: v for k, v in checked.items() if type(v) is not type(current[k])}  # 1 → 1.0
    )
    if changed:
        config = dataclasses.replace(config, **changed)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config


# ------------------------------------------------------------------ the range vocabulary
# Every config's validate() says what a field may hold with these four checks, so each
# refusal reads the same: "<field> must be ..., got <value>".


def check_range(
    config: Any,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> None:
    """Raise a one-line :class:`GanzooError` unless ``config.<name>`` lies in the interval.

    ``[low, high]`` by default; ``low_open`` / ``high_open`` exclude an end. NaN and
    infinities always fail (written so that a NaN comparison fails too). With
    ``allow_none``, ``None`` (JSON ``null``) passes.
    """
    value = getattr(config, name)
    if value is None and allow_none:
        return
    above = low < value if low_open else low <= value
    below = value < high if high_open else value <= high
    if not (above and below and math.isfinite(value)):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        suffix = " or null" if allow_none else ""
        raise GanzooError(f"{name} must be in {interval}{suffix}, got {value}")


def check_at_least(config: Any, name: str, low: float) -> None:
    """Raise a one-line :class:`GanzooError` unless ``config.<name>`` is finite and ``>= low``."""
    value = getattr(config, name)
    if not (value >= low and math.isfinite(value)):  # written so that NaN fails too
        bound = f"at least {low}" if low else ">= 0"
        raise GanzooError(f"{name} must be {bound} (and finite), got {value}")


def check_positive(config: Any, name: str) -> None:
    """Raise a one-line :class:`GanzooError` unless ``config.<name>`` is finite and ``> 0``."""
    value = getattr(config, name)
    if not (value > 0 and math.isfinite(value)):  # `not (x > 0)` is True for NaN
        raise GanzooError(f"{name} must be a positive finite number, got {value}")


#: The largest seed torch takes (``torch.manual_seed`` wants a 64-bit value).
MAX_SEED = 2**63 - 1


def check_seed(seed: int | None) -> None:
    """Raise a one-line :class:`GanzooError` unless ``seed`` is ``None`` or in ``[0, MAX_SEED]``."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise GanzooError(f"--seed must be between 0 and 2**63-1, got {seed}")


def check_choice(config: Any, name: str, choices: Iterable[Any]) -> None:
    """Raise a one-line :class:`GanzooError` unless ``config.<name>`` is one of ``choices``."""
    value, allowed = getattr(config, name), list(choices)
    if value not in allowed:
        shown = ", ".join(str(c) for c in allowed)
        raise GanzooError(f"{name} must be one of {shown}, got {value!r}")
