"""How every ``rerank`` command ends on an error: one line on stderr and an exit code.

Exit codes (docs/formats.md): 1 an error rerank names (input, options, a full disk);
2 a usage error (click's); :data:`EXIT_INTERNAL` a bug in rerank, whose traceback goes to
a log file (or to stderr with ``--debug``); :data:`EXIT_INTERRUPTED` Ctrl-C.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import click

from rerank import __version__
from rerank.errors import OutputError, RerankError

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "InternalError", "one_line_errors"]

EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h: an internal software error
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C


class InternalError(click.ClickException):
    """A bug in rerank (an exception that is not a ``RerankError``), said as one."""

    exit_code = EXIT_INTERNAL


@contextmanager
def one_line_errors(*, debug: bool, interrupted: str) -> Iterator[None]:
    """Turn whatever escapes a command into one line on stderr and an exit code.

    Parameters
    ----------
    debug : print an internal error's traceback on stderr, not into a log file.
    interrupted : what to do next after Ctrl-C (``Interrupted: {interrupted}``).

    Raises
    ------
    click.ClickException
        For rerank's own errors (exit 1).
    click.exceptions.Exit
        For Ctrl-C (:data:`EXIT_INTERRUPTED`).
    InternalError
        For anything else, a bug (:data:`EXIT_INTERNAL`).

    Notes
    -----
    click's own exceptions (usage errors, exit codes) pass through unchanged.
    """
    try:
        yield
    except RerankError as exc:
        if isinstance(exc, OutputError) and exc.target == "-":
            _detach_stdout()
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"Interrupted: {interrupted}", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # click's own: a usage error, an exit code
    except Exception as exc:
        raise _internal_error(exc, debug=debug) from None


def _detach_stdout() -> None:
    """Point stdout at the null device after writing to it failed: the rows left in its
    buffer cannot be written, and the flush at exit would report that a second time."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # no file descriptor behind stdout (a test's capture)
        pass


def _internal_error(exc: Exception, *, debug: bool) -> InternalError:
    details = "".join(traceback.format_exception(exc))
    if debug:
        click.echo(details.rstrip(), err=True)
        where = "the traceback above"
    else:
        log = _save_traceback(details)
        where = (
            f"the traceback in {log} (--debug shows it here)"
            if log
            else "the traceback --debug shows (it could not be saved to a file)"
        )
    what = (str(exc).strip().splitlines() or [""])[0]
    what = f"{type(exc).__name__}: {what[:200]}" if what else type(exc).__name__
    return InternalError(
        f"internal error ({what}): this is a bug in rerank; please report it with {where}"
    )


def _save_traceback(details: str) -> str | None:
    """Write the traceback of an internal error to a new log file; its path, or None."""
    header = (
        f"rerank {__version__}, Python {platform.python_version()} on {platform.platform()}\n"
        f"command: {' '.join(sys.argv)}\n\n"
    )
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="rerank-internal-error-", suffix=".log", delete=False
        ) as log:
            log.write(header + details)
    except OSError:
        return None
    return log.name
