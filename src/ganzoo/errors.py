"""User-facing errors: one line that names the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanzooError(Exception):
    """An error caused by the user's input, with a message that says how to fix it.

    The CLI prints these as one line (no traceback) and exits with status 1.
    """


class GanzooWarning(UserWarning):
    """Something that works but not as the user probably wants (the CLI prints one line)."""


def first_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"``, for one-line errors that wrap another."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choices, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def exception_chain(exc: BaseException | None) -> list[BaseException]:
    """Return ``exc`` and the exceptions behind it, outermost first.

    Follows ``__cause__`` (``raise ... from``), else ``__context__`` (raised while
    handling), and stops at the end of the chain or at an exception already seen, so a
    cyclic chain cannot loop forever.

    Args:
        exc: the exception to start from (``None`` gives an empty list).

    Returns:
        The exceptions of the chain, each once, starting with ``exc``.

    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
