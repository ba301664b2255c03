"""The ``ganzoo`` command line: a thin layer over the library.

Results go to stdout, progress and logs to stderr. A user error prints one line
(``error: ...``) and exits with status 1. Heavy imports (torch) happen inside
the commands, so ``ganzoo --help`` answers at once.

One module per command (:mod:`~ganzoo.cli.list_command`, :mod:`~ganzoo.cli.info`,
:mod:`~ganzoo.cli.sample`, :mod:`~ganzoo.cli.encode`, :mod:`~ganzoo.cli.eval_command`,
:mod:`~ganzoo.cli.train`, :mod:`~ganzoo.cli.push`); what they share (the Typer app,
the options, the error handling) is :mod:`ganzoo.cli.common`. The commands are
registered on :data:`app` below, in the order ``ganzoo --help`` lists them.
"""

from __future__ import annotations

from ganzoo.cli import encode, eval_command, info, list_command, push, sample, train
from ganzoo.cli.common import _one_line_warnings, app

__all__ = ["app", "main"]

app.command("list")(list_command.list_command)
app.command()(info.info)
app.command()(sample.sample)
app.command()(encode.encode)
app.command("eval")(eval_command.eval_command)
app.command()(train.train)
app.command()(push.push)


def main() -> None:
    """Entry point of the ``ganzoo`` console script."""
    _one_line_warnings()
    app()
