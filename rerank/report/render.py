"""Writing a report: ``metrics.json``, ``summary.md``, ``rows.jsonl`` and the figures
(:mod:`rerank.report.plots`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank.report.metrics import PASS_AT_K
from rerank.report.plots import AT_K_FROM, OVERVIEW_NAME, write_figures
from rerank.report.subsample import MAJORITY, ORACLE
from rerank.report.types import ItemRecord, Source, selector_name

__all__ = ["summary_markdown", "write_outputs"]


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
    header = ["dataset", "generator", "items", "N", "first", "pass@1 (Random@N)", "majority"]
    header += names
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
                _num(b["first"]),
                _num(b["random_at_n"]),
                _num(g["majority"]["accuracy"]),
                *(_num(accuracy[name]) if name in accuracy else "-" for name in names),
            ]
        )
        rows[-1].append(_num(b["oracle_at_n"]))
    return [
        "## Overview (accuracy)",
        "",
        "first: the first candidate's label; pass@1: the mean label (a random pick); majority: "
        "`-s vote` (evidence signatures); Oracle@N: the best label (pass@N).",
        "",
        *_table([*header, "Oracle@N"], rows),
    ]


def _group(g: dict[str, Any], figure: str | None) -> list[str]:
    b = g["baselines"]
    kinds = ", ".join(f"{k} {v}" for k, v in g["task_kinds"].items())
    lines = [
        f"## {g['dataset']} / {g['generator']}",
        "",
        *([f"![accuracy against k, and cost against accuracy]({figure})", ""] if figure else []),
        f"{g['items']} items x {g['candidates']} candidates from `{g['file']}`; task kinds: "
        f"{kinds}; evidence {_num(g['evidence_seconds_per_item'], 4)} s/item (computed "
        "once per item, not counted in the selectors' seconds).",
        "",
    ]
    m = g["majority"]
    rows = [
        ["first", "", _num(b["first"]), "", "", "", "", "", "", ""],
        ["pass@1 (Random@N)", "", _num(b["random_at_n"]), "", "0.000", "", "", "", "", ""],
        ["majority (= vote)", "evidence signatures", _num(m["accuracy"]), _ci(m["ci"])]
        + [_num(m["gap_closed"]), _ci(m["gap_ci"]), "", "", "", ""],
    ]
    for s in g["selectors"]:
        c = s["costs"]
        rows.append(
            [s["strategy"], s["judge"] or "-", _num(s["accuracy"]), _ci(s["ci"])]
            + [_num(s["gap_closed"]), _ci(s["gap_ci"]), _num(c["comparisons"], 1)]
            + [_num(c["judge_calls"], 1), _num(c["tokens"], 0), _num(c["seconds"], 4)]
        )
    rows.append(["Oracle@N (pass@N)", "", _num(b["oracle_at_n"]), "", "1.000", "", "", "", ""])
    rows[-1].append("")
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
    lines += _at_k_table(g)
    if g["paired"]:
        rows = [[p["a"], p["b"], _num(p["mean_diff"]), _ci(p["ci"])] for p in g["paired"]]
        lines += ["Paired differences on the same items (A - B):", ""]
        lines += _table(["A", "B", "mean diff", "95% CI"], rows)
    return lines


def _at_k_table(g: dict[str, Any]) -> list[str]:
    ks = [str(k) for k in g["k_grid"]]

    def cells(curve: dict[str, Any]) -> list[str]:
        return [_num(curve[k]["accuracy"]) if k in curve else "-" for k in ks]

    rows = [[name, "", *cells(g["curves"][name])] for name in (PASS_AT_K, ORACLE, MAJORITY)]
    notes = []
    for s in g["selectors"]:
        rows.append([s["strategy"], s["judge"] or "-", *cells(s["at_k"])])
        if AT_K_FROM[s["at_k_from"]]:
            notes.append(
                f"- {selector_name((s['strategy'], s['judge']))}: {AT_K_FROM[s['at_k_from']]}"
            )
    lines = [
        f"Accuracy against k (pass@k exact; the rest on subsets of k candidates: all of them, "
        f"or {g['subsamples']} seeded draws per item and k; 95% bands in metrics.json and "
        "the figure):",
        "",
        *_table(["curve", "judge", *(f"k={k}" for k in ks)], rows),
    ]
    return lines + ([*notes, ""] if notes else [])


def _run_line(run: dict[str, Any] | None) -> list[str]:
    if not run:
        return []
    git = run.get("git")
    commit = f", commit {git['commit'][:12]}{' (modified)' if git['dirty'] else ''}" if git else ""
    m = run["machine"]
    where = f"{m['cpus_usable']} of {m['cpus']} CPUs ({m['processor']}), Python {m['python']}"
    ray = run.get("ray")
    if ray:  # the records were made on a cluster; the driver's machine only scored them
        where = (
            f"a Ray cluster: {ray['workers']} workers on {ray['nodes']} node(s), "
            f"{ray['cpus_per_worker']:g} CPUs each (driver: {where})"
        )
    return [
        f"rerank {run['rerank_version']}{commit}; {run['started']}, {run['seconds']:.1f} s on "
        f"{where}.",
        "",
    ]


def summary_markdown(report: dict[str, Any], figures: Sequence[str | None] = ()) -> str:
    """The tables a person reads: overview, label use, and one section per group.

    Parameters
    ----------
    report : what ``metrics.json`` holds.
    figures : each group's figure, relative to the report folder.

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
        *_run_line(report.get("run")),
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
    if report["groups"]:
        lines += [f"![accuracy against k, every group]({OVERVIEW_NAME})", ""]
    shown = list(figures) + [None] * (len(report["groups"]) - len(figures))
    for g, figure in zip(report["groups"], shown, strict=True):
        lines += _group(g, figure)
    return "\n".join(lines)


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
    plotted = write_figures(out, report["groups"])
    figures = [p["figure"] for p in plotted["groups"]]
    (out / "summary.md").write_text(summary_markdown(report, figures), encoding="utf-8")
    with open(out / "rows.jsonl", "w", encoding="utf-8") as f:
        for source, records in groups:
            for record in records:
                for row in record.rows.values():
                    extra = {"dataset": source.dataset, "generator": source.generator}
                    f.write(json.dumps({**extra, **row}, ensure_ascii=False) + "\n")
