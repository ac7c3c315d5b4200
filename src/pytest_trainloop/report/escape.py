"""The one way untrusted text reaches the HTML page (event text, reasons, judges' words, names,
paths): escaped for element text and quoted attributes alike."""

from __future__ import annotations

import html

__all__ = ["escape"]


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)
