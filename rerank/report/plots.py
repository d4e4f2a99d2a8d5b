"""A report's figures, and the numbers they plot.

Per dataset and generator, one figure (``figures/{dataset}_{generator}.png``) of two panels:

- **accuracy against k**: pass@k (exact), Oracle@k and majority@k, and every selector,
  each k with its bootstrap 95% band (:mod:`rerank.report.metrics`); the first candidate's
  accuracy is a point at k = 1;
- **cost against accuracy**: one point per strategy and judge (its 95% interval as an error
  bar) at its judge calls per item, or, when no selector called a model, its seconds of
  selection per item; Random@N, majority and Oracle@N as lines.

``accuracy_vs_k.png`` puts the first panel of every group side by side. ``plots.json``
holds what every panel draws (:func:`figure_data`), so the figures can be checked, or drawn
again with another tool, without reading pixels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank.report.metrics import PASS_AT_K
from rerank.report.subsample import MAJORITY, ORACLE
from rerank.report.types import selector_name

__all__ = ["FIGURES_DIR", "OVERVIEW_NAME", "PLOTS_NAME", "figure_data", "write_figures"]

OVERVIEW_NAME = "accuracy_vs_k.png"
PLOTS_NAME = "plots.json"
FIGURES_DIR = "figures"

#: Why a selector's curve is not from subsets, as the figure and summary say it.
AT_K_FROM = {
    "subsamples": "",
    "checkpoints": "from its checkpoints (the first k of its seeded order)",
    "N": "only at k=N (no record of it on fewer candidates)",
}
_BASELINE_STYLE = {
    PASS_AT_K: {"color": "black", "linestyle": "-", "marker": ""},
    ORACLE: {"color": "black", "linestyle": ":", "marker": "^"},
    MAJORITY: {"color": "0.45", "linestyle": "--", "marker": "s"},
}


def _series(name: str, curve: dict[str, Any], kind: str, note: str = "") -> dict[str, Any]:
    ks = [int(k) for k in curve]
    return {
        "name": name,
        "kind": kind,
        "note": note,
        "k": ks,
        "accuracy": [curve[str(k)]["accuracy"] for k in ks],
        "ci": [curve[str(k)]["ci"] for k in ks],
    }


def figure_data(group: dict[str, Any]) -> dict[str, Any]:
    """What the figure of one group plots, from its entry of ``metrics.json``.

    Returns
    -------
    ``title``; ``accuracy_vs_k``: the k grid, ``first``, and one series per curve (name,
    kind ``baseline`` or ``selector``, note, k, accuracy, ci); ``cost``: the x axis
    (``judge_calls`` or ``seconds``, per item), one point per selector (name, x, accuracy,
    ci) and the baseline lines; ``missing``: what the figure lacks, in words.
    """
    series = [_series(name, group["curves"][name], "baseline") for name in _BASELINE_STYLE]
    missing = []
    for s in group["selectors"]:
        name = selector_name((s["strategy"], s["judge"]))
        note = AT_K_FROM[s["at_k_from"]]
        series.append(_series(name, s["at_k"], "selector", note))
        if note:
            missing.append(f"{name}: {note}")
    calls = any(s["costs"].get("judge_calls") for s in group["selectors"])
    axis = "judge_calls" if calls else "seconds"
    points = [
        {
            "name": selector_name((s["strategy"], s["judge"])),
            "x": s["costs"].get(axis, 0.0),
            "accuracy": s["accuracy"],
            "ci": s["ci"],
        }
        for s in group["selectors"]
    ]
    b = group["baselines"]
    return {
        "title": f"{group['dataset']} / {group['generator']} ({group['items']} items, "
        f"N={group['candidates']})",
        "accuracy_vs_k": {
            "k": group["k_grid"],
            "subsamples": group["subsamples"],
            "first": b["first"],
            "series": series,
        },
        "cost": {
            "axis": axis,
            "points": points,
            "lines": {
                "Random@N": b["random_at_n"],
                "majority": group["majority"]["accuracy"],
                "Oracle@N": b["oracle_at_n"],
            },
        },
        "missing": missing,
    }


def _colours(data: dict[str, Any]) -> dict[str, str]:
    """One colour per selector, the same in both panels."""
    names = [one["name"] for one in data["accuracy_vs_k"]["series"] if one["kind"] == "selector"]
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def _draw_accuracy(ax: Any, data: dict[str, Any]) -> None:
    panel = data["accuracy_vs_k"]
    colours = _colours(data)
    selectors = [one for one in panel["series"] if one["kind"] == "selector"]
    # Error bars side by side around each k (a factor apart on the log axis), not on top.
    spread = 0.06 * (len(selectors) > 1)
    for one in panel["series"]:
        if not one["k"]:
            continue
        if one["kind"] == "baseline":
            style = dict(_BASELINE_STYLE[one["name"]])
            offset = 1.0
        else:
            style = {"color": colours[one["name"]], "linestyle": "-", "marker": "o"}
            position = selectors.index(one) - (len(selectors) - 1) / 2
            offset = 2 ** (spread * position)
        label = one["name"] + (" (checkpoints)" if "checkpoints" in one["note"] else "")
        xs = [k * offset for k in one["k"]]
        if one["name"] == PASS_AT_K:  # a band: exact per item, only the items vary
            bands = [ci for ci in one["ci"] if ci is not None]
            if len(bands) == len(xs) > 1:
                low, high = zip(*bands, strict=True)
                ax.fill_between(xs, low, high, color="0.5", alpha=0.15, linewidth=0)
            ax.plot(xs, one["accuracy"], label=label, linewidth=1.4, **style)
            continue
        errors = [
            [a - ci[0] if ci else 0.0 for a, ci in zip(one["accuracy"], one["ci"], strict=True)],
            [ci[1] - a if ci else 0.0 for a, ci in zip(one["accuracy"], one["ci"], strict=True)],
        ]
        ax.errorbar(
            xs,
            one["accuracy"],
            yerr=None if one["name"] == ORACLE else errors,
            label=label,
            markersize=4,
            linewidth=1.2,
            elinewidth=0.8,
            capsize=2,
            **style,
        )
    ax.plot([1], [panel["first"]], marker="x", color="0.3", linestyle="", label="first")
    ks = panel["k"]
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, labels=[str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel(f"k (candidates; at most {panel['subsamples']} subsets per item and k)")
    ax.set_ylabel("accuracy (95% bootstrap intervals)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)


def _draw_cost(ax: Any, data: dict[str, Any]) -> None:
    cost = data["cost"]
    colours = _colours(data)
    for point in cost["points"]:
        ci = point["ci"] or [point["accuracy"], point["accuracy"]]
        error = [[point["accuracy"] - ci[0]], [ci[1] - point["accuracy"]]]
        ax.errorbar(
            [point["x"]],
            [point["accuracy"]],
            yerr=error,
            fmt="o",
            color=colours.get(point["name"], "C0"),
            capsize=3,
        )
    styles = {"Random@N": ("0.5", "-."), "majority": ("0.45", "--"), "Oracle@N": ("black", ":")}
    for name, y in cost["lines"].items():
        colour, dash = styles[name]
        ax.axhline(y, color=colour, linestyle=dash, linewidth=1, label=f"{name} {y:.3f}")
    # Linear from 0: the points are few, and a log axis over less than a decade of seconds
    # labels its ticks unreadably.
    xs = [p["x"] for p in cost["points"]] or [0.0]
    right = max(max(xs) * 1.15, 1e-9)
    ax.set_xlim(-0.04 * right, right)  # points at 0 (no calls) stay clear of the frame
    if cost["axis"] == "judge_calls":
        ax.set_xlabel("judge calls per item")
    else:
        milliseconds = max(xs) < 1
        unit = 1000 if milliseconds else 1
        ax.xaxis.set_major_formatter(lambda value, _: f"{value * unit:g}")
        what = "milliseconds" if milliseconds else "seconds"
        ax.set_xlabel(f"{what} of selection per item (evidence computed apart)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, whatever the environment says
    import matplotlib.pyplot as plt

    return plt


def _slug(group: dict[str, Any], taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{group['dataset']}_{group['generator']}")
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


def write_figures(out: Path, groups: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Write the figures of ``groups`` (``metrics.json``'s) and ``plots.json`` into ``out``.

    Returns
    -------
    ``plots.json``'s content: per group, its figure's file and :func:`figure_data`.
    """
    plt = _plt()
    (out / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    plotted = []
    for group in groups:
        data = figure_data(group)
        path = f"{FIGURES_DIR}/{_slug(group, taken)}.png"
        fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.4), sharey=True)
        _draw_accuracy(left, data)
        left.set_title("accuracy against k", fontsize=10)
        _draw_cost(right, data)
        right.set_title("cost against accuracy", fontsize=10)
        fig.suptitle(data["title"], fontsize=11)
        fig.tight_layout(rect=(0, 0, 0.83, 1))
        fig.legend(
            *left.get_legend_handles_labels(),
            loc="center left",
            bbox_to_anchor=(0.83, 0.5),
            fontsize=7,
        )
        fig.savefig(out / path, dpi=110)
        plt.close(fig)
        plotted.append({"figure": path, **data})
    if groups:
        columns = min(len(plotted), 3)
        rows = -(-len(plotted) // columns)
        fig, axes = plt.subplots(
            rows, columns, figsize=(4.6 * columns, 3.9 * rows), squeeze=False, sharey=True
        )
        for ax, data in zip(axes.flat, plotted, strict=False):
            _draw_accuracy(ax, data)
            ax.set_title(data["title"], fontsize=9)
        for ax in list(axes.flat)[len(plotted) :]:
            ax.axis("off")
        handles: dict[str, Any] = {}
        for ax in axes.flat:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        fig.legend(handles.values(), handles.keys(), loc="lower center", fontsize=7, ncol=6)
        fig.tight_layout(rect=(0, 0.04 + 0.02 * (len(handles) // 6), 1, 1))
        fig.savefig(out / OVERVIEW_NAME, dpi=110)
        plt.close(fig)
    result = {"overview": OVERVIEW_NAME if groups else None, "groups": plotted}
    (out / PLOTS_NAME).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result
