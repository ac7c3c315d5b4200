"""Views of a run's results: a self-contained HTML page and a Markdown summary.

Pure renderers: results dict (and events) in, text out. No pytest here; the plugin and the
console script decide when and where to write.
"""

from pytest_trainloop.report.history import HistoryPoint, gather_history
from pytest_trainloop.report.html import render_html, write_html_report
from pytest_trainloop.report.markdown import render_markdown

__all__ = [
    "HistoryPoint",
    "gather_history",
    "render_html",
    "render_markdown",
    "write_html_report",
]
