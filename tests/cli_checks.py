"""Running the CLI in-process and checking its one-line errors, for the tests."""

from typer.testing import CliRunner

from ganzoo.cli import app


def invoke(*args):
    """``ganzoo ARGS`` through Typer's runner (each argument turned into text)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *fragments):
    """Assert exit 1 with one ``error: ...`` line holding every fragment; return the line."""
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
