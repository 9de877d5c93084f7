"""Render a drift report document as Markdown: verdict and reasons first, then each section.

The blocks come from the shared section model (:mod:`judgecache.drift.report_view`). Every piece
of text goes through :func:`md_escape`, numbers included: HTML is escaped (Markdown viewers pass
raw HTML through) and the characters that would break a table or start markup are
backslash-escaped. Plots are left out of the Markdown.

Example:
    >>> print(md_escape("<script>alert(1)</script> | *x*"))
    &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*x\\*
"""

from __future__ import annotations

import html
import re
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

# Inline markup only: data never starts a line, so list and heading markers need no escape.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def md_escape(text: Any) -> str:
    """Escape data text for Markdown (HTML entities, markup characters, no line breaks)."""
    s = html.escape(str(text), quote=False)
    s = s.replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        return f"**{md_escape(cell.status)}**"
    if isinstance(cell, Fields):
        return "; ".join(f"**{md_escape(k)}**: {md_escape(v)}" for k, v in cell.pairs)
    return md_escape(cell)


def _table(t: Table) -> list[str]:
    out = ["| " + " | ".join(md_escape(h) for h in t.headers) + " |", "|" + "---|" * len(t.headers)]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]


def _block(b: Block) -> list[str]:
    if isinstance(b, Para):
        badge = "" if b.badge is None else f" **{md_escape(b.badge)}**"
        return [md_escape(b.text) + badge, ""]
    if isinstance(b, Bullets):
        return [*(f"- {md_escape(x)}" for x in b.items), ""]
    if isinstance(b, Table):
        return [*_table(b), ""]
    if isinstance(b, Beside):
        return _block(b.table)
    if isinstance(b, Plot):
        return []
    raise TypeError(f"unknown block {b!r}")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole report as Markdown text."""
    view = build_view(report)
    lines = [
        f"# Drift report {md_escape(view.period)}: {md_escape(view.status.upper())}",
        "",
        md_escape(view.byline),
    ]
    for section in view.sections:
        lines += ["", f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            lines += _block(block)
        while lines[-1] == "":
            lines.pop()
    return "\n".join(lines) + "\n"
