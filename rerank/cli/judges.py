"""The judges ``rerank select`` and ``rerank report`` build from their options.

A model judge (:data:`rerank.selector.MODEL_JUDGES`) is built here from its ``--judge``
spec and the LLM options (:data:`rerank.cli.options.llm_options`); any other judge stays a
spec string, and an LLM option given with it is a usage error.
"""

from __future__ import annotations

from typing import Any

import click

from rerank.envs import exec_python as interpreter
from rerank.judges import EvidenceJudge, Judge, create_judge, parse_spec
from rerank.llm.redact import redact_spec
from rerank.selector import MODEL_JUDGES

__all__ = ["ENDPOINT_OPTIONS", "judge_recipe", "llm_judge", "resolve_exec_python"]

#: The LLM options that say where to reach an endpoint: only ``llm`` has one.
ENDPOINT_OPTIONS: tuple[str, ...] = ("base_url", "api_key", "timeout", "judge_concurrency")


def resolve_exec_python(exec_env: str | None, exec_python: str | None) -> str | None:
    """The interpreter ``--exec-env``/``--exec-python`` name.

    Parameters
    ----------
    exec_env : an execution environment (a directory, or a name in the default place).
    exec_python : a Python interpreter.

    Returns
    -------
    The interpreter's path, or None for rerank's own.

    Raises
    ------
    click.UsageError
        When both are given.
    rerank.envs.EnvError
        A missing interpreter, or an environment still building.
    """
    if exec_env is not None and exec_python is not None:
        raise click.UsageError("--exec-env and --exec-python exclude each other")
    return interpreter(exec_env, exec_python)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def judge_recipe(
    judge: str | None,
    strategy: str,
    concurrency: int,
    llm: dict[str, Any],
    *,
    evidence: EvidenceJudge | None = None,
) -> tuple[str | None, dict[str, Any] | None]:
    """How to build the judge a command runs: the spec, and the options
    :func:`~rerank.judges.create_judge` takes with it for a model judge (``None`` for any
    other judge, which the spec alone builds). ``--base-url`` alone means ``--judge llm``.
    ``rerank select --ray`` sends this recipe to every worker; :func:`llm_judge` builds it
    here.

    Parameters
    ----------
    judge : the ``--judge`` spec (None: not given).
    strategy : the strategy the judge serves (``vote`` takes none).
    concurrency : ``--concurrency``, the default of ``--judge-concurrency``.
    llm : the LLM options by parameter name (:data:`rerank.cli.options.LLM_OPTIONS`).
    evidence : the evidence judge a model judge builds on (one that runs code candidates
        in an execution environment); default: its own.

    Returns
    -------
    ``(spec, options)`` for a model judge; else ``(judge, None)``, the spec as given.

    Raises
    ------
    click.UsageError
        An LLM option without a model judge, an endpoint option with a judge that runs its
        own server, ``vote`` with a model judge, or an option given twice (in the spec and
        as an option).

    Notes
    -----
    Options that change verdicts (model, skill, steps, ...) go into the recorded spec;
    where and how to ask (endpoints, key, cache, timeout) do not.
    """
    given = sorted(k for k, v in llm.items() if v is not None and v != () and v is not False)
    if llm["short_circuit"] is False:  # the one option whose flag gives False
        given.append("no_short_circuit")
    if judge is None and llm["base_url"]:
        judge = "llm"
    if judge is None or parse_spec(judge)[0] not in MODEL_JUDGES:
        if given:
            raise click.UsageError(
                f"{_flag(given[0])} is an option of the LLM judge: add --judge llm"
            )
        return judge, None
    name, args, kwargs = parse_spec(judge)
    if name != "llm":  # a model run in this process: no endpoint to reach
        remote = [k for k in ENDPOINT_OPTIONS if k in given]
        if remote:
            raise click.UsageError(
                f"{_flag(remote[0])} is for --judge llm: --judge {name} runs its own server"
            )
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
        "verdict": llm.get("verdict"),
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
    return spec, options


def llm_judge(
    judge: str | None,
    strategy: str,
    concurrency: int,
    llm: dict[str, Any],
    *,
    evidence: EvidenceJudge | None = None,
) -> Judge | str | None:
    """The judge a command runs: a model judge built from :func:`judge_recipe`, else the
    ``--judge`` spec as given (parameters as there)."""
    spec, options = judge_recipe(judge, strategy, concurrency, llm, evidence=evidence)
    if options is None:
        return spec
    assert spec is not None  # a model judge always has its spec
    return create_judge(spec, **options)
