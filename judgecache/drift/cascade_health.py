"""Cascade health for the drift report: is the band still doing what it was chosen to do?

The one health module: the section from arrays (:func:`cascade_health`), from a period's log
entries (:func:`health_from_log`), and from the drift check's labelled kept sample
(:func:`health_section`). Routes per period live in :mod:`judgecache.drift.cascade_routes`.

The trap it guards against (Cascade Saturation): the student's confidence and the escalation
rate -- the monitors that need no labels -- stay flat while the pairs the student *keeps* go
wrong. Only teacher labels sampled from the kept pairs show that, so the kept disagreement is
estimated from those labels alone, inverse-probability weighted by the sampler's design.
Escalated pairs' teacher labels come free, but they describe the band, not the kept traffic:
they are reported as their own stratum and never mixed into the kept estimate.

Verdict: ``fail`` when the kept disagreement's lower bound is above its target (the saturation
signal fires), ``warn`` when the estimate is above target without proof or the escalation rate
has moved away from the calibrated rate, ``inconclusive`` with fewer than ``min_labels`` kept
labels or when the upper bound cannot certify the target (the reason says so), ``pass`` when the
upper bound is within target. Without a target (no ``cascade.json``
known) the kept disagreement is reported but not judged: ``skipped``, or ``warn`` when the
escalation rate moved.

Example:
    >>> import numpy as np
    >>> from judgecache.drift.cascade_routes import PeriodRoutes
    >>> routes = [PeriodRoutes("2025-W01", 1000, 700, 300), PeriodRoutes("2025-W02", 1000, 690, 310)]
    >>> wrong = np.r_[np.ones(60), np.zeros(140)]            # 30% of sampled kept pairs disagree
    >>> h = cascade_health(routes, wrong, np.zeros(200), kept_target=0.05, expected_escalation=0.3)
    >>> h["status"], h["saturation"]["fired"], h["escalation"]["flat"]
    ('fail', True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from judgecache.cascade.record import load_selection, selection_path
from judgecache.cascade.scan import binary_array
from judgecache.cascade.selection import BandSelection, kept_target
from judgecache.drift.analysis import LabelledData
from judgecache.drift.cascade_routes import CascadeSplit, PeriodRoutes
from judgecache.drift.entry import LogEntry
from judgecache.errors import ConfigError, DriftInputError, InputError
from judgecache.judges.rubric import Rubric
from judgecache.stats import clopper_pearson_lower, clopper_pearson_upper

HEALTH_SCHEMA = "judgecache.cascade.health/1"
NO_TARGET = (
    "no band target known: point the drift config's `cascade:` at the student's cascade.json "
    "to check the band against the disagreement it was chosen for"
)

EXPLAIN = {
    "escalation": "share of pairs sent to the teacher per period, against the calibrated rate",
    "kept_disagreement": (
        "student vs teacher disagreement on KEPT pairs, from teacher labels sampled from kept "
        "pairs, inverse-probability weighted; bounds are one-sided Clopper-Pearson on Kish's "
        "effective counts"
    ),
    "escalated_stratum": (
        "free teacher labels of escalated pairs: how often the teacher overturned the student "
        "inside the band; its own stratum, never mixed into the kept estimate"
    ),
    "overall_agreement": "expected agreement with the teacher over all pairs this period",
    "saturation": (
        "Cascade Saturation: kept pairs disagree with the teacher more than the target, with "
        "confidence, whatever the escalation rate does"
    ),
}


KEPT_SCOPE = (
    "kept pairs only: the cascade's student decided these; escalated pairs carry the teacher's "
    "own label and are reported in the cascade health section"
)


def _weights(weights: npt.ArrayLike | None, n: int) -> npt.NDArray[np.float64]:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) != n:
        raise InputError(f"has {len(w)} entries, expected {n}", field="kept_weights")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InputError("must be finite inverse inclusion probabilities > 0", field="kept_weights")
    return w


def _rate(
    disagree: npt.NDArray[np.bool_], w: npt.NDArray[np.float64], confidence: float
) -> dict[str, Any]:
    n = len(disagree)
    if n == 0:
        return {"estimate": None, "lower": 0.0, "upper": 1.0, "n_labels": 0, "n_eff": 0.0}
    est = float(np.sum(w * disagree) / np.sum(w))
    n_eff = float(np.sum(w) ** 2 / np.sum(w * w))
    k_eff = est * n_eff
    return {
        "estimate": est,
        "lower": clopper_pearson_lower(k_eff, n_eff, confidence=confidence),
        "upper": clopper_pearson_upper(k_eff, n_eff, confidence=confidence),
        "n_labels": n,
        "n_eff": n_eff,
    }


def _escalation(
    routes: Sequence[PeriodRoutes], expected: float | None, tolerance: float
) -> dict[str, Any]:
    rows = [r.to_dict() for r in routes if r.pairs > 0]
    rates = [float(r["escalation_rate"]) for r in rows]
    current = rates[-1] if rates else None
    slope = float(np.polyfit(np.arange(len(rates)), rates, 1)[0]) if len(rates) >= 2 else None
    baseline = expected if expected is not None else (rates[0] if rates else None)
    change = None if current is None or baseline is None else current - baseline
    return {
        "periods": rows,
        "expected_rate": expected,
        "current_rate": current,
        "change": change,
        "slope_per_period": slope,
        "tolerance": tolerance,
        "flat": None if change is None else abs(change) <= tolerance,
    }


def _judge_kept(kept: dict[str, Any], target: float | None, min_labels: int) -> str:
    """Does the kept disagreement meet its target: yes, no, inconclusive, or no target."""
    if target is None:
        return "no target"
    if kept["n_labels"] < min_labels:
        return "inconclusive"
    if kept["upper"] <= target:
        return "yes"
    if kept["lower"] > target:
        return "no"
    return "inconclusive"


def _escalated_stratum(
    student: npt.ArrayLike | None, teacher: npt.ArrayLike | None
) -> dict[str, Any]:
    """How often the teacher overturned the student inside the band (free labels)."""
    if student is None or teacher is None:
        return {"n_labels": 0, "teacher_overturned": None}
    es = np.asarray(student).ravel()
    flips = binary_array(es, "escalated_student", len(es)) != binary_array(
        teacher, "escalated_teacher", len(es)
    )
    return {"n_labels": len(es), "teacher_overturned": float(np.mean(flips)) if len(es) else None}


def _overall(kept: dict[str, Any], esc: dict[str, Any]) -> dict[str, Any]:
    """Expected agreement over all pairs: kept pairs at their estimate, escalated ones right."""
    keep_share = None if esc["current_rate"] is None else 1.0 - esc["current_rate"]
    if keep_share is None or kept["estimate"] is None:
        return {"estimate": None, "lower": None}
    return {
        "estimate": 1.0 - kept["estimate"] * keep_share,
        "lower": 1.0 - kept["upper"] * keep_share,
    }


def _reasons(
    kept: dict[str, Any], esc: dict[str, Any], target: float | None, min_labels: int
) -> tuple[list[str], bool]:
    """The sentences behind the status, and whether the estimate is above target unproven."""
    meets, enough = kept["meets_target"], kept["n_labels"] >= min_labels
    fired = meets == "no"
    above = (
        not fired
        and target is not None
        and kept["estimate"] is not None
        and kept["estimate"] > target
    )
    reasons: list[str] = []
    if fired:
        flat = " while the escalation rate stayed flat" if esc["flat"] else ""
        reasons.append(
            f"Cascade Saturation: kept pairs disagree with the teacher at {kept['estimate']:.3f} "
            f"(lower bound {kept['lower']:.3f} > target {target:.3f}){flat}"
        )
    elif above:
        reasons.append(
            f"kept disagreement {kept['estimate']:.3f} is above the target {target:.3f} "
            "but not significantly"
        )
    elif meets == "inconclusive" and enough:
        # Within target, but the bound cannot re-certify the band: say so, never a silent "pass".
        reasons.append(
            f"kept disagreement {kept['estimate']:.3f} is within the target {target:.3f} but "
            f"its upper bound {kept['upper']:.3f} does not certify it with {kept['n_labels']} "
            "labels; sample more kept pairs (sample_size, budget) to re-certify the band"
        )
    if esc["flat"] is False:
        reasons.append(
            f"escalation rate moved by {esc['change']:+.3f} from {esc['expected_rate'] or 0:.3f} "
            f"(tolerance {esc['tolerance']}); the score distribution has shifted"
        )
    if meets == "inconclusive" and not enough:
        reasons.append(f"only {kept['n_labels']} kept pairs labelled (need {min_labels})")
    return reasons, above and enough


def _status(meets: str, esc_flat: bool | None, target: float | None, above: bool) -> str:
    """fail / warn / inconclusive / pass, or skipped without a target (see the module doc)."""
    if target is None:
        return "warn" if esc_flat is False else "skipped"
    if meets == "no":
        return "fail"
    if above or esc_flat is False:
        return "warn"
    return "inconclusive" if meets == "inconclusive" else "pass"


def cascade_health(
    routes: Sequence[PeriodRoutes],
    kept_student: npt.ArrayLike,
    kept_teacher: npt.ArrayLike,
    kept_weights: npt.ArrayLike | None = None,
    *,
    kept_target: float | None,
    expected_escalation: float | None = None,
    escalated_student: npt.ArrayLike | None = None,
    escalated_teacher: npt.ArrayLike | None = None,
    confidence: float = 0.95,
    flat_tolerance: float = 0.05,
    min_labels: int = 30,
    band: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The cascade health section (a self-describing dict; see the module doc).

    Args:
        routes: kept/escalated counts per period, oldest first; the last is the current period.
        kept_student, kept_teacher: binary decisions (1 = positive) on the teacher-labelled pairs
            sampled from the current period's KEPT pairs.
        kept_weights: their inverse inclusion probabilities (``None``: a simple random sample).
        kept_target: the kept disagreement the band promised (:func:`kept_target`); ``None``
            when no band selection is known (the disagreement is then reported, not judged).
        expected_escalation: the calibrated escalation rate (default: the first period's rate).
        escalated_student, escalated_teacher: binary decisions on escalated pairs (free labels).
    """
    if kept_target is not None and not 0.0 < kept_target <= 1.0:
        raise ConfigError(f"kept_target must be in (0, 1], got {kept_target}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    ks = np.asarray(kept_student).ravel()
    student = binary_array(ks, "kept_student", len(ks))
    teacher = binary_array(kept_teacher, "kept_teacher", len(ks))
    kept = _rate(student != teacher, _weights(kept_weights, len(ks)), confidence)
    kept.update(
        {"target": kept_target, "confidence": confidence, "weighted": kept_weights is not None}
    )
    kept["meets_target"] = _judge_kept(kept, kept_target, min_labels)
    esc = _escalation(routes, expected_escalation, flat_tolerance)
    reasons, above = _reasons(kept, esc, kept_target, min_labels)
    fired = kept["meets_target"] == "no"
    return {
        "schema": HEALTH_SCHEMA,
        "status": _status(kept["meets_target"], esc["flat"], kept_target, above),
        "reasons": reasons,
        "band": dict(band) if band is not None else None,
        "escalation": esc,
        "kept_disagreement": kept,
        "escalated_stratum": _escalated_stratum(escalated_student, escalated_teacher),
        "overall_agreement": _overall(kept, esc),
        "saturation": {
            "fired": fired,
            "escalation_flat": esc["flat"],
            "signal": "kept disagreement lower bound above target",
        },
        "explain": EXPLAIN,
        **({} if kept_target is not None else {"note": NO_TARGET}),
    }


def escalated_student_positive(entry: LogEntry, rubric: Rubric) -> bool:
    """The student's own binary decision on an escalated pair.

    Its logged ``student_label`` when there is one; entries logged before that field existed
    fall back to the probability's 0.5 cut.
    """
    if entry.student_label is not None:
        return rubric.is_positive(rubric.coerce_label(entry.student_label))
    return entry.student_score >= 0.5


def health_from_log(
    entries: Sequence[LogEntry],
    kept_labels: Mapping[str, tuple[object, float]],
    selection: BandSelection | None,
    *,
    rubric: Rubric,
    routes: Sequence[PeriodRoutes],
    confidence: float = 0.95,
    flat_tolerance: float = 0.05,
    min_labels: int = 30,
) -> dict[str, Any]:
    """:func:`cascade_health` from a period's log entries and the drift sample's teacher labels.

    ``kept_labels`` maps the item id of each sampled KEPT entry to ``(teacher label, weight)``
    (weight = inverse inclusion probability). Labels for escalated entries are ignored here:
    their free ``teacher_label`` already forms the escalated stratum. Without a ``selection``
    (no ``cascade.json`` known) there is no target and no calibrated escalation rate.
    """
    by_id = {e.item_id: e for e in entries}
    ks: list[bool] = []
    kt: list[bool] = []
    kw: list[float] = []
    for item_id, (label, weight) in sorted(kept_labels.items()):
        entry = by_id.get(item_id)
        if entry is None:
            raise InputError(
                f"labelled item {item_id!r} is not in the log entries", field="kept_labels"
            )
        if entry.route != "kept" or entry.decision is None:
            continue
        ks.append(rubric.is_positive(rubric.coerce_label(entry.decision)))
        kt.append(rubric.is_positive(rubric.coerce_label(label)))
        kw.append(float(weight))
    es: list[bool] = []
    et: list[bool] = []
    for e in entries:
        if e.route == "escalated" and e.teacher_label is not None:
            es.append(escalated_student_positive(e, rubric))
            et.append(rubric.is_positive(rubric.coerce_label(e.teacher_label)))
    return cascade_health(
        routes,
        ks,
        kt,
        kw,
        kept_target=None if selection is None else kept_target(selection),
        expected_escalation=None if selection is None else selection.escalation_rate,
        escalated_student=es,
        escalated_teacher=et,
        confidence=confidence,
        flat_tolerance=flat_tolerance,
        min_labels=min_labels,
        band=None if selection is None else selection.band.to_dict(),
    )


def load_band(path: str | None, entries: Sequence[LogEntry]) -> BandSelection | None:
    """The band selection the config points at, checked against the band that scored the log.

    A cascade's identity version is its band's digest, so a ``cascade.json`` holding another
    band (re-chosen since, or another student's) is refused rather than judged against.
    """
    if path is None:
        return None
    selection = load_selection(path)
    digest = selection.band.digest()
    logged = sorted(
        {e.judge.get("version", "") for e in entries if e.judge.get("provider") == "cascade"}
    )
    if logged and logged != [digest]:
        raise DriftInputError(
            f"{selection_path(path)} holds band {selection.band} (digest {digest}) but the "
            f"logged cascade used band digest(s) {logged}: point `cascade:` at the band that "
            "scored this log"
        )
    return selection


def health_section(
    split: CascadeSplit,
    data: LabelledData,
    selection: BandSelection | None,
    *,
    rubric: Rubric,
    routes: Sequence[PeriodRoutes],
    alpha: float,
    min_labels: int,
) -> dict[str, Any]:
    """The report's ``cascade_health`` section, its bounds one-sided at the run's ``alpha``.

    ``data`` must be the labelled sample of KEPT entries; its weights (inverse inclusion
    probabilities) carry into the kept estimate unchanged.
    """
    labels = {
        it.entry.item_id: (label, float(w))
        for it, label, w in zip(data.items, data.teacher, data.weights, strict=True)
    }
    section = health_from_log(
        [*split.kept, *split.escalated],
        labels,
        selection,
        rubric=rubric,
        routes=routes,
        confidence=1.0 - alpha,
        min_labels=min_labels,
    )
    section["population"] = {"kept": len(split.kept), "escalated": len(split.escalated)}
    section["target_source"] = None if selection is None else selection.target
    return section
