"""Writing a report: ``metrics.json``, ``summary.md``, ``accuracy_vs_k.png``, ``rows.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank.report.types import ItemRecord, Source, selector_name

__all__ = ["plot_accuracy_vs_k", "summary_markdown", "write_outputs"]

PLOT_NAME = "accuracy_vs_k.png"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(pair: Sequence[float] | None) -> str:
    return "" if pair is None else f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _label_statement(report: dict[str, Any]) -> list[str]:
    use = report["label_use"]
    readers = ", ".join(use["judges_reading_labels"]) or "none"
    blind = ", ".join(use["judges_blind_to_labels"]) or "none"
    exposed = ", ".join(use["exposed_resources"]) or "none"
    visible = ", ".join(use["visible_resources"]) or "none"
    return [
        "## Labels and resources",
        "",
        "Labels (the per-candidate scores) were read by this report to measure accuracy.",
        f"- Judges that read labels (simulated, not a real judge): {readers}.",
        f"- Judges that saw no labels: {blind}; the majority vote used evidence signatures only.",
        f"- Hidden fields exposed to judges (--expose): {exposed}.",
        f"- Task resources visible to judges (besides prompt and candidates): {visible}.",
        "",
    ]


def _overview(report: dict[str, Any]) -> list[str]:
    # Groups may differ in selectors (selection files per dataset): one column for each.
    names = list(
        dict.fromkeys(
            selector_name((s["strategy"], s["judge"]))
            for g in report["groups"]
            for s in g["selectors"]
        )
    )
    header = ["dataset", "generator", "items", "N", "Pass@1", "Random@N", "majority", *names]
    rows = []
    for g in report["groups"]:
        b = g["baselines"]
        accuracy = {
            selector_name((s["strategy"], s["judge"])): s["accuracy"] for s in g["selectors"]
        }
        rows.append(
            [
                g["dataset"],
                g["generator"],
                str(g["items"]),
                str(g["candidates"]),
                _num(b["pass_at_1"]),
                _num(b["random_at_n"]),
                _num(g["majority"]["accuracy"]),
                *(_num(accuracy[name]) if name in accuracy else "-" for name in names),
            ]
        )
        rows[-1].append(_num(b["oracle_at_n"]))
    return ["## Overview (accuracy)", "", *_table([*header, "Oracle@N"], rows)]


def _group(g: dict[str, Any]) -> list[str]:
    b = g["baselines"]
    kinds = ", ".join(f"{k} {v}" for k, v in g["task_kinds"].items())
    lines = [
        f"## {g['dataset']} / {g['generator']}",
        "",
        f"{g['items']} items x {g['candidates']} candidates from `{g['file']}`; task kinds: "
        f"{kinds}; evidence {_num(g['evidence_seconds_per_item'], 4)} s/item (computed "
        "once per item, not counted in the selectors' seconds).",
        "",
    ]
    m = g["majority"]
    rows = [
        ["Pass@1", "", _num(b["pass_at_1"]), "", "", "", "", "", "", ""],
        ["Random@N (expected)", "", _num(b["random_at_n"]), "", "0.000", "", "", "", "", ""],
        ["majority vote", "evidence signatures", _num(m["accuracy"]), _ci(m["ci"])]
        + [_num(m["gap_closed"]), _ci(m["gap_ci"]), "", "", "", ""],
    ]
    for s in g["selectors"]:
        c = s["costs"]
        rows.append(
            [s["strategy"], s["judge"] or "-", _num(s["accuracy"]), _ci(s["ci"])]
            + [_num(s["gap_closed"]), _ci(s["gap_ci"]), _num(c["comparisons"], 1)]
            + [_num(c["judge_calls"], 1), _num(c["tokens"], 0), _num(c["seconds"], 4)]
        )
    rows.append(["Oracle@N", "", _num(b["oracle_at_n"]), "", "1.000", "", "", "", "", ""])
    header = ["selector", "judge", "accuracy", "95% CI", "gap closed", "gap 95% CI"]
    header += ["comparisons/item", "judge calls/item", "tokens/item", "seconds/item"]
    lines += _table(header, rows)
    rates = [
        [s["strategy"], s["judge"] or "-"] + [_num(v) for v in s["rates"].values()]
        for s in g["selectors"]
    ]
    header = ["strategy", "judge", "invalid", "tie", "short-circuit", "A-rate", "swap disagr."]
    lines += ["Verdict rates (per comparison; A-rate per decisive verdict):", ""]
    lines += _table(header, rates)
    at_k = [s for s in g["selectors"] if "at_k" in s]
    if at_k:
        ks = list(at_k[0]["at_k"])
        lines += ["Strategy@k (incumbent after the first k candidates):", ""]
        rows = [[s["strategy"], s["judge"] or "-", *map(_num, s["at_k"].values())] for s in at_k]
        lines += _table(["strategy", "judge", *(f"k={k}" for k in ks)], rows)
    if g["paired"]:
        rows = [[p["a"], p["b"], _num(p["mean_diff"]), _ci(p["ci"])] for p in g["paired"]]
        lines += ["Paired differences on the same items (A - B):", ""]
        lines += _table(["A", "B", "mean diff", "95% CI"], rows)
    return lines


def summary_markdown(report: dict[str, Any]) -> str:
    """The tables a person reads: overview, label use, and one section per group.

    Parameters
    ----------
    report : what ``metrics.json`` holds.

    Returns
    -------
    ``summary.md``'s Markdown.
    """
    config = report["config"]
    lines = [
        "# rerank report",
        "",
        f"Strategies: {', '.join(config['strategies'])}; judges: {', '.join(config['judges'])}; "
        f"seed {config['seed']}; {config['bootstrap']} bootstrap resamples; "
        f"limit {config['limit'] or 'none'}. Gap closed = (accuracy - Random@N) / "
        "(Oracle@N - Random@N).",
        "",
    ]
    if "selections" in config:
        lines += [
            f"Selections read from `rerank select` output: {', '.join(config['selections'])}; "
            f"labels from: {', '.join(config['inputs'])}. Strategy options of each selector "
            "are in metrics.json (`strategy_options`).",
            "",
        ]
    lines += [
        *_label_statement(report),
        *_overview(report),
    ]
    for g in report["groups"]:
        lines += _group(g)
    return "\n".join(lines)


def plot_accuracy_vs_k(report: dict[str, Any], path: Path) -> None:
    """Plot accuracy vs k from the sequential checkpoints, Random and Oracle as horizontal
    lines; one panel per dataset (one colour per generator and judge).

    Parameters
    ----------
    report : what ``metrics.json`` holds.
    path : the PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, whatever the environment says
    import matplotlib.pyplot as plt

    datasets = sorted({g["dataset"] for g in report["groups"]})
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(4.5 * len(datasets), 3.8), squeeze=False, sharey=True
    )
    for ax, dataset in zip(axes[0], datasets, strict=True):
        groups = [g for g in report["groups"] if g["dataset"] == dataset]
        ticks: set[int] = set()
        for i, g in enumerate(groups):
            colour = f"C{i}"
            prefix = g["generator"] + " " if len(groups) > 1 else ""
            for j, s in enumerate(x for x in g["selectors"] if "at_k" in x):
                ks = [int(k) for k in s["at_k"]]
                ticks.update(ks)
                ax.plot(
                    ks,
                    list(s["at_k"].values()),
                    marker="o",
                    color=colour,
                    linestyle=("-", "-.", ":")[j % 3],
                    label=f"{prefix}{s['strategy']}/{s['judge']}",
                )
            b = g["baselines"]
            ax.axhline(b["random_at_n"], color=colour, linestyle="--", alpha=0.6)
            ax.axhline(b["oracle_at_n"], color=colour, linestyle=":", alpha=0.9)
            # Labelled at the right end, where the curves approach them less often.
            right = g["candidates"]
            for name, y in (("Random@N", b["random_at_n"]), ("Oracle@N", b["oracle_at_n"])):
                ax.annotate(f"{prefix}{name}", (right, y), fontsize=7, va="bottom", ha="right")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ticks), labels=[str(k) for k in sorted(ticks)])
        ax.minorticks_off()
        ax.set_title(dataset)
        ax.set_xlabel("k (candidates seen)")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(
    out: Path, report: dict[str, Any], groups: Sequence[tuple[Source, Sequence[ItemRecord]]]
) -> None:
    """Write every report file into ``out`` (created if missing).

    Parameters
    ----------
    out : the report folder.
    report : what ``metrics.json`` holds.
    groups : each candidate file with its item records (for ``rows.jsonl``).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(report), encoding="utf-8")
    plot_accuracy_vs_k(report, out / PLOT_NAME)
    with open(out / "rows.jsonl", "w", encoding="utf-8") as f:
        for source, records in groups:
            for record in records:
                for row in record.rows.values():
                    extra = {"dataset": source.dataset, "generator": source.generator}
                    f.write(json.dumps({**extra, **row}, ensure_ascii=False) + "\n")
