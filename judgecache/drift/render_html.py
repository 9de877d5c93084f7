"""Render a drift report document as one self-contained HTML page (inline CSS, PNGs as data URIs).

The blocks come from the shared section model (:mod:`judgecache.drift.report_view`). Every piece
of text goes through :func:`esc` (``html.escape`` with quotes), numbers included. The page carries
a Content-Security-Policy that allows no script at all, so even a missed escape could not run code.

Example:
    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from judgecache.drift.report_view import (
    Badge,
    Beside,
    Block,
    Bullets,
    Cell,
    Fields,
    Para,
    Plot,
    Table,
    build_view,
)
from judgecache.errors import MissingDependencyError

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
COLORS = {
    "pass": "#2ca02c",
    "warn": "#e6a100",
    "fail": "#d62728",
    "inconclusive": "#6c757d",
    "skipped": "#adb5bd",
}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:70rem;color:#222;line-height:1.4;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6} .badge{color:#fff;border-radius:.3rem;padding:.1rem .5rem;font-weight:600}
.muted{color:#666} .reasons li{margin:.2rem 0} img{max-width:100%;border:1px solid #eee}
.plots{display:flex;flex-wrap:wrap;gap:1rem} .quote{max-width:40rem;word-break:break-word}
"""


def esc(text: Any) -> str:
    """Escape data text for HTML (element content and attribute values)."""
    return html.escape(str(text), quote=True)


def _badge(status: str) -> str:
    return (
        f'<span class="badge" style="background:{COLORS.get(status, "#333")}">{esc(status)}</span>'
    )


def _cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        return _badge(cell.status)
    if isinstance(cell, Fields):
        inner = "<br>".join(f"<strong>{esc(k)}</strong>: {esc(v)}" for k, v in cell.pairs)
        return f"<div class='quote'>{inner}</div>"
    return esc(cell)


def _table(t: Table) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in t.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(plot: Plot) -> str:
    try:
        data = plot.draw()
    except MissingDependencyError as exc:
        return f'<p class="muted">{esc(plot.alt)}: not drawn ({esc(exc)})</p>'
    except (KeyError, TypeError, ValueError):
        # A hand-edited or damaged report: the numbers are still shown (escaped) in the table.
        return f'<p class="muted">{esc(plot.alt)}: not drawn (the report holds values that are not numbers)</p>'
    return f'<img alt="{esc(plot.alt)}" src="data:image/png;base64,{data}">'


def _block(b: Block) -> str:
    if isinstance(b, Para):
        badge = "" if b.badge is None else " " + _badge(b.badge)
        muted = ' class="muted"' if b.muted else ""
        return f"<p{muted}>{esc(b.text)}{badge}</p>"
    if isinstance(b, Bullets):
        return '<ul class="reasons">' + "".join(f"<li>{esc(x)}</li>" for x in b.items) + "</ul>"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Beside):
        return f'<div class="plots">{_img(b.plot)}<div>{_table(b.table)}</div></div>'
    if isinstance(b, Plot):
        return _img(b)
    raise TypeError(f"unknown block {b!r}")


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one HTML page."""
    view = build_view(report)
    body = "\n".join(
        f'<h2 id="{esc(s.key)}">{esc(s.title)}</h2>' + "".join(_block(b) for b in s.blocks)
        for s in view.sections
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report {esc(view.period)}: {esc(view.status)}</title><style>{STYLE}</style></head>
<body>
<h1>Drift report {esc(view.period)} {_badge(view.status)}</h1>
<p class="muted">{esc(view.byline)}</p>
{body}
</body></html>
"""
