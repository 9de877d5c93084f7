"""Render a drift report document as one self-contained HTML page (inline CSS, PNGs as data URIs).

Every string from data goes through :func:`esc` (``html.escape`` with quotes). The page carries a
Content-Security-Policy that allows no script at all, so even a missed escape could not run code.

Example:
    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from judgecache.drift import plots
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


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; ``headers`` and cells must already be escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(make: Callable[[], str], alt: str) -> str:
    try:
        data = make()
    except MissingDependencyError as exc:
        return f'<p class="muted">{esc(alt)}: not drawn ({esc(exc)})</p>'
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def _generic(value: Any) -> str:
    # Sections this renderer does not know (added later, e.g. cascade health) still show up.
    if isinstance(value, Mapping):
        return _table(
            ["field", "value"],
            [
                [esc(k), _generic(v) if isinstance(v, Mapping | list) else esc(num(v))]
                for k, v in value.items()
            ],
        )
    if isinstance(value, list):
        if value and all(isinstance(v, Mapping) for v in value):
            keys = list(value[0])
            return _table(
                [esc(k) for k in keys], [[esc(num(row.get(k))) for k in keys] for row in value]
            )
        return esc(", ".join(num(v) for v in value))
    return esc(num(value))


def _agreement(s: Mapping[str, Any]) -> str:
    ref = s.get("reference") or {}
    rows = [
        ["raw agreement (weighted)", interval(s.get("agreement")), num(ref.get("agreement"))],
        [
            "Cohen's kappa (binary, bootstrap interval)",
            interval(s.get("kappa")),
            num(ref.get("kappa")),
        ],
        ["student TPR vs teacher", num(s.get("tpr")), "–"],
        ["student TNR vs teacher", num(s.get("tnr")), "–"],
        ["teacher-positive rate", interval(s.get("teacher_positive_rate")), "–"],
        ["student-positive rate", num(s.get("student_positive_rate")), "–"],
    ]
    if "kappa_quadratic" in s:
        rows.append(["quadratic-weighted kappa (grades)", num(s["kappa_quadratic"]), "–"])
    strata = _table(
        ["stratum", "labelled", "agreement"],
        [
            [esc(r["stratum"]), esc(r["labelled"]), num(r["agreement"])]
            for r in s.get("by_stratum", [])
        ],
    )
    scope = f"<p>Measured on {esc(s['scope'])}.</p>" if s.get("scope") else ""
    return (
        scope + f"<p>{esc(s.get('n_labelled', 0))} of {esc(s.get('n_sampled', 0))} sampled pairs "
        "labelled by the teacher.</p>"
        + _table(["measure", "this period", "reference"], [[esc(c) for c in r] for r in rows])
        + "<p class='muted'>Unweighted agreement per stratum:</p>"
        + strata
    )


def _cascade_health(s: Mapping[str, Any]) -> str:
    notes = [*s.get("reasons", []), *([s["note"]] if s.get("note") else [])]
    head = f"<p>Status {_badge(str(s.get('status', 'inconclusive')))}</p>"
    if notes:
        head += '<ul class="reasons">' + "".join(f"<li>{esc(r)}</li>" for r in notes) + "</ul>"
    table = _table(["measure", "value"], [[esc(a), esc(b)] for a, b in summary_rows(s)])
    trend = trend_rows(s)
    if not trend:
        return head + table
    esc_ = s.get("escalation") or {}
    plot = _img(
        lambda: plots.escalation_png(esc_.get("periods", []), esc_.get("expected_rate")),
        "escalation rate trend",
    )
    rows = _table(
        ["period", "pairs", "kept", "escalated", "escalation rate"],
        [[esc(c) for c in row] for row in trend],
    )
    return head + table + f'<div class="plots">{plot}<div>{rows}</div></div>'


def _calibration(s: Mapping[str, Any]) -> str:
    if not s.get("available"):
        return f"<p class='muted'>{esc(s.get('note', 'not measured'))}</p>"
    ref = s.get("reference") or {}
    table = _table(
        ["measure", "this period", "reference"],
        [
            [esc(c) for c in r]
            for r in [
                ["ECE (10 equal-mass bins)", num(s.get("ece")), num(ref.get("ece"))],
                ["Brier score", num(s.get("brier")), num(ref.get("brier"))],
                [
                    "calibration slope (< 1: overconfident)",
                    interval(s.get("slope"), 2),
                    num(ref.get("slope"), 2),
                ],
                ["mean p − teacher-positive rate", interval(s.get("bias")), "–"],
                ["signed over-confidence", num(s.get("overconfidence")), "–"],
            ]
        ],
    )
    rel = s.get("reliability", [])
    bins = _table(
        ["bin", "p range", "n", "mean p", "observed", "gap"],
        [
            [
                esc(r["bin"]),
                f"{num(r['low'], 2)}–{num(r['high'], 2)}",
                esc(r["n"]),
                num(r["mean_p"]),
                num(r["observed"]),
                num(r["gap"]),
            ]
            for r in rel
        ],
    )
    plot = _img(lambda: plots.reliability_png(rel), "reliability diagram") if rel else ""
    return table + f'<div class="plots">{plot}<div>{bins}</div></div>'


def _score_drift(s: Mapping[str, Any]) -> str:
    if s.get("psi") is None:
        return "<p class='muted'>no logged scores in the period</p>"
    head = (
        f"<p>PSI {num(s.get('psi'))} (warn 0.1, fail 0.25), Wasserstein-1 "
        f"{num(s.get('wasserstein'))}, over {esc(s.get('population'))} logged pairs "
        f"(reference sample: {esc(s.get('reference_n'))}).</p>"
    )
    bins = _table(
        ["student score", "reference", "this period"],
        [
            [label, num(b["reference"]), num(b["current"])]
            for label, b in zip(bin_ranges(s.get("bins", [])), s.get("bins", []), strict=True)
        ],
    )
    plot = _img(lambda: plots.histogram_png(s["histogram"]), "score histograms")
    return head + f'<div class="plots">{plot}<div>{bins}</div></div>'


def _threshold(s: Mapping[str, Any]) -> str:
    if not s.get("available"):
        return f"<p class='muted'>{esc(s.get('note', 'not configured'))}</p>"
    return (
        f"<p>{esc(s['metric'])} at threshold {num(s['threshold'])}: {num(s['estimate'])} "
        f"(one-sided bounds {num(s['low'])}–{num(s['high'])}, n={esc(s['n'])}) against "
        f"target {num(s['target'])}: <strong>{esc(s['status'])}</strong>.</p>"
    )


def _teacher(s: Mapping[str, Any]) -> str:
    if not s.get("available"):
        return f"<p class='muted'>{esc(s.get('note', 'no anchors'))}</p>"
    extra = ""
    if "kappa_quadratic" in s:
        extra = f" Quadratic-weighted kappa, baseline vs now: {num(s['kappa_quadratic'])}."
    return (
        f"<p>{esc(s['changed'])} of {esc(s['labelled'])} re-judged anchors (of "
        f"{esc(s['anchors'])}) changed label since baseline: "
        f"{interval(s.get('change_rate'))}; binary flips {num(s.get('binary_flip_rate'))}."
        f"{extra}</p>"
    )


def _segments(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p class='muted'>No tag has enough labelled pairs (20) to report.</p>"
    return _table(
        ["segment", "agreement", "n", "flagged"],
        [
            [esc(r["segment"]), interval(r), esc(r["n"]), "yes" if r["flagged"] else ""]
            for r in rows
        ],
    )


def _ppi(s: Mapping[str, Any]) -> str:
    if not s.get("available"):
        return f"<p class='muted'>{esc(s.get('note', ''))}</p>"
    rows = []
    for name in ("teacher_positive_rate", "agreement"):
        e = s[name]
        rows.append(
            [
                esc(name.replace("_", " ")),
                f"{num(e['estimate'])} [{num(e['low'])}, {num(e['high'])}]",
                f"{num(e['classical'])} [{num(e['classical_low'])}, {num(e['classical_high'])}]",
                num(e["predicted_mean"]),
            ]
        )
    return _table(["quantity", "PPI (all traffic)", "labelled only", "student alone"], rows)


def _disagreements(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p class='muted'>None in the sample.</p>"
    return _table(
        ["student score", "decision", "teacher", "stratum", "pair"],
        [
            [
                num(r["student_score"]),
                esc(r["decision"]),
                esc(r["teacher_label"]),
                esc(r["stratum"]),
                "<div class='quote'>"
                + "<br>".join(
                    f"<strong>{esc(k)}</strong>: {esc(v)}" for k, v in r["inputs"].items()
                )
                + "</div>",
            ]
            for r in rows
        ],
    )


_RENDER: dict[str, Callable[[Any], str]] = {
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


def _budget(b: Mapping[str, Any]) -> str:
    rows = []
    for part in ("sample", "anchors"):
        x = b.get(part) or {}
        rows.append(
            [
                esc(part),
                esc(x.get("labelled", 0)),
                esc(x.get("cache_hits", 0)),
                esc(x.get("teacher_calls", 0)),
                esc(x.get("failed", 0)),
                esc(x.get("not_asked", 0)),
                esc(x.get("unreachable") or ""),
            ]
        )
    return (
        f"<p>{esc(b.get('teacher_calls', 0))} teacher calls of "
        f"{esc(b.get('max_teacher_calls'))} allowed.</p>"
        + _table(
            ["part", "labelled", "cache hits", "calls", "failed", "not asked", "unreachable"], rows
        )
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one HTML page."""
    run, verdict = report["run"], report["verdict"]
    status = str(verdict["status"])
    period = run.get("period", {}).get("label", "")
    reasons = verdict.get("reasons", []) or ["all gates pass"]
    gates = _table(
        ["gate", "status", "value", "bound", "limit", "detail"],
        [
            [
                esc(g["name"]),
                _badge(str(g["status"])),
                num(g.get("value")),
                num(g.get("bound")),
                num(g.get("limit")),
                esc(g.get("message", "")),
            ]
            for g in verdict.get("gates", [])
        ],
    )
    trend = report.get("trend", [])
    trend_html = ""
    if trend:
        trend_html = (
            "<h2>Agreement trend</h2>"
            + _img(lambda: plots.trend_png(trend), "agreement trend")
            + _table(
                TREND_HEADERS,
                [
                    [esc(period), _badge(status), *numbers]
                    for period, status, numbers in map(trend_cells, trend)
                ],
            )
        )
    sections = report.get("sections", {})
    names = ordered_sections(sections)
    body = "".join(
        f'<h2 id="{esc(n)}">{esc(title(n))}</h2>' + _RENDER.get(n, _generic)(sections[n])
        for n in names
    )
    strata = _table(
        ["stratum", "score range", "population", "sampled"],
        [
            [
                esc(s["name"]),
                f"{num(s['low'])}–{num(s['high'])}",
                esc(s["population"]),
                esc(s["sample_size"]),
            ]
            for s in report.get("sample", {}).get("strata", [])
        ],
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report {esc(period)}: {esc(status)}</title><style>{STYLE}</style></head>
<body>
<h1>Drift report {esc(period)} {_badge(status)}</h1>
<p class="muted">Student <strong>{esc(run.get("student", ""))}</strong> against teacher
<strong>{esc(run.get("teacher", ""))}</strong>, rubric {esc(run.get("rubric", ""))};
generated {esc(run.get("created_at", ""))}. Intervals at {num(run.get("interval_level"), 2)};
gates use one-sided bounds at alpha {num(run.get("alpha"))}.</p>
<h2>Reasons</h2><ul class="reasons">{"".join(f"<li>{esc(r)}</li>" for r in reasons)}</ul>
<h2>Gates</h2>{gates}
{trend_html}
{body}
<h2>Budget</h2>{_budget(report.get("budget", {}))}
<h2>Sample</h2><p>{esc(report.get("sample", {}).get("size", 0))} of
{esc(report.get("sample", {}).get("population", 0))} logged pairs sampled.</p>{strata}
</body></html>
"""
