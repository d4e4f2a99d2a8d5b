"""What a report is made of: its configuration, its input files, one record per item, and the
selectors it compares. Every other module of :mod:`rerank.report` imports these; this one
imports none of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rerank.errors import ConfigError
from rerank.readers import Fields
from rerank.selector import StrategyConfig

__all__ = [
    "DEFAULT_REPORT_JUDGES",
    "DEFAULT_SUBSAMPLES",
    "DEFAULT_REPORT_STRATEGIES",
    "Group",
    "ItemRecord",
    "ProgressCallback",
    "ReportConfig",
    "Selector",
    "Source",
    "selector_name",
]

DEFAULT_REPORT_STRATEGIES: tuple[str, ...] = ("sequential", "knockout", "round-robin")
DEFAULT_REPORT_JUDGES: tuple[str, ...] = ("evidence",)
#: Subsets of k candidates per item and k for accuracy against k (every subset when fewer).
DEFAULT_SUBSAMPLES = 20


@dataclass(frozen=True)
class ReportConfig:
    """What to compare and how to measure it, as ``rerank report``'s options give it."""

    strategies: tuple[str, ...] = DEFAULT_REPORT_STRATEGIES
    judges: tuple[str, ...] = DEFAULT_REPORT_JUDGES
    seed: int = 0
    limit: int | None = None
    bootstrap: int = 2000
    checkpoints: tuple[int, ...] = (1, 2, 4, 8)
    expose: tuple[str, ...] = ()
    concurrency: int = 8
    both_orders: bool = False
    aggregate: str = "win_rate"
    #: Subsets of k candidates drawn per item and k (:mod:`rerank.report.subsample`).
    subsamples: int = DEFAULT_SUBSAMPLES
    #: Where the scores, tests and inputs of a table live (JETTS files are refused).
    fields: Fields = field(default_factory=Fields)

    def __post_init__(self) -> None:
        if not self.strategies:
            raise ConfigError("no strategy to report on: give at least one --strategy")
        for name in self.strategies:
            self.strategy(name)  # raises ConfigError naming the valid strategies (aggregates)
        if self.bootstrap < 1:
            raise ConfigError(f"--bootstrap must be at least 1, got {self.bootstrap}")
        if self.subsamples < 1:
            raise ConfigError(f"--subsamples must be at least 1, got {self.subsamples}")

    def strategy(self, name: str) -> StrategyConfig:
        """The strategy ``name`` with this report's seed and strategy options."""
        return StrategyConfig(
            name=name,
            seed=self.seed,
            both_orders=self.both_orders,
            aggregate=self.aggregate,
            checkpoints=self.checkpoints,
        )


@dataclass(frozen=True)
class Source:
    """One candidate file and the dataset and generator its name says it holds."""

    path: Path
    dataset: str
    generator: str


#: A selector of a report: a strategy (or a column label) and its judge's spec (None: vote).
Selector = tuple[str, str | None]


def selector_name(selector: Selector) -> str:
    """``strategy/judge`` (``vote`` alone: it has no judge).

    >>> selector_name(("knockout", "evidence")), selector_name(("vote", None))
    ('knockout/evidence', 'vote')
    """
    strategy, judge = selector
    return strategy if judge is None else f"{strategy}/{judge}"


@dataclass
class ItemRecord:
    """One item of a report: its labels, the majority vote, each selector's row, and the
    mean label picked on subsets of k candidates (``at_k``: by curve or selector name,
    then k; only k below the item's N)."""

    id: str
    labels: list[float]
    task_kind: str
    majority: int
    evidence_seconds: float
    rows: dict[Selector, dict[str, Any]] = field(default_factory=dict)
    at_k: dict[str, dict[int, float]] = field(default_factory=dict)


#: One dataset and generator of a report: its file, its records, and its metrics.
Group = tuple[Source, Sequence[ItemRecord], dict[str, Any]]
#: Called after each item of a file: ``progress(source, done, total)``.
ProgressCallback = Callable[[Source, int, int], None]
