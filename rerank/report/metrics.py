"""The numbers of one report group (a dataset and generator), from labels and output rows.

Every selector is described from the rows ``rerank select`` writes
(:func:`rerank.outputs.result_row`), so a report and a select run count costs alike:

- *accuracy*: mean label of the selected candidate, with a bootstrap 95% interval;
- *gap closed*: :func:`rerank.report.baselines.gap_closed`, its interval resampling items;
- *at_k* (sequential only): accuracy of the incumbent after the first k candidates;
- *costs* per item: comparisons, judge calls, tokens (prompt + completion), seconds;
- *rates*: invalid and tie (per comparison), short-circuit (per comparison), A-rate
  (first-shown wins per decisive verdict), swap disagreement (per both-orders match);
  ``None`` where the denominator is zero;
- *paired*: per-item differences between two selectors on the same items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from rerank.report.baselines import (
    Baselines,
    baselines,
    bootstrap_gap_interval,
    bootstrap_interval,
    gap_closed,
)
from rerank.report.types import ItemRecord, ReportConfig, Selector, Source, selector_name

__all__ = ["ROW_COUNTS", "group_metrics"]

#: The per-item counts of an output row that costs and rates add up (besides ``elapsed``).
ROW_COUNTS = (
    "comparisons",
    "judge_calls",
    "prompt_tokens",
    "completion_tokens",
    "ties",
    "invalid",
    "short_circuits",
    "decisive_verdicts",
    "first_shown_wins",
    "both_orders_matches",
    "swap_disagreements",
)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _interval(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None or any(np.isnan(pair)) else [pair[0], pair[1]]


class _Scorer:
    """Accuracy, gap closed and their intervals for per-item picked labels."""

    def __init__(self, records: Sequence[ItemRecord], base: Baselines, config: ReportConfig):
        self.random = [float(np.mean(r.labels)) for r in records]
        self.oracle = [max(r.labels) for r in records]
        self.base = base
        self.resamples = config.bootstrap
        self.seed = config.seed

    def accuracy(self, picked: Sequence[float]) -> dict[str, Any]:
        acc = float(np.mean(picked)) if picked else float("nan")
        return {
            "accuracy": acc,
            "ci": _interval(bootstrap_interval(picked, resamples=self.resamples, seed=self.seed)),
            "gap_closed": gap_closed(acc, self.base),
            "gap_ci": _interval(
                bootstrap_gap_interval(
                    picked, self.random, self.oracle, resamples=self.resamples, seed=self.seed
                )
            ),
        }


def _at_k(records: Sequence[ItemRecord], selector: Selector, ks: Sequence[int]) -> dict:
    """Accuracy of the incumbent after k candidates (the winner once k reaches n); only
    the k every row recorded (selection files may have been made with other checkpoints)."""
    rows = [r.rows[selector] for r in records]
    result = {}
    for k in ks:
        if any(k < row["n"] and str(k) not in row["checkpoints"] for row in rows):
            continue
        picked = []
        for r in records:
            row = r.rows[selector]
            index = row["selected"] if k >= row["n"] else row["checkpoints"][str(k)]
            picked.append(r.labels[index])
        result[str(k)] = float(np.mean(picked))
    return result


def _costs_and_rates(rows: Sequence[dict[str, Any]]) -> tuple[dict, dict]:
    total: Counter[str] = Counter()
    for row in rows:
        for key in ROW_COUNTS:
            total[key] += row[key]
        total["seconds"] += row["elapsed"]
    n = len(rows)
    costs = {
        "comparisons": total["comparisons"] / n,
        "judge_calls": total["judge_calls"] / n,
        "tokens": (total["prompt_tokens"] + total["completion_tokens"]) / n,
        "seconds": total["seconds"] / n,
    }
    rates = {
        "invalid": _ratio(total["invalid"], total["comparisons"]),
        "tie": _ratio(total["ties"], total["comparisons"]),
        "short_circuit": _ratio(total["short_circuits"], total["comparisons"]),
        "a_rate": _ratio(total["first_shown_wins"], total["decisive_verdicts"]),
        "swap_disagreement": _ratio(total["swap_disagreements"], total["both_orders_matches"]),
    }
    return costs, rates


def group_metrics(
    source: Source,
    records: Sequence[ItemRecord],
    selectors: Sequence[Selector],
    config: ReportConfig,
) -> dict[str, Any]:
    """Everything ``metrics.json`` says of one dataset and generator.

    Parameters
    ----------
    source : the candidate file.
    records : its items, each with a row per selector.
    selectors : the selectors to describe, in column order.
    config : the seed and bootstrap resamples of the intervals, and the checkpoints of
        Strategy@k.

    Returns
    -------
    Baselines, majority vote, and per selector accuracy, intervals, gap closed, Strategy@k,
    costs and rates; paired differences between every two selectors.
    """
    base = baselines([r.labels for r in records])
    scorer = _Scorer(records, base, config)
    n_max = max((len(r.labels) for r in records), default=0)
    ks = sorted({k for k in config.checkpoints if k < n_max} | {n_max})
    picked = {s: [r.labels[r.rows[s]["selected"]] for r in records] for s in selectors}
    entries = []
    for selector in selectors:
        strategy, judge = selector
        rows = [r.rows[selector] for r in records]
        entry: dict[str, Any] = {
            "strategy": strategy,
            "judge": judge,
            "strategy_options": rows[0]["strategy_options"] if rows else {},
            "labels_used": bool(rows and rows[0]["labels_used"]),
            "exposed": sorted({name for row in rows for name in row["exposed"]}),
            **scorer.accuracy(picked[selector]),
        }
        if rows and "checkpoints" in rows[0]:
            entry["at_k"] = _at_k(records, selector, ks)
        entry["costs"], entry["rates"] = _costs_and_rates(rows) if rows else ({}, {})
        entries.append(entry)
    paired = []
    for a, b in combinations(selectors, 2):
        diff = [x - y for x, y in zip(picked[a], picked[b], strict=True)]
        paired.append(
            {
                "a": selector_name(a),
                "b": selector_name(b),
                "mean_diff": float(np.mean(diff)) if diff else None,
                "ci": _interval(
                    bootstrap_interval(diff, resamples=config.bootstrap, seed=config.seed)
                ),
            }
        )
    return {
        "dataset": source.dataset,
        "generator": source.generator,
        "file": str(source.path),
        "items": len(records),
        "candidates": n_max,
        "task_kinds": dict(sorted(Counter(r.task_kind for r in records).items())),
        "evidence_seconds_per_item": (
            float(np.mean([r.evidence_seconds for r in records])) if records else None
        ),
        "baselines": {
            "pass_at_1": base.pass_at_1,
            "random_at_n": base.random_at_n,
            "oracle_at_n": base.oracle_at_n,
        },
        "majority": scorer.accuracy([r.labels[r.majority] for r in records]),
        "selectors": entries,
        "paired": paired,
    }
