"""What ``rerank select`` says when it ends: one short line, and more with ``--verbose``.

The line holds what a person checks first: items, time, accuracy (where the input has
labels), comparisons, judge calls and ties, and anything that needs action (failed items,
skipped rows) or warning (a judge that read the labels). ``--verbose`` adds the rest, one
fact a line, in plain words: tokens, what the evidence or deduplication saved, invalid
verdicts or abstaining voters, flagged verdicts, position bias and order disagreement.

Accuracy needs the labels of the chosen candidates, which output rows never carry; the
command counts them as items finish (:class:`Accuracy`), outside any judge's view.
"""

from __future__ import annotations

from dataclasses import dataclass

from rerank.items import Item
from rerank.run import RunSummary

__all__ = ["Accuracy", "details", "summary_line"]


@dataclass
class Accuracy:
    """The labels of the chosen candidates, for items whose every candidate has one."""

    labelled: int = 0
    total: float = 0.0

    def add(self, item: Item, chosen: int) -> None:
        if item.labels is not None and item.labels.complete:
            self.labelled += 1
            self.total += float(item.labels.scores[chosen] or 0.0)

    @property
    def mean(self) -> float | None:
        return self.total / self.labelled if self.labelled else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def summary_line(summary: RunSummary, accuracy: Accuracy | None = None) -> str:
    """The one line ``rerank select`` ends with.

    Examples
    --------
    >>> summary = RunSummary(selected=3, comparisons=6, ties=2, elapsed=0.5)
    >>> summary_line(summary, Accuracy(labelled=3, total=2.0))
    'selected 3 items in 0.50s; accuracy 0.667 (3 labelled); 6 comparisons, 0 judge calls, 2 ties'
    """
    parts = [f"selected {_plural(summary.selected, 'item')} in {summary.elapsed:.2f}s"]
    if summary.already_done:
        parts.append(f"{summary.already_done} already done")
    if accuracy is not None and accuracy.mean is not None:
        parts.append(f"accuracy {accuracy.mean:.3f} ({accuracy.labelled} labelled)")
    parts.append(
        f"{_plural(summary.comparisons, 'comparison')}, "
        f"{_plural(summary.judge_calls, 'judge call')}, {_plural(summary.ties, 'tie')}"
    )
    if summary.invalid_rows:
        parts.append(f"{len(summary.invalid_rows)} invalid rows skipped")
    if summary.failed:
        parts.append(f"{len(summary.failed)} failed (rerun with --resume to retry)")
    if summary.labels_used:
        parts.append(f"judge {summary.judge_spec} READ THE LABELS (a simulation)")
    return "; ".join(parts)


def details(summary: RunSummary, strategy: str) -> list[str]:
    """The lines ``--verbose`` adds after the summary line."""
    judge = summary.judge_spec or "none: a vote over evidence signatures"
    lines = [f"judge: {judge}"]
    if summary.judge_calls or summary.prompt_tokens or summary.completion_tokens:
        tokens = summary.prompt_tokens + summary.completion_tokens
        lines.append(
            f"tokens: {tokens} ({summary.prompt_tokens} prompt + "
            f"{summary.completion_tokens} completion)"
        )
    if summary.short_circuits or summary.deduplicated:
        lines.append(
            f"model calls saved: {summary.short_circuits} verdicts decided by the evidence, "
            f"{summary.deduplicated} copied from an equivalent pair"
        )
    if strategy == "vote":
        lines.append(
            f"abstained: {summary.invalid_verdicts} candidates had no answer (or code that "
            "ran) to vote with"
        )
    else:
        lines.append(
            f"invalid: {summary.invalid_verdicts} of {summary.comparisons} verdicts had no "
            "usable answer from the judge (not counted as a win for either)"
        )
    if summary.flagged_verdicts:
        lines.append(
            f"flagged: {summary.flagged_verdicts} verdicts with a problem noted (such as "
            "citing evidence that does not exist); see --trace"
        )
    if summary.a_rate is not None:
        lines.append(
            f"position: the candidate shown first won {summary.a_rate:.2f} of "
            f"{summary.decisive_verdicts} decisive verdicts (0.50: no position bias)"
        )
    if summary.swap_disagreement_rate is not None:
        rate = summary.swap_disagreement_rate
        lines.append(
            f"both orders: the two display orders disagreed on {rate:.2f} of "
            f"{summary.both_orders_matches} pairs (each became a tie)"
        )
    return lines
