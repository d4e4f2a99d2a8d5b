"""The command line: ``app`` (the group, ``select`` and ``env``), ``report``, ``skills``, and
``errors`` (our errors as one-line messages and exit codes)."""

from rerank.cli.app import main

__all__ = ["main"]
