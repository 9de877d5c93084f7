"""Turn a labelled sample into the report's measurement sections (JSON-ready dicts).

Weights: item ``i`` of stratum ``h`` counts ``N_h / m_h``, where ``m_h`` is the number of the
stratum's sampled items that got a teacher label. That is the inverse inclusion probability, with
the usual within-stratum adjustment for items the teacher did not answer (budget or failures).

Example:
    >>> from judgecache.drift.entry import LogEntry
    >>> from judgecache.drift.sampler import stratified_sample
    >>> from judgecache.judges.rubric import get_rubric
    >>> es = [LogEntry(item_id=f"i{k}", inputs={"query": "q", "doc": str(k)},
    ...       score=k / 10, probability=k / 10, judge={"provider": "s", "model": "m"},
    ...       task="relevance") for k in range(10)]
    >>> s = stratified_sample(es, 10, period_label="p", threshold=0.5)
    >>> data = LabelledData.build(s, {f"i{k}": 3 if k >= 5 else 0 for k in range(10)},
    ...                           get_rubric("relevance"), threshold=0.5)
    >>> agreement_section(data, alpha=0.01, seed=0, n_boot=0)["agreement"]["estimate"]
    1.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from judgecache import stats
from judgecache.drift import estimators
from judgecache.drift.entry import LogEntry
from judgecache.drift.reference import Anchor, Reference
from judgecache.drift.sampler import Sample, SampledItem
from judgecache.envelope import Label
from judgecache.errors import DriftInputError
from judgecache.judges.rubric import Rubric

HISTOGRAM_BINS = 20
# The ranges intervals are clipped to: a rate lies in [0, 1], a kappa in [-1, 1].
RATE = (0.0, 1.0)
KAPPA = (-1.0, 1.0)
MAX_TEXT = 300


def clean(x: float | None) -> float | None:
    """JSON-safe float: NaN and infinities become ``None``."""
    return None if x is None or not math.isfinite(x) else float(x)


def student_positive(entry: LogEntry, rubric: Rubric, threshold: float | None) -> bool:
    """The student's binary decision: ``student_score >= threshold``, else its label's binary view."""
    if threshold is not None:
        return entry.student_score >= threshold
    if entry.decision is None:
        raise DriftInputError(
            f"log entry {entry.item_id!r} has no decision and no threshold is configured"
        )
    try:
        return rubric.is_positive(entry.decision)
    except ValueError as exc:
        raise DriftInputError(
            f"log entry {entry.item_id!r}: decision {entry.decision!r} is not a label of rubric "
            f"{rubric.name!r} {list(rubric.labels)}; set a threshold in the config"
        ) from exc


@dataclass(frozen=True)
class LabelledData:
    """The sampled items the teacher answered, as aligned arrays."""

    items: list[SampledItem]
    teacher: list[Label]
    weights: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]
    student_pos: npt.NDArray[np.bool_]
    teacher_pos: npt.NDArray[np.bool_]
    strata: npt.NDArray[np.str_]
    calibrated: bool
    rubric: Rubric
    threshold: float | None
    sampled: int

    @property
    def n(self) -> int:
        return len(self.items)

    @classmethod
    def build(
        cls,
        sample: Sample,
        labels: Mapping[str, Label],
        rubric: Rubric,
        *,
        threshold: float | None,
    ) -> LabelledData:
        items = [it for it in sample.items if it.entry.item_id in labels]
        answered = Counter(it.stratum for it in items)
        pop = sample.stratum_population()
        teacher = [labels[it.entry.item_id] for it in items]
        weights = np.array([pop[it.stratum] / answered[it.stratum] for it in items], dtype=float)
        return cls(
            items=items,
            teacher=teacher,
            weights=weights,
            scores=np.array([it.entry.student_score for it in items], dtype=float),
            student_pos=np.array(
                [student_positive(it.entry, rubric, threshold) for it in items], dtype=bool
            ),
            teacher_pos=np.array([rubric.is_positive(t) for t in teacher], dtype=bool),
            strata=np.array([it.stratum for it in items], dtype=str),
            calibrated=bool(items) and all(it.entry.probability is not None for it in items),
            rubric=rubric,
            threshold=threshold,
            sampled=len(sample.items),
        )


def _rate(r: stats.RateEstimate) -> dict[str, Any]:
    return {
        "estimate": clean(r.estimate),
        "low": clean(r.low),
        "high": clean(r.high),
        "n": r.n,
        "n_eff": clean(r.n_eff),
    }


def agreement_section(
    d: LabelledData,
    *,
    alpha: float,
    seed: int,
    n_boot: int,
    reference: Reference | None = None,
    warn_alpha: float = 0.1,
) -> dict[str, Any]:
    """Raw agreement, kappa (binary; quadratic on grades), TPR/TNR and positive rates."""
    agree = (d.student_pos == d.teacher_pos).astype(float)
    out: dict[str, Any] = {
        "n_labelled": d.n,
        "n_sampled": d.sampled,
        "agreement": _rate(stats.weighted_rate(agree, d.weights, alpha=2 * alpha)),
        "agreement_upper": clean(
            stats.weighted_rate(agree, d.weights, alpha=alpha, sided="upper").high
        ),
        "agreement_upper_warn": clean(
            stats.weighted_rate(agree, d.weights, alpha=warn_alpha, sided="upper").high
        ),
        "teacher_positive_rate": _rate(
            stats.weighted_rate(d.teacher_pos.astype(float), d.weights, alpha=2 * alpha)
        ),
        "student_positive_rate": clean(stats.weighted_mean(d.student_pos.astype(float), d.weights)),
    }
    a, b = d.student_pos.astype(np.intp), d.teacher_pos.astype(np.intp)
    kappa = stats.kappa_from_codes(a, b, 2, sample_weight=d.weights)
    low = high = math.nan
    if n_boot > 0 and d.n >= 2:
        low, high = stats.bootstrap_interval(
            lambda i: stats.kappa_from_codes(a[i], b[i], 2, sample_weight=d.weights[i]),
            d.n,
            strata=d.strata,
            n_boot=n_boot,
            alpha=2 * alpha,
            seed=seed,
            bounds=KAPPA,
        )
    out["kappa"] = {"estimate": clean(kappa), "low": clean(low), "high": clean(high)}
    tpr, tnr = stats.tpr_tnr(d.student_pos, d.teacher_pos, d.weights)
    out["tpr"], out["tnr"] = clean(tpr), clean(tnr)
    decisions = [it.entry.decision for it in d.items]
    # Only a student that answers in grades gets a graded kappa (0/1 decisions are not grades).
    if (
        d.rubric.graded
        and d.n
        and len(set(decisions)) > 2
        and all(x in d.rubric.labels for x in decisions)
    ):
        out["kappa_quadratic"] = clean(
            stats.cohen_kappa(
                np.array(decisions),
                np.array(d.teacher),
                labels=d.rubric.labels,
                sample_weight=d.weights,
                weighting="quadratic",
            )
        )
    out["by_stratum"] = [
        {
            "stratum": s,
            "labelled": int(np.sum(d.strata == s)),
            "agreement": clean(float(np.mean(agree[d.strata == s]))),
        }
        for s in sorted(set(d.strata.tolist()))
    ]
    if reference is not None:
        out["reference"] = {
            "agreement": reference.agreement,
            "kappa": reference.kappa,
            "n_labelled": reference.n_labelled,
        }
    return out


def calibration_section(
    d: LabelledData, *, alpha: float, reference: Reference | None = None
) -> dict[str, Any]:
    """ECE (10 equal-mass bins), Brier, reliability table, slope and calibration-in-the-large."""
    if not d.calibrated:
        return {
            "available": False,
            "note": "the log holds no calibrated probabilities; calibration not measured",
        }
    y = d.teacher_pos.astype(float)
    fit = stats.calibration_slope(d.scores, y, d.weights)
    z = stats.z_value(alpha, "lower")
    gap = d.scores - y
    bias = stats.weighted_mean(gap, d.weights)
    bias_se = math.sqrt(
        stats.weighted_mean((gap - bias) ** 2, d.weights)
        / max(stats.effective_sample_size(d.weights), 1.0)
    )
    bias_low, bias_high = stats.clip_interval(bias - z * bias_se, bias + z * bias_se, (-1.0, 1.0))
    out: dict[str, Any] = {
        "available": True,
        "ece": clean(stats.expected_calibration_error(d.scores, y, sample_weight=d.weights)),
        "brier": clean(stats.brier_score(d.scores, y, d.weights)),
        "overconfidence": clean(stats.overconfidence(d.scores, y, sample_weight=d.weights)),
        "slope": {
            "estimate": clean(fit.slope),
            "low": clean(fit.slope - z * fit.slope_se),
            "high": clean(fit.slope + z * fit.slope_se),
            "se": clean(fit.slope_se),
            "intercept": clean(fit.intercept),
        },
        "bias": {
            "estimate": clean(bias),
            "low": clean(bias_low),
            "high": clean(bias_high),
            "se": clean(bias_se),
        },
        "reliability": [
            {
                "bin": r.index,
                "low": r.low,
                "high": r.high,
                "n": r.n,
                "mean_p": r.mean_p,
                "observed": r.observed,
                "gap": r.gap,
            }
            for r in stats.reliability_table(d.scores, y, sample_weight=d.weights)
        ],
    }
    if reference is not None:
        out["reference"] = {
            "ece": reference.ece,
            "brier": reference.brier,
            "slope": reference.calibration_slope,
        }
    return out


def score_drift_section(population: Sequence[float], reference: Reference) -> dict[str, Any]:
    """PSI over 10 reference-quantile bins, Wasserstein-1, and histograms for the plot."""
    cur = np.asarray(population, dtype=float)
    ref = np.asarray(reference.scores, dtype=float)
    if len(cur) == 0:
        return {"population": 0, "psi": None, "wasserstein": None}
    edges = estimators.quantile_edges(ref, 10)
    lo = float(min(ref.min(), cur.min()))
    hi = float(max(ref.max(), cur.max()))
    hist_edges = np.linspace(lo, hi if hi > lo else lo + 1.0, HISTOGRAM_BINS + 1)
    return {
        "population": len(cur),
        "reference_n": len(ref),
        "psi": estimators.population_stability_index(ref, cur),
        "wasserstein": estimators.wasserstein1(ref, cur),
        "mean": {"reference": float(ref.mean()), "current": float(cur.mean())},
        "bins": [
            {
                "upper_edge": clean(float(e)) if k < len(edges) else None,
                "reference": float(r),
                "current": float(c),
            }
            for k, (e, r, c) in enumerate(
                zip(
                    [*edges.tolist(), math.inf],
                    estimators.bin_proportions(ref, edges),
                    estimators.bin_proportions(cur, edges),
                    strict=True,
                )
            )
        ],
        "histogram": {
            "edges": hist_edges.tolist(),
            "reference": (np.histogram(ref, hist_edges)[0] / len(ref)).tolist(),
            "current": (np.histogram(cur, hist_edges)[0] / len(cur)).tolist(),
        },
    }


def threshold_section(
    d: LabelledData,
    *,
    metric: str | None,
    target: float | None,
    alpha: float,
    warn_alpha: float = 0.1,
) -> dict[str, Any]:
    """Does the stored threshold still meet its precision or recall target (one-sided bounds)?"""
    if d.threshold is None or metric is None or target is None:
        return {
            "available": False,
            "note": "no threshold with a precision or recall target is configured",
        }
    check = estimators.threshold_recheck(
        d.scores,
        d.teacher_pos,
        d.threshold,
        metric=metric,  # type: ignore[arg-type]
        target=target,
        sample_weight=d.weights,
        alpha=alpha,
    )
    loose = estimators.threshold_recheck(
        d.scores,
        d.teacher_pos,
        d.threshold,
        metric=metric,  # type: ignore[arg-type]
        target=target,
        sample_weight=d.weights,
        alpha=warn_alpha,
    )
    return {
        "available": True,
        **{k: clean(v) if isinstance(v, float) else v for k, v in check.to_dict().items()},
        "high_warn": clean(loose.high),
    }


def teacher_stability_section(
    anchors: Sequence[Anchor],
    fresh: Mapping[str, Label],
    rubric: Rubric,
    *,
    alpha: float,
    warn_alpha: float = 0.1,
) -> dict[str, Any]:
    """How many anchor labels moved since baseline (exact label; binary view beside it)."""
    if not anchors:
        return {"available": False, "note": "no anchor set yet (made by `drift baseline`)"}
    both = [(a, fresh[a.item_id]) for a in anchors if a.item_id in fresh]
    changed = np.array([a.label != now for a, now in both], dtype=float)
    flipped = np.array(
        [rubric.is_positive(a.label) != rubric.is_positive(now) for a, now in both], dtype=float
    )
    out: dict[str, Any] = {
        "available": True,
        "anchors": len(anchors),
        "labelled": len(both),
        "changed": int(changed.sum()),
        "change_rate": _rate(stats.weighted_rate(changed, alpha=2 * alpha)),
        "change_lower": clean(stats.weighted_rate(changed, alpha=alpha, sided="lower").low),
        "change_lower_warn": clean(
            stats.weighted_rate(changed, alpha=warn_alpha, sided="lower").low
        ),
        "binary_flip_rate": clean(float(flipped.mean())) if len(both) else None,
    }
    if both and rubric.graded:
        out["kappa_quadratic"] = clean(
            stats.cohen_kappa(
                [a.label for a, _ in both],
                [now for _, now in both],
                labels=rubric.labels,
                weighting="quadratic",
            )
        )
    return out


def segments_section(
    d: LabelledData,
    *,
    alpha: float,
    reference: Reference | None,
    tolerance: float,
    min_n: int = 20,
    max_segments: int = 20,
) -> list[dict[str, Any]]:
    """Agreement per user tag (``key=value``); flagged when clearly below the reference.

    The flag uses a Bonferroni-corrected bound (alpha / segments) because many segments are
    looked at at once.
    """
    groups: dict[str, list[int]] = {}
    for i, it in enumerate(d.items):
        for k, v in it.entry.tags.items():
            groups.setdefault(f"{k}={v}", []).append(i)
    chosen = sorted((g for g in groups.items() if len(g[1]) >= min_n), key=lambda g: -len(g[1]))
    chosen = chosen[:max_segments]
    agree = (d.student_pos == d.teacher_pos).astype(float)
    out = []
    for name, idx in chosen:
        sel = np.array(idx)
        r = stats.weighted_rate(agree[sel], d.weights[sel], alpha=2 * alpha)
        upper = stats.weighted_rate(
            agree[sel], d.weights[sel], alpha=alpha / len(chosen), sided="upper"
        ).high
        limit = None if reference is None else reference.agreement - tolerance
        out.append(
            {"segment": name, **_rate(r), "flagged": bool(limit is not None and upper < limit)}
        )
    return out


def ppi_section(
    population: Sequence[LogEntry], d: LabelledData, rubric: Rubric, *, alpha: float
) -> dict[str, Any]:
    """Prediction-powered estimates over all logged traffic (needs calibrated probabilities)."""
    if not d.calibrated or not d.n or any(e.probability is None for e in population):
        return {"available": False, "note": "needs calibrated probabilities on every log entry"}
    p_all = np.array([e.student_score for e in population], dtype=float)
    pos_all = np.array([student_positive(e, rubric, d.threshold) for e in population])
    agree_pred_all = np.where(pos_all, p_all, 1 - p_all)
    agree_pred = np.where(d.student_pos, d.scores, 1 - d.scores)
    agree = (d.student_pos == d.teacher_pos).astype(float)
    tp = estimators.ppi_mean(
        p_all, d.scores, d.teacher_pos.astype(float), d.weights, alpha=2 * alpha, bounds=RATE
    )
    ag = estimators.ppi_mean(
        agree_pred_all, agree_pred, agree, d.weights, alpha=2 * alpha, bounds=RATE
    )
    return {
        "available": True,
        "teacher_positive_rate": {
            k: clean(v) if isinstance(v, float) else v for k, v in tp.to_dict().items()
        },
        "agreement": {k: clean(v) if isinstance(v, float) else v for k, v in ag.to_dict().items()},
    }


def disagreements_section(d: LabelledData, limit: int = 10) -> list[dict[str, Any]]:
    """The sampled pairs where the student was most sure and the teacher said otherwise."""
    rows = []
    for i, it in enumerate(d.items):
        if d.student_pos[i] == d.teacher_pos[i]:
            continue
        centre = 0.5 if d.calibrated or d.threshold is None else d.threshold
        rows.append((abs(float(d.scores[i]) - centre), i, it))
    rows.sort(key=lambda r: (-r[0], r[2].entry.item_id))
    return [
        {
            "item_id": it.entry.item_id,
            "inputs": {
                k: v[:MAX_TEXT] + ("…" if len(v) > MAX_TEXT else "")
                for k, v in it.entry.inputs.items()
            },
            "student_score": float(d.scores[i]),
            "decision": it.entry.decision,
            "teacher_label": d.teacher[i],
            "stratum": it.stratum,
            "tags": dict(it.entry.tags),
        }
        for _, i, it in rows[:limit]
    ]
