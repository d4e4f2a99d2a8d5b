"""``rerank report``: strategies against first, pass@k, majority and Oracle@N.

``types`` holds what a report is made of (its config, sources, item records); ``run``
gathers one record per item and strategy, ``baselines`` computes the baselines,
``subsample`` the accuracy against k on subsets of candidates, ``metrics`` the statistics,
``provenance`` what made the report (version, commit, machine), ``selections`` scores
finished selection files, ``plots`` draws the figures and ``render`` writes the files.
Each imports only modules listed before it here: types, baselines, subsample, metrics,
provenance, plots, render, run, selections.
"""

from rerank.report.run import arun_report, run_report
from rerank.report.selections import arun_selection_report, run_selection_report
from rerank.report.types import (
    DEFAULT_REPORT_JUDGES,
    DEFAULT_REPORT_STRATEGIES,
    DEFAULT_SUBSAMPLES,
    ReportConfig,
    Source,
)

__all__ = [
    "DEFAULT_REPORT_JUDGES",
    "DEFAULT_REPORT_STRATEGIES",
    "DEFAULT_SUBSAMPLES",
    "ReportConfig",
    "Source",
    "arun_report",
    "arun_selection_report",
    "run_report",
    "run_selection_report",
]
