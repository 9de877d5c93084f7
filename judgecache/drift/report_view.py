"""One section model of a drift report, shared by the Markdown and HTML renderers.

The report document (JSON) is read here once, into typed blocks of plain text: paragraphs,
bullet lists, tables, plots. Every lookup tolerates a missing or mistyped key (a report may come
from an older or newer version, or from a hand-edited file), and every value becomes text through
:func:`judgecache.drift.fmt.num`. The renderers only lay the blocks out and escape every piece of
text they are given, numbers included: nothing from the document reaches a page unescaped.

Example:
    >>> doc = {"run": {"period": {"label": "2025-W02"}}, "verdict": {"status": "pass"},
    ...        "sections": {"threshold": {"available": False, "note": "none set"}}}
    >>> view = build_view(doc)
    >>> view.status, [s.key for s in view.sections]
    ('pass', ['reasons', 'gates', 'threshold', 'budget', 'sample'])
    >>> view.sections[2].blocks
    (Para(text='none set', muted=True, badge=None),)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Badge:
    """A status word (pass, warn, fail, ...), drawn as a coloured badge or in bold."""

    status: str


@dataclass(frozen=True)
class Fields:
    """Named texts shown together in one cell (a pair's inputs)."""

    pairs: tuple[tuple[str, str], ...]


Cell = str | Badge | Fields


@dataclass(frozen=True)
class Para:
    """A paragraph of text, optionally muted, optionally ending in a status badge."""

    text: str
    muted: bool = False
    badge: str | None = None


@dataclass(frozen=True)
class Bullets:
    """A bullet list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Plot:
    """A figure (drawn only where images can be shown); ``draw`` returns a base64 PNG."""

    alt: str
    draw: Callable[[], str]


@dataclass(frozen=True)
class Beside:
    """A plot and a table shown side by side where there is room."""

    plot: Plot
    table: Table


Block = Para | Bullets | Table | Plot | Beside


@dataclass(frozen=True)
class Section:
    """One titled part of the report (``key`` doubles as the HTML anchor)."""

    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ReportView:
    """The whole report as the renderers see it."""

    period: str
    status: str
    byline: str
    sections: tuple[Section, ...]


# --------------------------------------------------------------------------- tolerant reading


def m(doc: Any, *path: str) -> Mapping[str, Any]:
    """The mapping at ``path`` (an empty one when missing or not a mapping)."""
    for key in path:
        doc = doc.get(key) if isinstance(doc, Mapping) else None
    return doc if isinstance(doc, Mapping) else {}


def rows_of(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in a list (anything else is left out)."""
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def texts(value: Any) -> tuple[str, ...]:
    """A list of texts (a lone value becomes one text)."""
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows))


def _unavailable(s: Mapping[str, Any], default: str) -> tuple[Block, ...] | None:
    if s.get("available"):
        return None
    return (Para(num(s.get("note", default)), muted=True),)


# --------------------------------------------------------------------------- sections


def _agreement(s: Mapping[str, Any]) -> tuple[Block, ...]:
    ref = m(s, "reference")
    rows = [
        ["raw agreement (weighted)", interval(m(s, "agreement")), num(ref.get("agreement"))],
        [
            "Cohen's kappa (binary, bootstrap interval)",
            interval(m(s, "kappa")),
            num(ref.get("kappa")),
        ],
        ["student TPR vs teacher", num(s.get("tpr")), "–"],
        ["student TNR vs teacher", num(s.get("tnr")), "–"],
        ["teacher-positive rate", interval(m(s, "teacher_positive_rate")), "–"],
        ["student-positive rate", num(s.get("student_positive_rate")), "–"],
    ]
    if "kappa_quadratic" in s:
        rows.append(["quadratic-weighted kappa (grades)", num(s["kappa_quadratic"]), "–"])
    blocks: list[Block] = []
    if s.get("scope"):
        blocks.append(Para(f"Measured on {num(s['scope'])}."))
    blocks += [
        Para(
            f"{num(s.get('n_labelled', 0))} of {num(s.get('n_sampled', 0))} sampled pairs "
            "labelled by the teacher."
        ),
        _table(["measure", "this period", "reference"], rows),
        Para("Unweighted agreement per stratum:", muted=True),
        _table(
            ["stratum", "labelled", "agreement"],
            [
                [num(r.get("stratum")), num(r.get("labelled")), num(r.get("agreement"))]
                for r in rows_of(s.get("by_stratum"))
            ],
        ),
    ]
    return tuple(blocks)


def _cascade_summary(s: Mapping[str, Any]) -> list[list[Cell]]:
    kept, esc = m(s, "kept_disagreement"), m(s, "escalation")
    stratum, overall = m(s, "escalated_stratum"), m(s, "overall_agreement")
    rows: list[list[Cell]] = [
        [
            f"kept disagreement (weighted; {num(kept.get('n_labels'))} labels, "
            f"n_eff {num(kept.get('n_eff'), 0)})",
            "–"
            if kept.get("estimate") is None
            else f"{num(kept.get('estimate'))} [{num(kept.get('lower'))}, "
            f"{num(kept.get('upper'))}]",
        ],
        [
            "band target for kept disagreement",
            "none known"
            if kept.get("target") is None
            else f"{num(kept.get('target'))}: meets target? {num(kept.get('meets_target'))}",
        ],
    ]
    if esc:
        flat = (
            {True: "flat", False: "moved"}.get(esc["flat"], "–")
            if isinstance(esc.get("flat"), bool)
            else "–"
        )
        rows.append(
            [
                "escalation rate this period (calibrated)",
                f"{num(esc.get('current_rate'))} ({num(esc.get('expected_rate'))}); change "
                f"{num(esc.get('change'))}, {flat} within ±{num(esc.get('tolerance'), 2)}",
            ]
        )
    if stratum:
        rows.append(
            [
                "escalated stratum: teacher overturned the student (free labels)",
                f"{num(stratum.get('teacher_overturned'))} of {num(stratum.get('n_labels'))} "
                "escalated pairs",
            ]
        )
    if overall:
        rows.append(
            [
                "expected agreement over all pairs (lower bound)",
                f"{num(overall.get('estimate'))} ({num(overall.get('lower'))})",
            ]
        )
    if m(s, "saturation"):
        rows.append(
            ["Cascade Saturation signal", "FIRED" if s["saturation"].get("fired") else "no"]
        )
    band = m(s, "band")
    if band:
        rows.append(
            ["band (escalate lo <= p <= hi)", f"[{num(band.get('lo'))}, {num(band.get('hi'))}]"]
        )
    return rows


def _cascade_health(s: Mapping[str, Any]) -> tuple[Block, ...]:
    blocks: list[Block] = [Para("Status:", badge=str(s.get("status", "inconclusive")))]
    notes = (*texts(s.get("reasons")), *texts(s.get("note")))
    if notes:
        blocks.append(Bullets(notes))
    blocks.append(_table(["measure", "value"], _cascade_summary(s)))
    esc = m(s, "escalation")
    periods = rows_of(esc.get("periods"))
    if periods:
        trend = _table(
            ["period", "pairs", "kept", "escalated", "escalation rate"],
            [
                [
                    num(r.get("period", "")),
                    *(num(r.get(k)) for k in ("pairs", "kept", "escalated", "escalation_rate")),
                ]
                for r in periods
            ],
        )
        expected = esc.get("expected_rate")
        draw = lambda: plots.escalation_png(periods, expected)  # noqa: E731
        blocks += [
            Para("Escalation rate by period:"),
            Beside(Plot("escalation rate trend", draw), trend),
        ]
    return tuple(blocks)


def _calibration(s: Mapping[str, Any]) -> tuple[Block, ...]:
    if (off := _unavailable(s, "not measured")) is not None:
        return off
    ref = m(s, "reference")
    table = _table(
        ["measure", "this period", "reference"],
        [
            ["ECE (10 equal-mass bins)", num(s.get("ece")), num(ref.get("ece"))],
            ["Brier score", num(s.get("brier")), num(ref.get("brier"))],
            [
                "calibration slope (< 1: overconfident)",
                interval(m(s, "slope"), 2),
                num(ref.get("slope"), 2),
            ],
            ["mean p − teacher-positive rate", interval(m(s, "bias")), "–"],
            ["signed over-confidence", num(s.get("overconfidence")), "–"],
        ],
    )
    rel = rows_of(s.get("reliability"))
    bins = _table(
        ["bin", "p range", "n", "mean p", "observed", "gap"],
        [
            [
                num(r.get("bin")),
                f"{num(r.get('low'), 2)}–{num(r.get('high'), 2)}",
                num(r.get("n")),
                num(r.get("mean_p")),
                num(r.get("observed")),
                num(r.get("gap")),
            ]
            for r in rel
        ],
    )
    caption = Para("Reliability table (gap = mean p − observed; > 0 says positive too often):")
    if not rel:
        return (table, caption, bins)
    return (
        table,
        caption,
        Beside(Plot("reliability diagram", lambda: plots.reliability_png(rel)), bins),
    )


def _score_drift(s: Mapping[str, Any]) -> tuple[Block, ...]:
    if s.get("psi") is None:
        return (Para("no logged scores in the period", muted=True),)
    head = Para(
        f"PSI {num(s.get('psi'))} (warn 0.1, fail 0.25), Wasserstein-1 {num(s.get('wasserstein'))}, "
        f"over {num(s.get('population'))} logged pairs (reference sample: "
        f"{num(s.get('reference_n'))})."
    )
    rows = rows_of(s.get("bins"))
    # A damaged edge shortens the labels: the rows still show, unlabelled ones as "–".
    labels = [*bin_ranges(rows), *["–"] * len(rows)][: len(rows)]
    bins = _table(
        ["student score", "reference", "this period"],
        [
            [label, num(b.get("reference")), num(b.get("current"))]
            for label, b in zip(labels, rows, strict=True)
        ],
    )
    hist = m(s, "histogram")
    return (head, Beside(Plot("score histograms", lambda: plots.histogram_png(hist)), bins))


def _threshold(s: Mapping[str, Any]) -> tuple[Block, ...]:
    if (off := _unavailable(s, "not configured")) is not None:
        return off
    return (
        Para(
            f"{num(s.get('metric'))} at threshold {num(s.get('threshold'))}: "
            f"{num(s.get('estimate'))} (one-sided bounds {num(s.get('low'))}–{num(s.get('high'))}, "
            f"n={num(s.get('n'))}) against target {num(s.get('target'))}:",
            badge=num(s.get("status")),
        ),
    )


def _teacher(s: Mapping[str, Any]) -> tuple[Block, ...]:
    if (off := _unavailable(s, "no anchors")) is not None:
        return off
    text = (
        f"{num(s.get('changed'))} of {num(s.get('labelled'))} re-judged anchors (of "
        f"{num(s.get('anchors'))}) changed label since baseline: rate "
        f"{interval(m(s, 'change_rate'))}; binary flips {num(s.get('binary_flip_rate'))}."
    )
    if "kappa_quadratic" in s:
        text += f" Quadratic-weighted kappa, baseline vs now: {num(s['kappa_quadratic'])}."
    return (Para(text),)


def _segments(value: Any) -> tuple[Block, ...]:
    rows = rows_of(value)
    if not rows:
        return (Para("No tag has enough labelled pairs (20) to report.", muted=True),)
    return (
        _table(
            ["segment", "agreement", "n", "flagged"],
            [
                [
                    num(r.get("segment")),
                    interval(r),
                    num(r.get("n")),
                    "yes" if r.get("flagged") else "",
                ]
                for r in rows
            ],
        ),
    )


def _ppi(s: Mapping[str, Any]) -> tuple[Block, ...]:
    if (off := _unavailable(s, "")) is not None:
        return off
    rows = []
    for name in ("teacher_positive_rate", "agreement"):
        e = m(s, name)
        rows.append(
            [
                name.replace("_", " "),
                f"{num(e.get('estimate'))} [{num(e.get('low'))}, {num(e.get('high'))}]",
                f"{num(e.get('classical'))} [{num(e.get('classical_low'))}, "
                f"{num(e.get('classical_high'))}]",
                num(e.get("predicted_mean")),
            ]
        )
    return (_table(["quantity", "PPI (all traffic)", "labelled only", "student alone"], rows),)


def _disagreements(value: Any) -> tuple[Block, ...]:
    rows = rows_of(value)
    if not rows:
        return (Para("None in the sample.", muted=True),)
    return (
        _table(
            ["student score", "decision", "teacher", "stratum", "pair"],
            [
                [
                    num(r.get("student_score")),
                    num(r.get("decision")),
                    num(r.get("teacher_label")),
                    num(r.get("stratum")),
                    Fields(tuple((num(k), num(v)) for k, v in m(r, "inputs").items())),
                ]
                for r in rows
            ],
        ),
    )


def _generic(value: Any) -> tuple[Block, ...]:
    # Sections this version does not know (a newer writer's) still show up, nested parts below.
    if isinstance(value, Mapping):
        nested = {k: v for k, v in value.items() if isinstance(v, Mapping | list)}
        blocks: list[Block] = [
            _table(
                ["field", "value"],
                [[num(k), num(v)] for k, v in value.items() if k not in nested],
            )
        ]
        for k, v in nested.items():
            blocks += [Para(f"{num(k)}:", muted=True), *_generic(v)]
        return tuple(blocks)
    rows = rows_of(value)
    if rows and len(rows) == len(value):
        keys = list(rows[0])
        return (_table([num(k) for k in keys], [[num(r.get(k)) for k in keys] for r in rows]),)
    if isinstance(value, list):
        return (Para(", ".join(num(v) for v in value)),)
    return (Para(num(value)),)


SECTIONS: dict[str, Callable[[Any], tuple[Block, ...]]] = {
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


# --------------------------------------------------------------------------- frame


def _gates(verdict: Mapping[str, Any]) -> Table:
    return _table(
        ["gate", "status", "value", "bound", "limit", "detail"],
        [
            [
                num(g.get("name")),
                Badge(num(g.get("status"))),
                num(g.get("value")),
                num(g.get("bound")),
                num(g.get("limit")),
                num(g.get("message", "")),
            ]
            for g in rows_of(verdict.get("gates"))
        ],
    )


def _trend(trend: list[Mapping[str, Any]]) -> tuple[Block, ...]:
    table = _table(
        TREND_HEADERS,
        [[period, Badge(status), *numbers] for period, status, numbers in map(trend_cells, trend)],
    )
    return (Plot("agreement trend", lambda: plots.trend_png(trend)), table)


def _budget(b: Mapping[str, Any]) -> tuple[Block, ...]:
    rows = []
    for part in ("sample", "anchors"):
        x = m(b, part)
        rows.append(
            [part]
            + [num(x.get(k, 0)) for k in ("labelled", "cache_hits", "teacher_calls", "failed")]
            + [num(x.get("not_asked", 0)), num(x.get("unreachable") or "")]
        )
    return (
        Para(
            f"{num(b.get('teacher_calls', 0))} teacher calls of {num(b.get('max_teacher_calls'))} "
            "allowed."
        ),
        _table(
            ["part", "labelled", "cache hits", "calls", "failed", "not asked", "unreachable"], rows
        ),
    )


def _sample(s: Mapping[str, Any]) -> tuple[Block, ...]:
    return (
        Para(f"{num(s.get('size', 0))} of {num(s.get('population', 0))} logged pairs sampled."),
        _table(
            ["stratum", "score range", "population", "sampled"],
            [
                [
                    num(r.get("name")),
                    f"{num(r.get('low'))}–{num(r.get('high'))}",
                    num(r.get("population")),
                    num(r.get("sample_size")),
                ]
                for r in rows_of(s.get("strata"))
            ],
        ),
    )


def build_view(report: Mapping[str, Any]) -> ReportView:
    """The report document as typed sections: reasons, gates, trend, measurements, budget, sample."""
    run, verdict = m(report, "run"), m(report, "verdict")
    byline = (
        f"Student {num(run.get('student', ''))} against teacher {num(run.get('teacher', ''))} "
        f"(rubric {num(run.get('rubric', ''))}); generated {num(run.get('created_at', ''))}. "
        f"Intervals at {num(run.get('interval_level'), 2)}; gates use one-sided bounds at alpha "
        f"{num(run.get('alpha'))}."
    )
    sections = [
        Section(
            "reasons", "Reasons", (Bullets(texts(verdict.get("reasons")) or ("all gates pass",)),)
        ),
        Section("gates", "Gates", (_gates(verdict),)),
    ]
    trend = rows_of(report.get("trend"))
    if trend:
        sections.append(Section("trend", "Trend", _trend(trend)))
    measured = m(report, "sections")
    sections += [
        Section(name, title(name), SECTIONS.get(name, _generic)(measured[name]))
        for name in ordered_sections(measured)
    ]
    sections += [
        Section("budget", "Budget", _budget(m(report, "budget"))),
        Section("sample", "Sample", _sample(m(report, "sample"))),
    ]
    return ReportView(
        period=num(m(run, "period").get("label", "")),
        status=num(verdict.get("status")),
        byline=byline,
        sections=tuple(sections),
    )
