"""``rerank report``: parses options, runs :func:`rerank.report.arun_report` (or, with
``--selections``, :func:`rerank.report.arun_selection_report`), prints where.

Its run, strategy and LLM judge options are ``rerank select``'s (:mod:`rerank.cli.options`),
and its model judges are built as ``select`` builds them (:mod:`rerank.cli.judges`); with
``--ray`` each cluster worker builds them from the same recipes
(:func:`rerank.ray.run_report_on_ray`).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from rerank.cli.errors import one_line_errors
from rerank.cli.judges import judge_recipe, resolve_exec_python
from rerank.cli.options import (
    LLM_OPTIONS,
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
from rerank.judges import EvidenceJudge, Judge, create_judge, parse_spec
from rerank.readers import Fields
from rerank.report import (
    DEFAULT_REPORT_JUDGES,
    DEFAULT_REPORT_STRATEGIES,
    DEFAULT_SUBSAMPLES,
    ReportConfig,
    Source,
    arun_report,
    arun_selection_report,
)
from rerank.selector import MODEL_JUDGES, STRATEGIES, judge_options

__all__ = ["report"]

#: Options that say what to run: the rows of ``--selections`` already say what ran.
_RUN_OPTIONS = (
    "strategies",
    "judges",
    "limit",
    "checkpoints",
    "expose",
    "both_orders",
    "aggregate",
    "exec_env",
    "exec_python",
    *LLM_OPTIONS,
)


#: A judge to compare: its spec, and the options a model judge is built with (else None).
Recipe = tuple[str, dict[str, Any] | None]


def _recipes(
    judges: tuple[str, ...], strategies: tuple[str, ...], concurrency: int, llm: dict[str, Any]
) -> list[Recipe]:
    """The judges to compare: each model judge spec (``llm``, ``local``, ...) with the LLM
    options exactly as ``select`` takes them (:func:`~rerank.cli.judges.judge_recipe`);
    ``--base-url`` alone means ``--judge llm``."""
    specs = judges or (("llm",) if llm["base_url"] else DEFAULT_REPORT_JUDGES)
    # judge_recipe refuses vote, which needs no judge; the report runs vote once, judge-less.
    strategy = next((s for s in strategies if s != "vote"), "vote")
    if not any(parse_spec(spec)[0] in MODEL_JUDGES for spec in specs):
        judge_recipe(specs[0], strategy, concurrency, llm)  # LLM options here: a usage error
    recipes: list[Recipe] = []
    for spec in specs:
        if parse_spec(spec)[0] in MODEL_JUDGES:
            built, options = judge_recipe(spec, strategy, concurrency, llm)
            assert built is not None  # a model judge's spec
            recipes.append((built, options))
        else:
            recipes.append((spec, None))
    return recipes


def _report_judges(
    recipes: list[Recipe], exec_python: str | None = None
) -> tuple[list[Judge | str], EvidenceJudge | None]:
    """The judges of ``recipes``, built here: model judges with their options, the rest
    left as specs. With ``exec_python`` every judge that runs code candidates runs them
    there, all on one evidence judge (so each item's evidence is computed once), which is
    returned for the majority vote (else None)."""
    evidence = EvidenceJudge(exec_python=exec_python) if exec_python else None
    chosen: list[Judge | str] = []
    for spec, options in recipes:
        if options is not None:  # a model judge
            shared = {"evidence": evidence} if evidence is not None else {}
            chosen.append(create_judge(spec, **options, **shared))
        elif evidence is not None and spec.strip() == "evidence":
            chosen.append(evidence)
        elif exec_python is not None:
            chosen.append(create_judge(spec, **judge_options(spec, exec_python=exec_python)))
        else:
            chosen.append(spec)
    return chosen, evidence


def _fields(scores: str | None, tests: str | None, inputs: str | None) -> Fields:
    """The reader's fields: those given, the rest :class:`~rerank.readers.Fields`' defaults."""
    default = Fields()
    return Fields(
        scores=scores or default.scores,
        tests=tests or default.tests,
        inputs=inputs or default.inputs,
    )


def _given(ctx: click.Context, names: tuple[str, ...]) -> list[str]:
    """The flags among ``names`` given on the command line."""
    return [
        param.opts[0]
        for param in ctx.command.get_params(ctx)
        if param.name in names
        and ctx.get_parameter_source(param.name) not in (None, ParameterSource.DEFAULT)
    ]


class _Progress:
    """One click progress bar per input file, on stderr."""

    def __init__(self) -> None:
        self.bar: Any = None  # click's ProgressBar, whose class click does not export
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
@click.argument("inputs", nargs=-1)
@click.option(
    "--selections",
    multiple=True,
    metavar="FILE",
    help="Score this `rerank select` output instead of running strategies (repeatable: "
    "one column per strategy, options, judge and seed); needs --labels.",
)
@click.option(
    "--labels",
    multiple=True,
    metavar="FILE",
    help="With --selections: the candidate file(s) the selections were made on, for labels.",
)
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
@seed_option("Seeds every selection.")
@limit_option("Only the first N items per file.")
@click.option(
    "--bootstrap",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bootstrap resamples for the 95% intervals.",
)
@checkpoints_option(
    "The k of accuracy against k (below N; N is always one), and the sequential knockout's "
    "checkpoints."
)
@click.option(
    "--subsamples",
    default=DEFAULT_SUBSAMPLES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Subsets of k candidates per item and k for accuracy against k (every subset when "
    "there are fewer).",
)
@click.option(
    "--scores-field",
    default=None,
    metavar="PATH",
    help="Field (dotted path) holding the per-candidate labels (default scores; not for "
    "JETTS files).",
)
@click.option(
    "--tests-field", default=None, metavar="PATH", help="Field holding tests shown to judges."
)
@click.option(
    "--inputs-field",
    default=None,
    metavar="PATH",
    help="Field holding inputs to run code candidates on (behaviour clusters).",
)
@expose_option("Grant the judges a hidden field such as 'reference' (stated in the summary).")
@exec_options
@match_options
@concurrency_option("Items in flight at once.")
@progress_option
@ray_option("Same metrics and files; metrics.json says how many workers ran")
@llm_options
def report(
    inputs: tuple[str, ...],
    selections: tuple[str, ...],
    labels: tuple[str, ...],
    strategies: tuple[str, ...],
    judges: tuple[str, ...],
    out: str,
    seed: int,
    limit: int | None,
    bootstrap: int,
    checkpoints: tuple[int, ...],
    subsamples: int,
    scores_field: str | None,
    tests_field: str | None,
    inputs_field: str | None,
    expose: tuple[str, ...],
    both_orders: bool,
    aggregate: str,
    concurrency: int,
    progress: bool | None,
    exec_env: str | None,
    exec_python: str | None,
    ray_cluster: str | None,
    **llm: Any,
) -> None:
    """Score strategies and judges on labelled candidates: INPUTS are candidate files
    (JETTS, JSON lines, parquet, csv), datasets' save_to_disk folders (FOLDER::SPLIT), or
    folders of {dataset}_{generator}.jsonl[.gz] files. Or score selections already made:
    --selections OUT.jsonl (from `rerank select`) --labels the candidate file(s).

    Writes metrics.json, summary.md, rows.jsonl, plots.json, accuracy_vs_k.png and
    figures/ (accuracy against k, cost against accuracy) into --out.
    Labels are read only by this report (and by a simulated judge, which says so).
    With --judge llm (or just --base-url) an LLM judges, as in `rerank select`.
    """
    ctx = click.get_current_context()
    if selections:
        given = _given(ctx, _RUN_OPTIONS)
        if given:
            raise click.UsageError(
                f"{given[0]} says what to run; with --selections the rows say what ran"
            )
        if inputs or not labels:
            raise click.UsageError(
                "with --selections, give the candidate files as --labels, not as INPUTS"
            )
    elif labels:
        raise click.UsageError("--labels goes with --selections")
    elif not inputs:
        raise click.UsageError("give candidate files (INPUTS), or --selections and --labels")
    if selections and ray_cluster is not None:
        raise click.UsageError("--ray runs strategies; --selections scores rows already made")
    if progress is None:
        progress = sys.stderr.isatty()
    bar = _Progress() if progress else None
    interrupted = f"the report in {out} is incomplete; run the same command again"
    try:
        with one_line_errors(debug=False, interrupted=interrupted):
            config = ReportConfig(
                strategies=strategies or DEFAULT_REPORT_STRATEGIES,
                judges=judges or DEFAULT_REPORT_JUDGES,
                seed=seed,
                limit=limit,
                bootstrap=bootstrap,
                checkpoints=checkpoints,
                expose=expose,
                concurrency=concurrency,
                both_orders=both_orders,
                aggregate=aggregate,
                subsamples=subsamples,
                fields=_fields(scores_field, tests_field, inputs_field),
            )
            if selections:
                asyncio.run(
                    arun_selection_report(selections, labels, config, out=out, progress=bar)
                )
            else:
                python = resolve_exec_python(exec_env, exec_python)
                recipes = _recipes(judges, config.strategies, concurrency, llm)
                if ray_cluster is not None:
                    # Each worker builds the judges from their recipes; the driver scores.
                    from rerank.ray import run_report_on_ray

                    run_report_on_ray(
                        inputs,
                        replace(config, judges=tuple(spec for spec, _ in recipes)),
                        out=out,
                        progress=bar,
                        judge_options={spec: o for spec, o in recipes if o is not None},
                        exec_python=python,
                        address=ray_address(ray_cluster),
                    )
                else:
                    chosen, evidence = _report_judges(recipes, python)
                    asyncio.run(
                        arun_report(
                            inputs, config, out=out, progress=bar, judges=chosen, evidence=evidence
                        )
                    )
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"report written to {Path(out) / 'summary.md'}", err=True)
