"""``rerank report``: strategies against Pass@1, Random@N, majority and Oracle@N.

``types`` holds what a report is made of (its config, sources, item records); ``run``
gathers one record per item and strategy, ``baselines`` computes the baselines,
``metrics`` the statistics, ``selections`` scores finished selection files, and ``render``
writes the tables and the plot. Each imports only modules listed before it here:
types, baselines, metrics, render, run, selections.
"""

from rerank.report.run import arun_report, run_report
from rerank.report.selections import arun_selection_report, run_selection_report
from rerank.report.types import (
    DEFAULT_REPORT_JUDGES,
    DEFAULT_REPORT_STRATEGIES,
    ReportConfig,
    Source,
)

__all__ = [
    "DEFAULT_REPORT_JUDGES",
    "DEFAULT_REPORT_STRATEGIES",
    "ReportConfig",
    "Source",
    "arun_report",
    "arun_selection_report",
    "run_report",
    "run_selection_report",
]
