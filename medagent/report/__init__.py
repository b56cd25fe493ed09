"""Run reports: one self-contained HTML page per run folder, and a short terminal table.

``build_report(run_dir, out=None)`` writes the page (default ``run_dir/report.html``):
summary, per-category bars, success vs steps, tokens and cost, failure reasons grouped
from the grade checks, and every trial's trajectory in an expandable ``<details>``.
All recorded content is escaped; the page loads nothing from the network. The terminal
table ``medagent report`` prints is ``medagent.results_view.print_summary`` (as ``view``).
"""

from ._report import build_report, failure_reasons, render_report, scores_of, write_report

__all__ = ["build_report", "failure_reasons", "render_report", "scores_of", "write_report"]
