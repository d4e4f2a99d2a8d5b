"""The ``rerank`` command line: parses options, calls the library, reports errors as one line."""

from __future__ import annotations

import asyncio
import sys

import click

from rerank import __version__
from rerank.cli_skills import skills
from rerank.errors import RerankError
from rerank.items import TASK_KINDS
from rerank.readers import FORMATS, Fields
from rerank.run import RunOptions, run_select
from rerank.selector import AGGREGATES, DEFAULT_JUDGE, STRATEGIES, StrategyConfig

__all__ = ["main"]


def _checkpoints(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(k) for k in value.split(",") if k.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if any(k < 1 for k in ks):
        raise click.BadParameter("checkpoints are candidate counts, at least 1")
    return ks


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rerank")
def main() -> None:
    """Pick the best of N LLM responses, and show why."""


@main.command("select")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--strategy",
    "-s",
    type=click.Choice(STRATEGIES),
    default="vote",
    show_default=True,
    help="How to choose: sequential or bracket knockout, round-robin, pointwise "
    "scores, or a majority vote over normalised final answers.",
)
@click.option(
    "--judge",
    "-j",
    default=None,
    metavar="SPEC",
    help=f"Judge for pairwise and pointwise strategies, NAME[:ARGS] "
    f"(default {DEFAULT_JUDGE}; simulated:ACCURACY reads the labels).",
)
@click.option(
    "--out",
    "-o",
    default="-",
    show_default=True,
    metavar="PATH",
    help="Output JSON lines, one row per item ('-' for stdout).",
)
@click.option("--trace", default=None, metavar="PATH", help="Write every match and verdict here.")
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seeds candidate order and display order.",
)
@click.option(
    "--limit", default=None, type=click.IntRange(min=1), help="Only the first N items of the input."
)
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Judge calls at once (items in flight: twice this).",
)
@click.option(
    "--resume", is_flag=True, help="Finish an interrupted run: keep the rows in --out, do the rest."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--skip-invalid", is_flag=True, help="Report malformed rows and go on without them.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--prompt-field", default=None, help="Column (dotted path) holding the prompt.")
@click.option("--candidates-field", default=None, help="Column holding the list of candidates.")
@click.option("--id-field", default=None, help="Column holding the row id.")
@click.option("--scores-field", default=None, help="Column holding per-candidate labels.")
@click.option(
    "--task",
    "task_kind",
    type=click.Choice(TASK_KINDS),
    default=None,
    help="Treat every item as this kind of task.",
)
@click.option(
    "--expose",
    multiple=True,
    metavar="FIELD",
    help="Grant the judge a hidden field such as 'reference' (recorded in the output).",
)
@click.option(
    "--both-orders",
    is_flag=True,
    help="Ask every pair in both display orders; disagreement is a tie.",
)
@click.option(
    "--aggregate",
    type=click.Choice(AGGREGATES),
    default="win_rate",
    show_default=True,
    help="How round-robin turns matches into a ranking.",
)
@click.option(
    "--checkpoints",
    default="1,2,4,8",
    show_default=True,
    callback=_checkpoints,
    help="Sequential knockout: record the best after these many candidates (and N).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: only on a terminal).",
)
def select_command(
    files: tuple[str, ...],
    strategy: str,
    judge: str | None,
    out: str,
    trace: str | None,
    seed: int,
    limit: int | None,
    concurrency: int,
    resume: bool,
    overwrite: bool,
    skip_invalid: bool,
    fmt: str,
    prompt_field: str | None,
    candidates_field: str | None,
    id_field: str | None,
    scores_field: str | None,
    task_kind: str | None,
    expose: tuple[str, ...],
    both_orders: bool,
    aggregate: str,
    checkpoints: tuple[int, ...],
    progress: bool | None,
) -> None:
    """Choose the best candidate for every prompt in FILES (JSON lines, JETTS, parquet,
    csv, or a hub dataset name)."""
    default = Fields()
    fields = Fields(
        prompt=prompt_field or default.prompt,
        candidates=candidates_field or default.candidates,
        id=id_field or default.id,
        scores=scores_field or default.scores,
    )
    if fields != default and fmt == "auto":
        fmt = "columns"
    try:
        config = StrategyConfig(
            name=strategy,
            seed=seed,
            both_orders=both_orders,
            aggregate=aggregate,
            checkpoints=checkpoints,
        )
        if strategy == "vote" and judge is not None:
            raise click.UsageError(
                "--strategy vote uses no judge; drop --judge or choose a "
                "pairwise or pointwise strategy"
            )
        options = RunOptions(
            paths=files,
            out=out,
            trace=trace,
            config=config,
            judge=judge,
            format=fmt,
            fields=fields,
            expose=expose,
            task_kind=task_kind,
            limit=limit,
            concurrency=concurrency,
            resume=resume,
            overwrite=overwrite,
            skip_invalid=skip_invalid,
            progress=progress,
        )
        summary = asyncio.run(run_select(options))
    except RerankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.line(), err=True)
    if summary.failed:
        sys.exit(1)


main.add_command(skills)
