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


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choices, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
