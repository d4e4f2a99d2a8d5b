"""The ``rerank`` command line: parses options, calls the library, reports errors as one line.

Exit codes (docs/formats.md): 0 done; 1 the run stopped on an error it names (input,
options, a full disk) or some items failed (``--resume`` retries them); 2 a usage error;
:data:`EXIT_INTERNAL` a bug in rerank; :data:`EXIT_INTERRUPTED` Ctrl-C.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rerank import __version__
from rerank.cli.errors import one_line_errors
from rerank.cli.report import report
from rerank.cli.skills import skills
from rerank.items import TASK_KINDS
from rerank.judges import EvidenceJudge, Judge, create_judge, parse_spec
from rerank.llm.redact import redact_spec
from rerank.readers import FORMATS, Fields
from rerank.run import RunOptions, RunSummary, how_to_finish, run_select
from rerank.selector import (
    AGGREGATES,
    DEFAULT_JUDGE,
    DEFAULT_STRATEGY,
    LOCAL_DEFAULT_JUDGE,
    STRATEGIES,
    StrategyConfig,
)

__all__ = ["main"]


def _checkpoints(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(k) for k in value.split(",") if k.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if any(k < 1 for k in ks):
        raise click.BadParameter("checkpoints are candidate counts, at least 1")
    return ks


def _llm_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--judge llm`` options of ``select``; none is needed by any other judge."""
    options = [
        click.option(
            "--base-url",
            multiple=True,
            metavar="URL[,URL...]",
            help="OpenAI-compatible endpoint(s) of the LLM judge (repeatable, or comma "
            "separated); implies --judge llm.",
        ),
        click.option("--model", default=None, help="Model name (default: the first served)."),
        click.option(
            "--api-key",
            default=None,
            show_default=False,
            help="Endpoint API key (default $RERANK_API_KEY or $OPENAI_API_KEY; never "
            "printed or recorded).",
        ),
        click.option("--skill", default=None, help="Use this skill for every item."),
        click.option(
            "--skills-dir", multiple=True, metavar="DIR", help="Add skill folders (repeatable)."
        ),
        click.option(
            "--no-short-circuit",
            "short_circuit",
            flag_value=False,
            default=None,
            help="Ask the model even when hard evidence decides a pair.",
        ),
        click.option(
            "--max-steps",
            type=click.IntRange(min=0),
            default=None,
            help="Tool-calling steps per verdict before the answer is forced (default 6).",
        ),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=1),
            default=None,
            help="Most tokens per model call (default 2048).",
        ),
        click.option(
            "--cache",
            default=None,
            metavar="PATH",
            help="Verdict cache file (default ~/.cache/rerank/verdicts.sqlite).",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor store verdicts."),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Deadline in seconds for each whole request to an endpoint (default 120).",
        ),
        click.option(
            "--judge-concurrency",
            type=click.IntRange(min=1),
            default=None,
            help="Requests in flight per endpoint (default: --concurrency).",
        ),
        click.option(
            "--thinking/--no-thinking",
            default=None,
            help="Let thinking models think (enable_thinking; off by default).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


#: Judges that take the LLM options; all but ``llm`` run their model in this process.
_MODEL_JUDGES = ("llm", "local", "evidence+local")
_ENDPOINT_OPTIONS = ("base_url", "api_key", "timeout", "judge_concurrency")


def _exec_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--exec-env`` and ``--exec-python``: the interpreter code candidates run on."""
    command = click.option(
        "--exec-python",
        default=None,
        metavar="PATH",
        help="Run code candidates on this Python (3.10+) and its packages, not rerank's.",
    )(command)
    return click.option(
        "--exec-env",
        default=None,
        metavar="DIR",
        help="Run code candidates in this environment (from `rerank env create`; a "
        "directory, or the name of one in the default place).",
    )(command)


def _exec_python(exec_env: str | None, exec_python: str | None) -> str | None:
    """The interpreter ``--exec-env``/``--exec-python`` name (None: rerank's own)."""
    from rerank.envs import exec_python as resolve

    if exec_env is not None and exec_python is not None:
        raise click.UsageError("--exec-env and --exec-python exclude each other")
    return resolve(exec_env, exec_python)


def _llm_judge(
    judge: str | None,
    strategy: str,
    concurrency: int,
    llm: dict[str, Any],
    *,
    evidence: EvidenceJudge | None = None,
) -> Judge | str | None:
    """The judge ``select`` runs: the ``--judge`` spec, or an LLM judge built from it and
    the LLM options (``--base-url`` alone means ``--judge llm``). Options that change
    verdicts (model, skill, steps, ...) go into the recorded spec; where and how to ask
    (endpoints, key, cache, timeout) do not. ``evidence`` is the evidence judge a model
    judge builds on (one that runs code candidates in an execution environment)."""
    given = sorted(k for k, v in llm.items() if v is not None and v != () and v is not False)
    if llm["short_circuit"] is False:  # the one option whose flag gives False
        given.append("no_short_circuit")
    if judge is None and llm["base_url"]:
        judge = "llm"
    name, args, kwargs = parse_spec(judge) if judge else ("", [], {})
    if name not in _MODEL_JUDGES:
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise click.UsageError(f"{flag} is an option of the LLM judge: add --judge llm")
        return judge
    if name != "llm":  # a model run in this process: no endpoint to reach
        remote = [k for k in _ENDPOINT_OPTIONS if k in given]
        if remote:
            flag = "--" + remote[0].replace("_", "-")
            raise click.UsageError(f"{flag} is for --judge llm: --judge {name} runs its own server")
    if strategy == "vote":
        raise click.UsageError("--strategy vote uses no judge; choose a pairwise or pointwise one")
    if llm["cache"] and llm["no_cache"]:
        raise click.UsageError("--cache and --no-cache exclude each other")
    spec_values = {
        "model": llm["model"],
        "skill": llm["skill"],
        "max_steps": llm["max_steps"],
        "max_tokens": llm["max_tokens"],
        "short_circuit": "false" if llm["short_circuit"] is False else None,
        "enable_thinking": {True: "true", False: None, None: None}[llm["thinking"]],
    }
    for key, value in spec_values.items():
        if value is None:
            continue
        if key in kwargs:
            raise click.UsageError(
                f"{key} is given in --judge {redact_spec(judge)!r} and as an option"
            )
        kwargs[key] = str(value)
    parts = [*args, *(f"{k}={v}" for k, v in kwargs.items())]
    spec = name + (":" + ",".join(parts) if parts else "")
    options: dict[str, Any] = {"skills_dirs": llm["skills_dir"]}
    if llm["cache"] or llm["no_cache"]:
        if "cache" in kwargs:
            flag = "--no-cache" if llm["no_cache"] else "--cache"
            raise click.UsageError(
                f"cache is given in --judge {redact_spec(judge)!r} and as {flag}"
            )
        options["cache"] = False if llm["no_cache"] else llm["cache"]
    if name == "llm":
        options["concurrency"] = llm["judge_concurrency"] or concurrency
    if llm["base_url"]:
        options["base_url"] = list(llm["base_url"])
    if llm["api_key"] is not None:
        options["api_key"] = llm["api_key"]
    if llm["timeout"] is not None:
        options["timeout"] = llm["timeout"]
    if evidence is not None:
        options["evidence"] = evidence
    return create_judge(spec, **options)


async def _run(options: RunOptions) -> RunSummary:
    """Run ``select``, closing a judge built here (run_select closes only its own)."""
    try:
        return await run_select(options)
    finally:
        if options.judge is not None and not isinstance(options.judge, str):
            await options.judge.aclose()


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
    default=DEFAULT_STRATEGY,
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
@click.option(
    "--debug",
    is_flag=True,
    help="On an internal error (a bug), print its traceback instead of saving it to a file.",
)
@_exec_options
@_llm_options
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
    debug: bool,
    exec_env: str | None,
    exec_python: str | None,
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
        python = _exec_python(exec_env, exec_python)
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
            judge=_llm_judge(
                judge,
                strategy,
                concurrency,
                llm,
                evidence=EvidenceJudge(exec_python=python) if python else None,
            ),
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
        summary = asyncio.run(_run(options))
    click.echo(summary.line(), err=True)
    if summary.failed:
        sys.exit(1)


@main.group("env")
def env() -> None:
    """Execution environments: the Python (and libraries) code candidates run on."""


@env.command("create")
@click.argument("name")
@click.argument("directory", required=False, metavar="[DIR]")
@click.option(
    "--requirements",
    "-r",
    default=None,
    metavar="FILE",
    help="Install this requirements file instead of NAME's list (NAME then only names it).",
)
@click.option(
    "--python",
    default=None,
    metavar="PATH",
    help="The interpreter of the environment (default: the one running rerank).",
)
@click.option("--force", is_flag=True, help="Rebuild an environment that is already built.")
def env_create(
    name: str, directory: str | None, requirements: str | None, python: str | None, force: bool
) -> None:
    """Build the environment NAME (e.g. bigcodebench) in DIR (default: under
    $XDG_CACHE_HOME/rerank/envs). Pins with no wheel for this Python are relaxed to the
    nearest version that has one; DIR/rerank-env.json records what was installed and why.
    Running it again finishes an interrupted build and leaves a finished one alone."""
    from rerank import envs

    with one_line_errors(debug=False, interrupted="run the same command again to resume"):
        if requirements is not None:
            try:
                text = Path(requirements).read_text(encoding="utf-8")
            except OSError as exc:
                raise click.BadParameter(f"{requirements}: {exc.strerror}") from None
        else:
            text = envs.named_requirements(name)
        root = Path(directory) if directory else envs.default_env_dir(name)
        envs.create_env(
            root,
            text,
            name=name,
            python=python,
            force=force,
            progress=lambda message: click.echo(message, err=True),
        )
    click.echo(f"{root / 'bin' / 'python'}")


@env.command("show")
@click.argument("environment", metavar="ENV")
def env_show(environment: str) -> None:
    """What ENV (a directory, or a name) holds: its interpreter and every requirement
    that was relaxed, built from source or dropped."""
    from rerank import envs

    with one_line_errors(debug=False, interrupted="nothing was changed"):
        root = envs.env_dir(environment)
        record = envs.read_record(root)
        if record is None:
            raise click.ClickException(f"{root} has no {envs.RECORD}: not built by rerank")
    python = record["python"]
    click.echo(f"{record['name']}: {root} ({record['status']})")
    click.echo(f"python {python['version']}: {python['executable']}")
    packages = record.get("packages", [])
    changed = [p for p in packages if p["change"] != "kept"]
    installed = len(record.get("freeze", []))
    click.echo(f"{len(packages)} requirements, {len(changed)} changed; {installed} installed")
    for package in changed:
        version = package.get("installed") or "-"
        click.echo(
            f"  {package['requested']} -> {version}: {package['change']}, {package['reason']}"
        )


@env.command("list")
def env_list() -> None:
    """The environments in the default place, and the ones rerank knows how to build."""
    from rerank import envs

    root = envs.default_env_dir("x").parent
    for name in sorted({*envs.NAMED, *(p.name for p in root.glob("*") if p.is_dir())}):
        record = envs.read_record(root / name)
        status = record["status"] if record else "not built"
        click.echo(f"{name}\t{status}\t{root / name}")


main.add_command(skills)
main.add_command(report)
