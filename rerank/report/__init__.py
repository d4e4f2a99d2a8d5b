"""``rerank report``: strategies against Pass@1, Random@N, majority and Oracle@N.

``run`` gathers one record per item and strategy, ``baselines`` computes the baselines,
``metrics`` the statistics, ``selections`` reads finished selection files, and ``render``
writes the tables and the plot.
"""

from rerank.report.run import ReportConfig, arun_report, run_report

__all__ = ["ReportConfig", "arun_report", "run_report"]
