"""The ``rerank`` command group: ``select``, ``report``, ``view``, ``skills``, ``env`` and
``serve-scripted``.

Each command parses its options, calls the library and reports errors as one line.
Exit codes (docs/formats.md): 0 done; 1 the run stopped on an error it names (input,
options, a full disk) or some items failed (``--resume`` retries them); 2 a usage error;
:data:`~rerank.cli.errors.EXIT_INTERNAL` a bug in rerank;
:data:`~rerank.cli.errors.EXIT_INTERRUPTED` Ctrl-C.
"""

from __future__ import annotations

import click

from rerank import __version__
from rerank.cli.env import env
from rerank.cli.logs import quiet_third_party_logging
from rerank.cli.report import report
from rerank.cli.select import select_command
from rerank.cli.serve import serve_scripted
from rerank.cli.skills import skills
from rerank.view.command import view

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rerank")
def main() -> None:
    """Pick the best of N LLM responses, and show why."""
    quiet_third_party_logging()  # no library's log lines through the progress bars


main.add_command(select_command)
main.add_command(env)
main.add_command(skills)
main.add_command(report)
main.add_command(view)
main.add_command(serve_scripted)
