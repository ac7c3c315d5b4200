"""Views of a run's results: the terminal's summary, a self-contained HTML page (html.py), a
Markdown summary (markdown.py), and the report files a run writes (files.py).

Pure renderers: results dict (and events) in, text out. No pytest here; the plugin and the
console script decide when and where to write. The names below are imported when first asked
for: a run imports the renderer it uses, and most runs render no page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_trainloop import lazy_names

if TYPE_CHECKING:
    from pytest_trainloop.report.history import HistoryPoint, gather_history
    from pytest_trainloop.report.html import render_html, write_html_report
    from pytest_trainloop.report.markdown import render_markdown

_HOMES = {
    "HistoryPoint": "history",
    "gather_history": "history",
    "render_html": "html",
    "write_html_report": "html",
    "render_markdown": "markdown",
}


__getattr__ = lazy_names(__name__, _HOMES)

__all__ = ["HistoryPoint", "gather_history", "render_html", "render_markdown", "write_html_report"]
