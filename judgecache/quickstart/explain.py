"""Plain-language lines for the quickstart: what distillation bought, and why drift said what it said.

Pure functions over the run's figures, so they are tested without training anything.

Example:
    >>> _gain_word({"value": 0.04, "lo": 0.002, "hi": 0.08})
    'a real gain (the paired interval is above 0)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from judgecache.stats import format_ci

NA = "–"
"""Shown for a figure that was not measured."""

SPLIT_NAMES = {
    "test": "queries never seen in training",
    "test_seen": "new passages of seen queries",
}


def _gain_word(delta: Mapping[str, Any] | None) -> str:
    if not delta or delta.get("lo") is None or delta.get("hi") is None:
        return "not measured"
    if delta["lo"] == delta["hi"] == 0:
        return "no change (training found no step better than the base on validation)"
    if delta["lo"] > 0:
        return "a real gain (the paired interval is above 0)"
    if delta["hi"] < 0:
        return "a real loss (the paired interval is below 0)"
    return "within the noise (the paired interval straddles 0)"


def describe_comparison(comparison: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """Lines for :func:`judgecache.quickstart.compare.compare_judges`: each judge's agreement with
    the teacher, then the first judge's paired gain over each other one.

    >>> c = {"n": 90, "agreement": {"student": {"value": 0.7, "lo": 0.6, "hi": 0.8},
    ...                             "base": {"value": 0.5, "lo": 0.4, "hi": 0.6}},
    ...      "gain": {"base": {"value": 0.2, "lo": 0.1, "hi": 0.3}}}
    >>> for line in describe_comparison(c, {"student": "student", "base": "base"}): print(line)
    student  0.700 [0.600, 0.800]
    base     0.500 [0.400, 0.600]
    student - base: +0.200 [+0.100, +0.300], a real gain (the paired interval is above 0)
    """
    width = max(len(names.get(k, k)) for k in comparison["agreement"])
    lines = [
        f"{names.get(k, k):<{width}}  {format_ci(m, missing='–')}"
        for k, m in comparison["agreement"].items()
    ]
    first = next(iter(comparison["agreement"]))
    for other, delta in comparison["gain"].items():
        lines.append(
            f"{names.get(first, first)} - {names.get(other, other)}: "
            f"{format_ci(delta, signed=True, missing='–')}, {_gain_word(delta)}"
        )
    return lines


def describe_fitted_base(headline: Mapping[str, Any]) -> list[str]:
    """The training run's own comparison on its held-out queries: the student against the base
    with the same calibration and grade cut-points fitted to the teacher (what training added
    beyond fitting cut-points).

    >>> row = {"paired_delta": {"zero_shot_cuts": {"weighted_kappa": {"value": 0.0, "lo": 0.0, "hi": 0.0}}}}
    >>> describe_fitted_base({"test": row})[0][:60]
    'training run, queries never seen in training: student - base'
    """
    lines = []
    for split, row in headline.items():
        deltas = row.get("paired_delta") or {}
        other = "zero_shot_cuts" if "zero_shot_cuts" in deltas else "zero_shot"
        delta = (deltas.get(other) or {}).get("weighted_kappa")
        if delta is None:
            continue
        fitted = "cut-points fitted" if other == "zero_shot_cuts" else "calibration fitted"
        lines.append(
            f"training run, {SPLIT_NAMES.get(split, split)}: student - base with {fitted} "
            f"to the teacher {format_ci(delta, signed=True, missing='–')}, {_gain_word(delta)}"
        )
    return lines


def explain_drift(reference: Any, report: Mapping[str, Any], verdict: Any) -> list[str]:
    """Why the drift check passed or failed, in the quickstart's terms.

    ``reference`` is the baseline (``.agreement``, ``.n_labelled``), ``report`` the check's report
    and ``verdict`` its verdict (``.status``, ``.reasons``).
    """
    agreement = (report.get("sections", {}).get("agreement") or {}).get("agreement") or {}
    now = agreement.get("estimate")
    lines = [
        f"the student agreed with the teacher on {reference.agreement:.3f} of {reference.n_labelled} "
        "reference-traffic labels"
        + (
            f", and on {now:.3f} [{agreement.get('low', now):.3f}, {agreement.get('high', now):.3f}] "
            "of the shifted traffic's"
            if now is not None
            else ""
        )
    ]
    status = str(verdict.status)
    reasons: Sequence[str] = list(verdict.reasons)
    if status == "fail":
        lines.append(
            "FAIL is the catch this demo plants: the shifted traffic is standard-library "
            "docstrings, text the student never saw in training, and its decisions there "
            "disagree with the teacher more than the reference allows. What fired:"
        )
    elif status == "warn":
        lines.append(
            "WARN: the planted shift (library docstrings instead of the Language Reference) "
            "moved some measures past their warning line, not past failure:"
        )
    elif status == "pass":
        lines.append(
            "PASS: on the planted shift (library docstrings instead of the Language Reference) "
            "the student's agreement stayed within what the reference allows"
        )
    else:
        lines.append(f"{status.upper()}: too few teacher labels to decide; raise the budget")
    lines += [f"- {reason}" for reason in reasons[:4]]
    return lines
