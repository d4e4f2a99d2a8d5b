"""``rerank select``: parses options into :class:`~rerank.run.RunOptions`, runs
:func:`rerank.run.run_select`, and prints the summary line (:mod:`rerank.cli.summary`;
exit 1 if items failed)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from rerank.cli.errors import one_line_errors
from rerank.cli.judges import judge_recipe, llm_judge, resolve_exec_python
from rerank.cli.options import (
    checkpoints_option,
    concurrency_option,
    exec_options,
    expose_option,
    limit_option,
    llm_options,
    match_options,
    progress_option,
    ray_address,
    ray_option,
    seed_option,
)
from rerank.cli.summary import Accuracy, details, summary_line
from rerank.items import TASK_KINDS, Item
from rerank.judges import EvidenceJudge
from rerank.readers import FORMATS, Fields
from rerank.run import ItemRows, RunOptions, RunSummary, how_to_finish, item_rows, run_select
from rerank.selector import (
    DEFAULT_JUDGE,
    DEFAULT_STRATEGY,
    LOCAL_DEFAULT_JUDGE,
    STRATEGIES,
    StrategyConfig,
    resolve_judge,
    select_item,
)

__all__ = ["select_command"]


async def _run(options: RunOptions, accuracy: Accuracy) -> RunSummary:
    """Run ``select``, counting the labels of the chosen candidates into ``accuracy``; the
    judge is built here (and closed here: run_select closes only its own)."""
    judge = resolve_judge(options.judge, options.config, exec_python=options.exec_python)
    options.judge = judge
    limiter = asyncio.Semaphore(options.concurrency)

    async def execute(item: Item) -> ItemRows:
        result = await select_item(item, options.config, judge, limiter=limiter)
        accuracy.add(item, result.selection.winner)
        return item_rows(result, trace=options.trace is not None)

    try:
        return await run_select(options, execute=execute)
    finally:
        if judge is not None:
            await judge.aclose()


@click.command("select")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--strategy",
    "-s",
    type=click.Choice(STRATEGIES),
    default=DEFAULT_STRATEGY,
    show_default=True,
    help="How to choose: sequential or bracket knockout, round-robin, pointwise "
    "scores, or a majority vote over evidence signatures (equivalent answers, code "
    "that behaves the same; stated final answers where no verifier applies).",
)
@click.option(
    "--judge",
    "-j",
    default=None,
    metavar="SPEC",
    help=f"Judge for pairwise and pointwise strategies, NAME[:ARGS] "
    f"(default {DEFAULT_JUDGE}, or {LOCAL_DEFAULT_JUDGE} when the local model is installed; "
    "llm: an LLM behind --base-url; local: a model run in this process; simulated:ACCURACY "
    "reads the labels).",
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
@seed_option("Seeds candidate order and display order.")
@limit_option("Only the first N items of the input.")
@concurrency_option("Judge calls at once (items in flight: twice this).")
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
@expose_option("Grant the judge a hidden field such as 'reference' (recorded in the output).")
@match_options
@checkpoints_option("Sequential knockout: record the best after these many candidates (and N).")
@progress_option
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="After the summary line, say more: tokens, calls saved, invalid verdicts, position bias.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="On an internal error (a bug), print its traceback instead of saving it to a file.",
)
@ray_option("Same rows, trace and --resume")
@exec_options
@llm_options
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
    verbose: bool,
    debug: bool,
    exec_env: str | None,
    exec_python: str | None,
    ray_cluster: str | None,
    **llm: Any,
) -> None:
    """Choose the best candidate for every prompt in FILES (JSON lines, JETTS, parquet,
    csv, or a hub dataset name).

    With --judge llm (or just --base-url) an LLM judges by the skill of each item's task
    kind, behind one or more OpenAI-compatible endpoints.
    """
    default = Fields()
    fields = Fields(
        prompt=prompt_field or default.prompt,
        candidates=candidates_field or default.candidates,
        id=id_field or default.id,
        scores=scores_field or default.scores,
    )
    if fields != default and fmt == "auto":
        fmt = "columns"
    with one_line_errors(debug=debug, interrupted=how_to_finish(out, trace)):
        python = resolve_exec_python(exec_env, exec_python)
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
            judge=None,
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
            exec_python=python,
        )
        accuracy = Accuracy()
        if ray_cluster is not None:
            # Each worker builds the judge from its recipe (and its own evidence judge on
            # options.exec_python); the driver writes the rows.
            from rerank.ray import run_select_on_ray

            spec, judge_options = judge_recipe(judge, strategy, concurrency, llm)
            options.judge = spec
            summary = run_select_on_ray(
                options,
                address=ray_address(ray_cluster),
                judge_options=judge_options,
                observe=lambda item, rows: accuracy.add(item, rows.row["selected"]),
            )
        else:
            options.judge = llm_judge(
                judge,
                strategy,
                concurrency,
                llm,
                evidence=EvidenceJudge(exec_python=python) if python else None,
            )
            summary = asyncio.run(_run(options, accuracy))
    click.echo(summary_line(summary, accuracy), err=True)
    if verbose:
        for line in details(summary, strategy):
            click.echo(f"  {line}", err=True)
    if summary.failed:
        sys.exit(1)
