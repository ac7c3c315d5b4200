"""Views of a run's results: the terminal's summary, a self-contained HTML page (html.py), a
Markdown summary (markdown.py), and the report files a run writes (files.py).

Pure renderers: results dict (and events) in, text out. No pytest here; the plugin and the
console script decide when and where to write. Nothing is imported here: a run imports the
renderer it uses, and most runs render no page.
"""
