"""Render a drift report document as Markdown: verdict and reasons first, then each section.

Every string that comes from data (queries, passages, tags, judge names, error messages) goes
through :func:`md_escape`: HTML is escaped (Markdown viewers pass raw HTML through) and the
characters that would break a table or start markup are backslash-escaped.

Example:
    >>> print(md_escape("<script>alert(1)</script> | *x*"))
    &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*x\\*
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from judgecache.drift.fmt import (
    TREND_HEADERS,
    bin_ranges,
    interval,
    num,
    ordered_sections,
    title,
    trend_cells,
)
from judgecache.drift.fmt_cascade import summary_rows, trend_rows

# Inline markup only: data never starts a line, so list and heading markers need no escape.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def md_escape(text: Any) -> str:
    """Escape data text for Markdown (HTML entities, markup characters, no line breaks)."""
    s = html.escape(str(text), quote=False)
    s = s.replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _generic(value: Any) -> list[str]:
    # Sections this renderer does not know (added later, e.g. cascade health) still show up.
    if isinstance(value, Mapping):
        rows = [
            [md_escape(k), md_escape(num(v) if not isinstance(v, Mapping | list) else "…")]
            for k, v in value.items()
        ]
        return _table(["field", "value"], rows)
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        keys = list(value[0])
        return _table(
            [md_escape(k) for k in keys],
            [[md_escape(num(row.get(k))) for k in keys] for row in value],
        )
    return [md_escape(value)]


def _agreement(s: Mapping[str, Any]) -> list[str]:
    ref = s.get("reference") or {}
    rows = [
        ["raw agreement (weighted)", interval(s.get("agreement")), num(ref.get("agreement"))],
        ["Cohen's kappa (binary)", interval(s.get("kappa")), num(ref.get("kappa"))],
        ["student TPR vs teacher", num(s.get("tpr")), "–"],
        ["student TNR vs teacher", num(s.get("tnr")), "–"],
        ["teacher-positive rate", interval(s.get("teacher_positive_rate")), "–"],
        ["student-positive rate", num(s.get("student_positive_rate")), "–"],
    ]
    if "kappa_quadratic" in s:
        rows.append(["quadratic-weighted kappa (grades)", num(s["kappa_quadratic"]), "–"])
    out = [f"{s.get('n_labelled', 0)} of {s.get('n_sampled', 0)} sampled pairs labelled.", ""]
    if s.get("scope"):
        out = [f"Measured on {md_escape(s['scope'])}.", "", *out]
    return out + _table(["measure", "this period", "reference"], rows)


def _cascade_health(s: Mapping[str, Any]) -> list[str]:
    out = [f"Status: **{md_escape(s.get('status', '–'))}**.", ""]
    out += [f"- {md_escape(r)}" for r in s.get("reasons", [])]
    if s.get("note"):
        out.append(f"- {md_escape(s['note'])}")
    if out[-1] != "":
        out.append("")
    out += _table(["measure", "value"], [[md_escape(a), md_escape(b)] for a, b in summary_rows(s)])
    trend = trend_rows(s)
    if trend:
        out += ["", "Escalation rate by period:", ""]
        out += _table(
            ["period", "pairs", "kept", "escalated", "escalation rate"],
            [[md_escape(c) for c in row] for row in trend],
        )
    return out


def _calibration(s: Mapping[str, Any]) -> list[str]:
    if not s.get("available"):
        return [md_escape(s.get("note", "not measured"))]
    ref = s.get("reference") or {}
    out = _table(
        ["measure", "this period", "reference"],
        [
            ["ECE (10 equal-mass bins)", num(s.get("ece")), num(ref.get("ece"))],
            ["Brier score", num(s.get("brier")), num(ref.get("brier"))],
            ["calibration slope", interval(s.get("slope"), 2), num(ref.get("slope"), 2)],
            ["mean p − teacher rate", interval(s.get("bias")), "–"],
            ["signed over-confidence", num(s.get("overconfidence")), "–"],
        ],
    )
    out += ["", "Reliability table (gap = mean p − observed; > 0 says positive too often):", ""]
    out += _table(
        ["bin", "p range", "n", "mean p", "observed", "gap"],
        [
            [
                str(r["bin"]),
                f"{num(r['low'], 2)}–{num(r['high'], 2)}",
                str(r["n"]),
                num(r["mean_p"]),
                num(r["observed"]),
                num(r["gap"]),
            ]
            for r in s.get("reliability", [])
        ],
    )
    return out


def _score_drift(s: Mapping[str, Any]) -> list[str]:
    out = [
        f"PSI {num(s.get('psi'))}, Wasserstein-1 {num(s.get('wasserstein'))} over "
        f"{s.get('population', 0)} logged pairs (reference: {s.get('reference_n', 0)}).",
        "",
    ]
    out += _table(
        ["student score", "reference", "this period"],
        [
            [label, num(b["reference"]), num(b["current"])]
            for label, b in zip(bin_ranges(s.get("bins", [])), s.get("bins", []), strict=True)
        ],
    )
    return out


def _threshold(s: Mapping[str, Any]) -> list[str]:
    if not s.get("available"):
        return [md_escape(s.get("note", "not configured"))]
    return [
        f"{md_escape(s['metric'])} at threshold {num(s['threshold'])}: "
        f"{num(s['estimate'])} (bounds {num(s['low'])}–{num(s['high'])}, n={s['n']}) "
        f"against target {num(s['target'])}: **{md_escape(s['status'])}**."
    ]


def _teacher(s: Mapping[str, Any]) -> list[str]:
    if not s.get("available"):
        return [md_escape(s.get("note", "no anchors"))]
    out = [
        f"{s['changed']} of {s['labelled']} re-judged anchors (of {s['anchors']}) changed "
        f"label since baseline: rate {interval(s.get('change_rate'))}; binary flips "
        f"{num(s.get('binary_flip_rate'))}."
    ]
    if "kappa_quadratic" in s:
        out.append(f"Quadratic-weighted kappa, baseline vs now: {num(s['kappa_quadratic'])}.")
    return out


def _segments(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return ["No tag has enough labelled pairs (20) to report."]
    return _table(
        ["segment", "agreement", "n", "flagged"],
        [
            [md_escape(r["segment"]), interval(r), str(r["n"]), "yes" if r["flagged"] else ""]
            for r in rows
        ],
    )


def _ppi(s: Mapping[str, Any]) -> list[str]:
    if not s.get("available"):
        return [md_escape(s.get("note", ""))]
    rows = []
    for name in ("teacher_positive_rate", "agreement"):
        e = s[name]
        rows.append(
            [
                name.replace("_", " "),
                f"{num(e['estimate'])} [{num(e['low'])}, {num(e['high'])}]",
                f"{num(e['classical'])} [{num(e['classical_low'])}, {num(e['classical_high'])}]",
                num(e["predicted_mean"]),
            ]
        )
    return _table(["quantity", "PPI (all traffic)", "labelled only", "student alone"], rows)


def _disagreements(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return ["None in the sample."]
    out = []
    for r in rows:
        fields = "; ".join(f"**{md_escape(k)}**: {md_escape(v)}" for k, v in r["inputs"].items())
        out.append(
            f"- score {num(r['student_score'])}, decision {md_escape(r['decision'])}, "
            f"teacher {md_escape(r['teacher_label'])} ({md_escape(r['stratum'])}): {fields}"
        )
    return out


_RENDER: dict[str, Callable[[Any], list[str]]] = {
    "cascade_health": _cascade_health,
    "agreement": _agreement,
    "calibration": _calibration,
    "score_drift": _score_drift,
    "threshold": _threshold,
    "teacher_stability": _teacher,
    "segments": _segments,
    "ppi": _ppi,
    "disagreements": _disagreements,
}


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole report as Markdown text."""
    run, verdict = report["run"], report["verdict"]
    period = run.get("period", {}).get("label", "")
    lines = [
        f"# Drift report {md_escape(period)}: {md_escape(str(verdict['status']).upper())}",
        "",
        f"Student {md_escape(run.get('student', ''))} against teacher "
        f"{md_escape(run.get('teacher', ''))} (rubric {md_escape(run.get('rubric', ''))}); "
        f"intervals at {num(run.get('interval_level'), 2)}, gates at one-sided alpha "
        f"{num(run.get('alpha'))}.",
        "",
        "## Reasons",
        "",
    ]
    lines += [f"- {md_escape(r)}" for r in verdict.get("reasons", [])] or ["- all gates pass"]
    lines += ["", "## Gates", ""]
    lines += _table(
        ["gate", "status", "value", "bound", "limit", "detail"],
        [
            [
                md_escape(g["name"]),
                md_escape(g["status"]),
                num(g.get("value")),
                num(g.get("bound")),
                num(g.get("limit")),
                md_escape(g.get("message", "")),
            ]
            for g in verdict.get("gates", [])
        ],
    )
    trend = report.get("trend", [])
    if trend:
        lines += ["", "## Trend", ""]
        lines += _table(
            TREND_HEADERS,
            [
                [md_escape(period), md_escape(status), *numbers]
                for period, status, numbers in map(trend_cells, trend)
            ],
        )
    sections = report.get("sections", {})
    names = ordered_sections(sections)
    for name in names:
        lines += ["", f"## {md_escape(title(name))}", ""]
        lines += _RENDER.get(name, _generic)(sections[name])
    budget = report.get("budget", {})
    lines += [
        "",
        "## Budget",
        "",
        f"{budget.get('teacher_calls', 0)} teacher calls of {budget.get('max_teacher_calls')}"
        f" allowed; sample: {md_escape(_budget_line(budget.get('sample', {})))}; "
        f"anchors: {md_escape(_budget_line(budget.get('anchors', {})))}.",
    ]
    return "\n".join(lines) + "\n"


def _budget_line(b: Mapping[str, Any]) -> str:
    if not b:
        return "none"
    text = (
        f"{b.get('labelled', 0)} labelled ({b.get('cache_hits', 0)} from the cache), "
        f"{b.get('failed', 0)} failed, {b.get('not_asked', 0)} not asked"
    )
    if b.get("unreachable"):
        text += f", teacher unreachable: {b['unreachable']}"
    return text
