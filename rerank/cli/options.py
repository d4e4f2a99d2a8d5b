"""The options ``rerank select`` and ``rerank report`` share, each defined once as a decorator.

An option's name, type, default and parsing live here; where the two commands give it a
different meaning (``--concurrency`` caps judge calls in ``select``, items in ``report``),
the command passes its own help text. Decorators that add several options add them in the
order ``--help`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from rerank.selector import AGGREGATES

__all__ = [
    "LLM_OPTIONS",
    "checkpoints_option",
    "concurrency_option",
    "exec_options",
    "expose_option",
    "limit_option",
    "llm_options",
    "match_options",
    "parse_checkpoints",
    "progress_option",
    "ray_address",
    "ray_option",
    "seed_option",
]

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


def _stacked(*options: Decorator) -> Decorator:
    """One decorator applying ``options`` so that ``--help`` lists them in this order."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def parse_checkpoints(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    """``--checkpoints``: comma-separated candidate counts, each at least 1."""
    try:
        ks = tuple(int(k) for k in value.split(",") if k.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if any(k < 1 for k in ks):
        raise click.BadParameter("checkpoints are candidate counts, at least 1")
    return ks


def seed_option(help: str) -> Decorator:
    """``--seed``: an integer, 0 by default."""
    return click.option("--seed", default=0, show_default=True, type=int, help=help)


def limit_option(help: str) -> Decorator:
    """``--limit``: only the first N items (all by default)."""
    return click.option("--limit", default=None, type=click.IntRange(min=1), help=help)


def concurrency_option(help: str) -> Decorator:
    """``--concurrency``: how much runs at once, 8 by default."""
    return click.option(
        "--concurrency", default=8, show_default=True, type=click.IntRange(min=1), help=help
    )


def checkpoints_option(help: str) -> Decorator:
    """``--checkpoints``: the sequential knockout's anytime record (:func:`parse_checkpoints`)."""
    return click.option(
        "--checkpoints",
        default="1,2,4,8",
        show_default=True,
        callback=parse_checkpoints,
        help=help,
    )


def expose_option(help: str) -> Decorator:
    """``--expose``: hidden fields granted to the judge (repeatable)."""
    return click.option("--expose", multiple=True, metavar="FIELD", help=help)


#: What ``--ray`` given without an address holds: start a cluster on this machine.
_LOCAL_CLUSTER = "local"


def ray_option(same: str) -> Decorator:
    """``--ray [ADDRESS]``: run on a Ray cluster (:func:`ray_address` reads it); ``same``
    says what stays as in one process."""
    return click.option(
        "--ray",
        "ray_cluster",
        is_flag=False,
        flag_value=_LOCAL_CLUSTER,
        default=None,
        metavar="[ADDRESS]",
        help="Run the items on a Ray cluster (pip install 'rerank[ray]'): 'auto' joins a "
        f"running one, an address joins that one, no value starts one here. {same} "
        "(docs/scale.md).",
    )


def ray_address(value: str) -> str | None:
    """The address ``rerank.ray`` takes for a given ``--ray`` (None: start a cluster here)."""
    return None if value == _LOCAL_CLUSTER else value


progress_option: Decorator = click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: only on a terminal).",
)

#: ``--both-orders`` and ``--aggregate``: how pairs are asked and matches ranked.
match_options: Decorator = _stacked(
    click.option(
        "--both-orders",
        is_flag=True,
        help="Ask every pair in both display orders; disagreement is a tie.",
    ),
    click.option(
        "--aggregate",
        type=click.Choice(AGGREGATES),
        default="win_rate",
        show_default=True,
        help="How round-robin turns matches into a ranking.",
    ),
)

#: ``--exec-env`` and ``--exec-python``: the interpreter code candidates run on
#: (:func:`rerank.cli.judges.resolve_exec_python`).
exec_options: Decorator = _stacked(
    click.option(
        "--exec-env",
        default=None,
        metavar="DIR",
        help="Run code candidates in this environment (from `rerank env create`; a "
        "directory, or the name of one in the default place).",
    ),
    click.option(
        "--exec-python",
        default=None,
        metavar="PATH",
        help="Run code candidates on this Python (3.10+) and its packages, not rerank's.",
    ),
)

#: The options of the model judges (:data:`rerank.selector.MODEL_JUDGES`); a command
#: receives them as keyword arguments and hands them to :func:`rerank.cli.judges.llm_judge`.
llm_options: Decorator = _stacked(
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
    click.option(
        "--verdict",
        type=click.Choice(["auto", "logprobs", "text"]),
        default=None,
        help="Read verdicts from the log-probabilities of a one-token answer, or from the "
        "reply's text (default auto: logprobs for small models where the endpoint sends "
        "them, else text).",
    ),
)

#: The parameter names :data:`llm_options` adds, in ``--help`` order.
LLM_OPTIONS: tuple[str, ...] = tuple(
    str(p.name) for p in reversed(llm_options(click.Command("llm")).params)
)
