"""``rerank view SELECTIONS [--trace TRACE] [--input FILE] -o run.html``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from rerank.errors import OutputError, RerankError
from rerank.view.build import build_view
from rerank.view.page import render_page

__all__ = ["view", "write_page"]


@click.command("view")
@click.argument("selections", metavar="SELECTIONS")
@click.option(
    "--trace",
    metavar="TRACE",
    help="The --trace file of the same run (matches, verdicts, evidence).",
)
@click.option(
    "--input",
    "inputs",
    metavar="FILE",
    multiple=True,
    help="Candidate file the run read (prompts, texts, labels); repeatable. "
    "Default: the files the selections name, where they exist.",
)
@click.option(
    "--no-input", is_flag=True, help="Read no candidate file (only the chosen texts are shown)."
)
@click.option("-o", "--out", required=True, metavar="PAGE.html", help="The HTML file to write.")
@click.option("--title", help="Page title (default: the selections file name).")
def view(
    selections: str,
    trace: str | None,
    inputs: tuple[str, ...],
    no_input: bool,
    out: str,
    title: str | None,
) -> None:
    """Write one self-contained HTML page (no server, nothing fetched) to browse a run:
    an index of the items with filters, and for each item its prompt, its candidates side
    by side, the tournament as it ran and every verdict with the evidence it cites."""
    if no_input and inputs:
        raise click.UsageError("--no-input and --input exclude each other")
    try:
        data = build_view(selections, trace=trace, inputs=() if no_input else (inputs or None))
        page = render_page(data, title=title or f"rerank view: {Path(selections).name}")
        write_page(page, out)
    except RerankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}: {len(data.index)} items", err=True)


def write_page(page: str, out: str) -> None:
    """Write ``page`` to ``out`` whole or not at all (through a temporary file beside it),
    an ``OSError`` becoming an :class:`~rerank.errors.OutputError` naming ``out``."""
    target = Path(out)
    try:
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise OutputError.from_os_error(out, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError.from_os_error(out, exc) from None
