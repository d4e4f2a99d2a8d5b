"""The numbers of one report group (a dataset and generator), from labels and output rows.

Every selector is described from the rows ``rerank select`` writes
(:func:`rerank.outputs.result_row`), so a report and a select run count costs alike:

- *accuracy*: mean label of the selected candidate, with a bootstrap 95% interval;
- *gap closed*: :func:`rerank.report.baselines.gap_closed`, its interval resampling items;
- *accuracy against k* (``curves`` and each selector's ``at_k``): pass@k (exact), Oracle@k,
  majority@k and each selector on subsets of k candidates (:mod:`rerank.report.subsample`),
  or, where a selector was not run on subsets (a model judge; selection files), its
  sequential knockout's checkpoints; each k with a bootstrap 95% band over items;
- *costs* per item: comparisons, judge calls, tokens (prompt + completion), seconds;
- *rates*: invalid and tie (per comparison), short-circuit (per comparison), A-rate
  (first-shown wins per decisive verdict), swap disagreement (per both-orders match);
  ``None`` where the denominator is zero;
- *paired*: per-item differences between two selectors on the same items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
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
from rerank.report.subsample import MAJORITY, ORACLE, k_grid, pass_at_k
from rerank.report.types import ItemRecord, ReportConfig, Selector, Source, selector_name
from rerank.selector import VOTE_KEY

__all__ = ["PASS_AT_K", "ROW_COUNTS", "group_metrics"]

#: The name of the exact pass@k curve (:func:`rerank.report.subsample.pass_at_k`).
PASS_AT_K = "pass@k"

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


#: Per item, a curve's value at k: None where the item has none.
ValueAt = Callable[[ItemRecord, int], float | None]


def _curve(
    records: Sequence[ItemRecord], value_at: ValueAt, ks: Sequence[int], config: ReportConfig
) -> dict[str, dict[str, Any]]:
    """``{k: {"accuracy", "ci"}}`` over the items, for the k every item has a value at."""
    result = {}
    for k in ks:
        found = [value_at(r, k) for r in records]
        values = [v for v in found if v is not None]
        if not values or len(values) < len(found):
            continue
        interval = bootstrap_interval(values, resamples=config.bootstrap, seed=config.seed)
        result[str(k)] = {"accuracy": float(np.mean(values)), "ci": _interval(interval)}
    return result


def _subsampled(name: str, at_n: Callable[[ItemRecord], float]) -> ValueAt:
    """A curve run on subsets: the record's mean below N, the value at N from N on."""

    def value_at(record: ItemRecord, k: int) -> float | None:
        if k >= len(record.labels):
            return at_n(record)
        return record.at_k.get(name, {}).get(k)

    return value_at


def _selector_curve(selector: Selector, records: Sequence[ItemRecord]) -> tuple[ValueAt, str]:
    """How a selector's accuracy at k is read, and from what: ``subsamples`` (run on
    subsets), ``checkpoints`` (a sequential knockout's incumbent after the first k of its
    seeded order, one random subset per item) or ``N`` (only its pick at N is known)."""
    name = selector_name(selector)

    def at_n(record: ItemRecord) -> float:
        return record.labels[record.rows[selector]["selected"]]

    if records and all(name in r.at_k for r in records):
        return _subsampled(name, at_n), "subsamples"

    def checkpoint(record: ItemRecord, k: int) -> float | None:
        row = record.rows[selector]
        if k >= row["n"]:
            return at_n(record)
        index = (row.get("checkpoints") or {}).get(str(k))
        return None if index is None else record.labels[index]

    checkpoints = bool(records) and all("checkpoints" in r.rows[selector] for r in records)
    return checkpoint, "checkpoints" if checkpoints else "N"


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
    config : the seed and bootstrap resamples of the intervals, the k grid
        (``checkpoints``) and ``subsamples`` of accuracy against k.

    Returns
    -------
    Baselines (first, Random@N, Oracle@N, pass@k), majority vote, the curves against k,
    and per selector accuracy, intervals, gap closed, accuracy against k, costs and rates;
    paired differences between every two selectors.
    """
    base = baselines([r.labels for r in records])
    scorer = _Scorer(records, base, config)
    n_max = max((len(r.labels) for r in records), default=0)
    ks = k_grid(n_max, config.checkpoints) if n_max else []
    picked = {s: [r.labels[r.rows[s]["selected"]] for r in records] for s in selectors}
    curves = {
        PASS_AT_K: _curve(records, lambda r, k: pass_at_k(r.labels, k), ks, config),
        ORACLE: _curve(records, _subsampled(ORACLE, lambda r: max(r.labels)), ks, config),
        MAJORITY: _curve(
            records, _subsampled(MAJORITY, lambda r: r.labels[r.majority]), ks, config
        ),
    }
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
        value_at, entry["at_k_from"] = _selector_curve(selector, records)
        entry["at_k"] = _curve(records, value_at, ks, config)
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
            "first": base.first,
            "random_at_n": base.random_at_n,
            "oracle_at_n": base.oracle_at_n,
            "pass_at_k": {k: v["accuracy"] for k, v in curves[PASS_AT_K].items()},
        },
        "majority": {
            "key": VOTE_KEY,
            **scorer.accuracy([r.labels[r.majority] for r in records]),
        },
        "k_grid": ks,
        "subsamples": config.subsamples,
        "curves": curves,
        "selectors": entries,
        "paired": paired,
    }
