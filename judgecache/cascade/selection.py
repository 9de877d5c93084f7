"""Choose the band from a target, not by feel, and keep the evidence with it.

Two targets:

* :func:`band_for_disagreement` -- "disagreement with the teacher <= ``alpha`` with confidence
  ``confidence``" on the kept pairs (``scope="kept"``) or over all pairs (``scope="all"``, where an
  escalated pair agrees with the teacher by construction). Bands with fewer than ``min_kept`` kept
  calibration pairs are never certified; the others are judged by a one-sided Clopper-Pearson
  upper bound. Scanning many bands and keeping the best would overstate the confidence, so the
  ``correction`` says how the many looks are paid for:

  - ``"bonferroni"`` (default): every candidate band is tested at ``1 - (1 - confidence) / m`` for
    the ``m`` bands checked; the passing band with the least escalation wins.
  - ``"fixed_sequence"``: the bands lie on one nested path ordered without the labels, each is
    tested at the full level and the walk stops at the first failure; the last band that passed
    wins (:mod:`judgecache.cascade.sequence` says why that is valid). No multiplicity price, but
    only the bands on the path are candidates, and the path trusts the student's calibration:
    tighter for a well-calibrated student (simulation), looser than the Bonferroni scan on the
    TREC DL benchmark, whose student is miscalibrated on the calibration pool
    (docs/benchmarks.md).
  - ``"none"``: as bonferroni without the correction -- the bound is then optimistic (a
    diagnostic, not a guarantee).

  When no band passes, :class:`NoQualifyingBandError` says how close the best one came.
* :func:`band_for_budget` -- "escalate at most ``max_escalation`` of traffic": the band with the
  least kept disagreement within that budget, its expected disagreement and bound reported.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=4000)
    >>> teacher = rng.uniform(size=4000) < p          # a calibrated student
    >>> sel = band_for_disagreement(p, p >= 0.5, teacher, alpha=0.2)
    >>> sel.meets_target, sel.kept_disagreement_upper <= 0.2, 0.0 < sel.escalation_rate < 0.5
    (True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from judgecache.cascade.band import Band
from judgecache.cascade.scan import BandTable, CalibrationData, scan_data
from judgecache.cascade.sequence import SequenceRun, escalation_path, fixed_sequence
from judgecache.envelope import utc_now_iso
from judgecache.errors import ConfigError, InsufficientDataError
from judgecache.stats import clopper_pearson_uppers

Scope = Literal["kept", "all"]
Correction = Literal["fixed_sequence", "bonferroni", "none"]
BudgetCorrection = Literal["bonferroni", "none"]
SCOPES = ("kept", "all")
CORRECTIONS = ("fixed_sequence", "bonferroni", "none")
BUDGET_CORRECTIONS = ("bonferroni", "none")
# A target that does not name its correction predates fixed_sequence: it used Bonferroni.
LEGACY_CORRECTION = "bonferroni"


class NoQualifyingBandError(InsufficientDataError):
    """No candidate band meets the disagreement target on this calibration data."""


@dataclass(frozen=True)
class BandSelection:
    """A chosen band and everything behind it (saved as ``cascade.json`` beside the student).

    ``kept_disagreement`` is the rate among kept calibration pairs; ``disagreement_upper`` is the
    one-sided bound on the targeted rate (kept pairs, or all pairs for ``scope="all"``) at
    ``target["confidence"]``: Bonferroni-corrected over the ``candidates_checked`` bands, or at the
    full level for ``fixed_sequence`` (valid through the fixed order; ``candidates_checked`` is then
    the number of bands tested before the walk stopped, and ``sequence`` records the path length
    and where it stopped). ``overall_agreement`` is the expected agreement with the teacher over
    all pairs (escalated pairs take its label).
    """

    band: Band
    target: dict[str, Any]
    n: int
    escalated: int
    kept: int
    kept_disagreements: int
    disagreement_upper: float
    candidates_checked: int
    meets_target: bool
    data: dict[str, Any] = field(default_factory=dict)
    frontier: list[dict[str, float]] = field(default_factory=list)
    sequence: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now_iso)

    @property
    def correction(self) -> str:
        """How the bound paid for the bands looked at (``"bonferroni"`` when the target is silent)."""
        return str(self.target.get("correction", LEGACY_CORRECTION))

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.n

    @property
    def kept_disagreement(self) -> float:
        return self.kept_disagreements / self.kept if self.kept else math.nan

    @property
    def kept_disagreement_upper(self) -> float:
        """The bound on the kept-pair rate (equals ``disagreement_upper`` for ``scope="kept"``)."""
        if self.target.get("scope", "kept") == "kept":
            return self.disagreement_upper
        return min(1.0, self.disagreement_upper * self.n / self.kept) if self.kept else 1.0

    @property
    def overall_agreement(self) -> float:
        return 1.0 - self.kept_disagreements / self.n

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band"] = self.band.to_dict()
        d["summary"] = {
            "escalation_rate": self.escalation_rate,
            "kept_disagreement": None if not self.kept else self.kept_disagreement,
            "kept_disagreement_upper": self.kept_disagreement_upper,
            "overall_agreement": self.overall_agreement,
        }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "cascade.json") -> BandSelection:
        """Rebuild from :meth:`to_dict` output (``summary`` is derived and ignored)."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a JSON object")
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - names - {"summary", "format"})
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {sorted(names)}")
        required = ("band", "target", "n", "escalated", "kept", "kept_disagreements")
        missing = [k for k in required if k not in d]
        if missing:
            raise ConfigError(f"{where}: missing keys {missing}")
        try:
            return cls(
                band=Band.from_dict(d["band"], f"{where}: band"),
                target=dict(d["target"]),
                n=int(d["n"]),
                escalated=int(d["escalated"]),
                kept=int(d["kept"]),
                kept_disagreements=int(d["kept_disagreements"]),
                disagreement_upper=float(d.get("disagreement_upper", 1.0)),
                candidates_checked=int(d.get("candidates_checked", 0)),
                meets_target=bool(d.get("meets_target", False)),
                data=dict(d.get("data") or {}),
                frontier=[dict(x) for x in d.get("frontier") or []],
                sequence=dict(d.get("sequence") or {}),
                created_at=str(d.get("created_at", "")),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed band selection: {exc}") from exc


def _check_common(
    confidence: float, correction: str, grid: int, allowed: tuple[str, ...] = CORRECTIONS
) -> None:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if correction not in allowed:
        raise ConfigError(f"correction {correction!r} not in {list(allowed)}")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise ConfigError(f"grid must be an integer >= 1, got {grid!r}")


def _per_band_confidence(confidence: float, checked: int, correction: str) -> float:
    if correction == "none" or checked <= 1:
        return confidence
    return 1.0 - (1.0 - confidence) / checked


def _summary(data: CalibrationData, source: Mapping[str, Any] | None) -> dict[str, Any]:
    q = np.quantile(data.probs, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    return {
        "n": data.n,
        "teacher_positive_rate": float(np.mean(data.teacher_positive)),
        "student_positive_rate": float(np.mean(data.student_positive)),
        "student_agreement": float(np.mean(~data.disagree)),
        "prob_quantiles": {
            k: round(float(v), 6)
            for k, v in zip(("min", "p10", "p25", "p50", "p75", "p90", "max"), q, strict=True)
        },
        **({"source": dict(source)} if source else {}),
    }


def _frontier(table: BandTable, steps: int = 20) -> list[dict[str, float]]:
    """The least kept disagreement reachable at each escalation budget (for plots and docs)."""
    out = []
    rate = table.escalation_rate
    dis = table.kept_disagreement
    for k in range(steps + 1):
        budget = k / steps
        ok = (rate <= budget + 1e-12) & (table.kept > 0)
        if not np.any(ok):
            continue
        i = int(np.flatnonzero(ok)[np.nanargmin(dis[ok])])
        out.append(
            {
                "max_escalation": budget,
                "escalation_rate": round(float(rate[i]), 6),
                "kept_disagreement": round(float(dis[i]), 6),
                "overall_agreement": round(1.0 - float(table.kept_disagreements[i]) / table.n, 6),
            }
        )
    return out


def _pick(table: BandTable, i: int) -> tuple[Band, int, int, int]:
    band = Band(float(table.lo[i]), float(table.hi[i]))
    return band, int(table.escalated[i]), int(table.kept[i]), int(table.kept_disagreements[i])


@dataclass(frozen=True)
class _Goal:
    """What band_for_disagreement must certify, for its refusals."""

    alpha: float
    confidence: float
    min_kept: int
    scope: str

    def refusal(self, detail: str, n: int, close: str) -> NoQualifyingBandError:
        """The error for "nothing certified": what was tried, then how close it came."""
        return NoQualifyingBandError(
            f"no band meets disagreement <= {self.alpha} on {self.scope} pairs with confidence "
            f"{self.confidence} ({detail}, min_kept={self.min_kept}, n={n}); {close}. Raise "
            "alpha, lower the confidence, or collect more calibration data"
        )


def band_for_disagreement(
    probs: npt.ArrayLike,
    student_positive: npt.ArrayLike,
    teacher_positive: npt.ArrayLike,
    *,
    alpha: float,
    confidence: float = 0.95,
    min_kept: int = 100,
    scope: Scope = "kept",
    correction: Correction = "bonferroni",
    grid: int = 20,
    source: Mapping[str, Any] | None = None,
) -> BandSelection:
    """The least-escalating band certified to disagree at most ``alpha`` (see module doc).

    ``min_kept`` counts kept pairs in both scopes. Raises :class:`NoQualifyingBandError` (saying
    how close the best band came) when no band is certified.
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    if scope not in SCOPES:
        raise ConfigError(f"scope {scope!r} not in {list(SCOPES)}")
    if isinstance(min_kept, bool) or not isinstance(min_kept, int) or min_kept < 1:
        raise ConfigError(f"min_kept must be an integer >= 1, got {min_kept!r}")
    _check_common(confidence, correction, grid)
    data = CalibrationData.build(probs, student_positive, teacher_positive)
    if data.n < min_kept:
        # Every band keeps at most n pairs (the empty band keeps them all).
        raise NoQualifyingBandError(
            f"no band keeps at least min_kept={min_kept} of the {data.n} calibration pairs; "
            "collect more calibration data or lower min_kept"
        )
    table = scan_data(data, grid=grid)
    target = {
        "kind": "disagreement",
        "alpha": alpha,
        "confidence": confidence,
        "min_kept": min_kept,
        "scope": scope,
        "correction": correction,
        "grid": grid,
    }
    goal = _Goal(alpha, confidence, min_kept, scope)
    if correction == "fixed_sequence":
        return _by_fixed_sequence(data, table, goal, target, source)
    return _by_scan(data, table, goal, correction, target, source)


def _by_fixed_sequence(
    data: CalibrationData,
    table: BandTable,
    goal: _Goal,
    target: dict[str, Any],
    source: Mapping[str, Any] | None,
) -> BandSelection:
    path = escalation_path(data.probs, data.student_positive, grid=int(target["grid"]))
    run = fixed_sequence(
        data,
        path,
        alpha=goal.alpha,
        scope=goal.scope,
        confidence=goal.confidence,
        min_kept=goal.min_kept,
    )
    if run.chosen is None:
        # Nothing passed, so the walk stopped at the first band it tested.
        raise _sequence_refusal(run, goal, data.n, first=int(np.flatnonzero(run.tested)[0]))
    stopped = None if run.stop is None else _path_row(run, run.stop)
    sequence = {"path_bands": len(path), "stopped_at": stopped}
    return _selection(
        run.path,
        run.chosen,
        data,
        target,
        upper=float(run.upper[run.chosen]),
        checked=run.checked,
        source=source,
        frontier_table=table,
        sequence=sequence,
    )


def _path_row(run: SequenceRun, i: int) -> dict[str, Any]:
    """One band of the path as recorded in ``cascade.json`` (where the walk stopped)."""
    band = Band(float(run.path.lo[i]), float(run.path.hi[i]))
    return {
        "band": band.to_dict(),
        "escalation_rate": float(run.path.escalation_rate[i]),
        "upper": float(run.upper[i]),
    }


def _sequence_refusal(
    run: SequenceRun, goal: _Goal, n: int, *, first: int
) -> NoQualifyingBandError:
    """The first band tested failed: say by how much, and whether a later band looked better."""
    close = (
        f"the first band tested has bound {run.upper[first]:.4f} at escalation "
        f"{run.path.escalation_rate[first]:.3f}"
    )
    later = np.flatnonzero(run.path.kept >= goal.min_kept)
    later = later[later > first]
    if len(later):
        j = int(later[np.argmin(run.upper[later])])
        if run.upper[j] < run.upper[first]:
            close += (
                f" (a later band on the path bounds {run.upper[j]:.4f} at escalation "
                f"{run.path.escalation_rate[j]:.3f}, but the sequence stopped at its first failure)"
            )
    return goal.refusal(f"fixed sequence along a path of {len(run.tested)} bands", n, close)


def _by_scan(
    data: CalibrationData,
    table: BandTable,
    goal: _Goal,
    correction: str,
    target: dict[str, Any],
    source: Mapping[str, Any] | None,
) -> BandSelection:
    """Bonferroni (or no correction) over every candidate band with enough kept pairs."""
    eligible = np.flatnonzero(table.kept >= goal.min_kept)
    per_band = _per_band_confidence(goal.confidence, len(eligible), correction)
    trials = table.kept[eligible] if goal.scope == "kept" else np.full(len(eligible), data.n)
    upper = clopper_pearson_uppers(table.kept_disagreements[eligible], trials, confidence=per_band)
    passing = np.flatnonzero(upper <= goal.alpha)
    if len(passing) == 0:
        best = int(np.argmin(upper))
        close = (
            f"the best bound is {upper[best]:.4f} at escalation "
            f"{table.escalation_rate[eligible[best]]:.3f}"
        )
        raise goal.refusal(f"{len(eligible)} bands checked", data.n, close)
    width = table.hi[eligible] - table.lo[eligible]
    order = np.lexsort((width[passing], upper[passing], table.escalated[eligible][passing]))
    j = int(passing[order[0]])
    return _selection(
        table,
        int(eligible[j]),
        data,
        target,
        upper=float(upper[j]),
        checked=len(eligible),
        source=source,
    )


def band_for_budget(
    probs: npt.ArrayLike,
    student_positive: npt.ArrayLike,
    teacher_positive: npt.ArrayLike,
    *,
    max_escalation: float,
    confidence: float = 0.95,
    correction: BudgetCorrection = "bonferroni",
    grid: int = 20,
    source: Mapping[str, Any] | None = None,
) -> BandSelection:
    """The band with the least kept disagreement escalating at most ``max_escalation``.

    The reported bound (kept pairs) is Bonferroni-corrected over the bands within the budget
    (``correction="none"``: uncorrected). ``fixed_sequence`` does not apply: the band is picked
    by its labels, not by a walk fixed before them.

    >>> sel = band_for_budget([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1],
    ...                       max_escalation=0.5, grid=4)
    >>> str(sel.band), sel.escalated, sel.kept_disagreements
    ('[0.25, 0.75]', 2, 0)
    """
    if not 0.0 <= max_escalation < 1.0:
        raise ConfigError(f"max_escalation must be in [0, 1), got {max_escalation}")
    _check_common(confidence, correction, grid, BUDGET_CORRECTIONS)
    data = CalibrationData.build(probs, student_positive, teacher_positive)
    table = scan_data(data, grid=grid)
    eligible = np.flatnonzero(
        (table.escalated <= max_escalation * data.n + 1e-9) & (table.kept > 0)
    )
    # The empty band always qualifies (kept == n > 0), so ``eligible`` is never empty.
    per_band = _per_band_confidence(confidence, len(eligible), correction)
    upper = clopper_pearson_uppers(
        table.kept_disagreements[eligible], table.kept[eligible], confidence=per_band
    )
    rate = table.kept_disagreements[eligible] / table.kept[eligible]
    j = int(np.lexsort((table.escalated[eligible], upper, rate))[0])
    target = {
        "kind": "escalation",
        "max_escalation": max_escalation,
        "confidence": confidence,
        "scope": "kept",
        "correction": correction,
        "grid": grid,
    }
    return _selection(
        table,
        int(eligible[j]),
        data,
        target,
        upper=float(upper[j]),
        checked=len(eligible),
        source=source,
    )


def _selection(
    table: BandTable,
    index: int,
    data: CalibrationData,
    target: dict[str, Any],
    *,
    upper: float,
    checked: int,
    source: Mapping[str, Any] | None,
    frontier_table: BandTable | None = None,
    sequence: dict[str, Any] | None = None,
) -> BandSelection:
    """Row ``index`` of ``table`` with its bound and the data behind it.

    The frontier comes from ``frontier_table`` (every scanned band) when ``table`` holds only
    some bands, such as a fixed-sequence path.
    """
    band, escalated, kept, dis = _pick(table, index)
    return BandSelection(
        band=band,
        target=target,
        n=data.n,
        escalated=escalated,
        kept=kept,
        kept_disagreements=dis,
        disagreement_upper=upper,
        candidates_checked=checked,
        meets_target=True,
        data=_summary(data, source),
        frontier=_frontier(table if frontier_table is None else frontier_table),
        sequence=sequence or {},
    )


def kept_target(selection: BandSelection) -> float:
    """The kept-pair disagreement the band promised at calibration.

    ``scope="kept"``: ``alpha``; ``scope="all"``: ``alpha`` spread over the kept share; an
    escalation budget: the calibrated upper bound on kept disagreement.
    """
    target = selection.target
    if target.get("kind") == "disagreement":
        alpha = float(target["alpha"])
        if target.get("scope", "kept") == "all":
            return min(1.0, alpha * selection.n / selection.kept) if selection.kept else 1.0
        return alpha
    return selection.kept_disagreement_upper
