"""Log records on the terminal: rerank's warnings, not third-party noise.

Without a handler, Python prints every WARNING and above from any library to stderr
(``logging.lastResort``), in the middle of progress bars: IFEval's checkers log each text
``langdetect`` cannot classify at ERROR on the root logger, ``datasets`` and ``httpx`` have
their say too. The commands install one handler instead (:func:`quiet_third_party_logging`),
which shows rerank's own records from WARNING up and other libraries' only when CRITICAL.
``RERANK_LOG=debug`` (or ``info``, ``warning``) shows every library's records from that
level, for debugging.
"""

from __future__ import annotations

import logging
import os

import click

__all__ = ["LOG_ENV", "quiet_third_party_logging"]

LOG_ENV = "RERANK_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class _Terminal(logging.Handler):
    """Writes through click to the stderr of the moment (a test runner swaps it)."""

    def __init__(self, level: int, everything: bool) -> None:
        super().__init__(level)
        self.everything = everything
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "rerank" or record.name.startswith("rerank.")
        return (self.everything or ours or record.levelno >= logging.CRITICAL) and bool(
            super().filter(record)
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # a closed stream at exit: a log line is not worth a traceback
            self.handleError(record)


def quiet_third_party_logging() -> None:
    """Route log records through one terminal handler on the root logger (once per
    process): rerank's from WARNING, other libraries' from CRITICAL, unless ``RERANK_LOG``
    names a level for all."""
    root = logging.getLogger()
    if any(isinstance(h, _Terminal) for h in root.handlers):
        return
    asked = _LEVELS.get(os.environ.get(LOG_ENV, "").strip().lower())
    root.addHandler(_Terminal(asked or logging.WARNING, everything=asked is not None))
    if asked is not None:
        root.setLevel(min(root.level or logging.WARNING, asked))
