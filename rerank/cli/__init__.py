"""The command line: ``app`` (the group, :data:`main`), one module per command (``select``,
``report``, ``env``, ``skills``), the options and judges ``select`` and ``report`` share
(``options``, ``judges``), and ``errors`` (our errors as one-line messages and exit codes)."""

from rerank.cli.app import main

__all__ = ["main"]
