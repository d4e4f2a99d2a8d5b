"""``rerank report``: parses options, runs :func:`rerank.report.arun_report`, prints where."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from rerank.errors import RerankError
from rerank.report import (
    DEFAULT_REPORT_JUDGES,
    DEFAULT_REPORT_STRATEGIES,
    ReportConfig,
    Source,
    arun_report,
)
from rerank.selector import STRATEGIES

__all__ = ["report"]


def _checkpoints(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    # The same parsing as ``select --checkpoints``; imported when called, since rerank.cli
    # imports this module to attach the command.
    from rerank.cli import _checkpoints as parse_checkpoints

    return parse_checkpoints(ctx, param, value)


class _Progress:
    """One click progress bar per input file, on stderr."""

    def __init__(self) -> None:
        self.bar = None
        self.source: Source | None = None

    def __call__(self, source: Source, done: int, total: int) -> None:
        if source is not self.source:
            self.close()
            self.source = source
            self.bar = click.progressbar(
                length=total, label=source.path.name, file=sys.stderr
            ).__enter__()
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("report")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--strategy",
    "-s",
    "strategies",
    multiple=True,
    type=click.Choice(STRATEGIES),
    help=f"Strategy to compare (repeatable; default {', '.join(DEFAULT_REPORT_STRATEGIES)}).",
)
@click.option(
    "--judge",
    "-j",
    "judges",
    multiple=True,
    metavar="SPEC",
    help=f"Judge to compare, NAME[:ARGS] (repeatable; default {', '.join(DEFAULT_REPORT_JUDGES)}"
    "; simulated:ACCURACY reads the labels).",
)
@click.option("--out", "-o", required=True, metavar="DIR", help="Folder for the report files.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds every selection.")
@click.option(
    "--limit", default=None, type=click.IntRange(min=1), help="Only the first N items per file."
)
@click.option(
    "--bootstrap",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bootstrap resamples for the 95% intervals.",
)
@click.option(
    "--checkpoints",
    default="1,2,4,8",
    show_default=True,
    callback=_checkpoints,
    help="Strategy@k: the sequential knockout's incumbent after k candidates (and N).",
)
@click.option(
    "--expose",
    multiple=True,
    metavar="FIELD",
    help="Grant the judges a hidden field such as 'reference' (stated in the summary).",
)
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Items in flight at once.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: only on a terminal).",
)
def report(
    inputs: tuple[str, ...],
    strategies: tuple[str, ...],
    judges: tuple[str, ...],
    out: str,
    seed: int,
    limit: int | None,
    bootstrap: int,
    checkpoints: tuple[int, ...],
    expose: tuple[str, ...],
    concurrency: int,
    progress: bool | None,
) -> None:
    """Score strategies and judges on labelled candidates: INPUTS are JETTS files or
    folders of {dataset}_{generator}.jsonl[.gz] files.

    Writes metrics.json, summary.md, accuracy_vs_k.png and rows.jsonl into --out.
    Labels are read only by this report (and by a simulated judge, which says so).
    """
    if progress is None:
        progress = sys.stderr.isatty()
    bar = _Progress() if progress else None
    try:
        config = ReportConfig(
            strategies=strategies or DEFAULT_REPORT_STRATEGIES,
            judges=judges or DEFAULT_REPORT_JUDGES,
            seed=seed,
            limit=limit,
            bootstrap=bootstrap,
            checkpoints=checkpoints,
            expose=expose,
            concurrency=concurrency,
        )
        asyncio.run(arun_report(inputs, config, out=out, progress=bar))
    except RerankError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"report written to {Path(out) / 'summary.md'}", err=True)
