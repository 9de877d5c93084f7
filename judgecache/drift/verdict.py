"""The gates and the run's verdict: pass, warn, fail or inconclusive, reasons first.

Each statistical gate fails only when a one-sided bound at ``alpha`` (default 0.01) clears its limit,
and the limit already sits a tolerance below the reference: a weekly run then raises about one false
alarm in one to two years. It warns when only the looser bound at ``warn_alpha`` (0.1) clears it;
PSI is the exception, gated on its own fixed levels (0.1 warn, 0.25 fail). A gate that cannot be measured for want of labels is *inconclusive*,
never pass; one that does not apply (no calibrated probabilities, no anchor set yet) is *skipped*.
Precedence: fail > inconclusive > warn > pass.

Example:
    >>> g = [Gate("labels", "pass", "300 labels"), Gate("score_drift", "warn", "PSI 0.12")]
    >>> v = decide(g)
    >>> v.status, v.reasons, v.exit_code
    ('warn', ['score_drift: PSI 0.12'], 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from judgecache.drift.config import GateConfig
from judgecache.drift.reference import Reference
from judgecache.stats import z_value

Status = Literal["pass", "warn", "fail", "inconclusive", "skipped"]
EXIT_CODES = {"pass": 0, "warn": 0, "fail": 1, "inconclusive": 2}
_RANK = {"fail": 0, "inconclusive": 1, "warn": 2, "pass": 3, "skipped": 4}


@dataclass(frozen=True)
class Gate:
    """One check's outcome: the value, the bound compared, the limit, and why."""

    name: str
    status: Status
    message: str
    value: float | None = None
    bound: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunVerdict:
    """The overall status, the reasons (worst first) and every gate."""

    status: str
    reasons: list[str]
    gates: list[Gate]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": self.reasons,
            "exit_code": self.exit_code,
            "gates": [g.to_dict() for g in self.gates],
        }


def decide(gates: Sequence[Gate]) -> RunVerdict:
    """Combine gates: any fail fails; else any inconclusive; else any warn; else pass."""
    ranked = sorted(gates, key=lambda g: _RANK[g.status])
    active = [g for g in ranked if g.status != "skipped"]
    status = active[0].status if active else "inconclusive"
    reasons = [
        f"{g.name}: {g.message}" for g in ranked if g.status in ("fail", "inconclusive", "warn")
    ]
    if not active:
        reasons = ["no gate could be evaluated"]
    return RunVerdict(status, reasons, list(gates))


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _outside(est: float, se: float | None, low: float, high: float, alpha: float) -> bool:
    """True when the one-sided bound at ``alpha`` puts ``est`` outside ``[low, high]``."""
    if se is None:
        return False
    z = z_value(alpha, "lower")
    return est + z * se < low or est - z * se > high


def labels_gate(n_labelled: int, n_sampled: int, cfg: GateConfig, why: str = "") -> Gate:
    """Enough teacher labels to judge anything? Too few is inconclusive, never pass."""
    if n_labelled >= cfg.min_labels:
        return Gate(
            "labels",
            "pass",
            f"{n_labelled} of {n_sampled} sampled pairs labelled",
            float(n_labelled),
            None,
            float(cfg.min_labels),
        )
    detail = f" ({why})" if why else ""
    return Gate(
        "labels",
        "inconclusive",
        f"only {n_labelled} of {n_sampled} sampled pairs got a teacher label; "
        f"at least {cfg.min_labels} are needed{detail}",
        float(n_labelled),
        None,
        float(cfg.min_labels),
    )


def agreement_gate(
    section: Mapping[str, Any], ref: Reference, cfg: GateConfig, enough: bool
) -> Gate:
    """Fail (warn) when the upper bound of agreement at alpha (warn_alpha) is below the limit.

    The limit is the reference agreement minus the tolerance.
    """
    limit = ref.agreement - cfg.agreement_tolerance
    est, upper = _f(section["agreement"]["estimate"]), _f(section.get("agreement_upper"))
    upper_warn = _f(section.get("agreement_upper_warn"))
    if not enough or est is None or upper is None:
        return Gate(
            "agreement", "inconclusive", "too few labels to measure agreement", est, upper, limit
        )
    text = (
        f"student-teacher agreement {est:.3f} (upper bound {upper:.3f}) vs reference "
        f"{ref.agreement:.3f} - {cfg.agreement_tolerance:.2f} = {limit:.3f}"
    )
    if upper < limit:
        return Gate("agreement", "fail", "dropped: " + text, est, upper, limit)
    if upper_warn is not None and upper_warn < limit:
        return Gate("agreement", "warn", "probably dropped: " + text, est, upper_warn, limit)
    return Gate("agreement", "pass", text, est, upper, limit)


def calibration_gates(section: Mapping[str, Any], cfg: GateConfig, enough: bool) -> list[Gate]:
    """Slope (over/under-confidence) and calibration-in-the-large (bias) of the probabilities."""
    if not section.get("available"):
        note = str(section.get("note", "not measured"))
        return [
            Gate("calibration_slope", "skipped", note),
            Gate("calibration_bias", "skipped", note),
        ]
    slope = section["slope"]
    est, lo, hi = _f(slope["estimate"]), _f(slope["low"]), _f(slope["high"])
    gates = []
    if not enough or est is None or lo is None or hi is None:
        gates.append(
            Gate(
                "calibration_slope",
                "inconclusive",
                "too few labels (or one class only) to fit the calibration slope",
                est,
            )
        )
    else:
        rng = f"[{cfg.slope_min}, {cfg.slope_max}]"
        text = f"calibration slope {est:.2f} (bounds {lo:.2f}..{hi:.2f}) vs allowed {rng}"
        if hi < cfg.slope_min:
            gates.append(
                Gate("calibration_slope", "fail", "overconfident: " + text, est, hi, cfg.slope_min)
            )
        elif lo > cfg.slope_max:
            gates.append(
                Gate("calibration_slope", "fail", "underconfident: " + text, est, lo, cfg.slope_max)
            )
        elif _outside(est, _f(slope.get("se")), cfg.slope_min, cfg.slope_max, cfg.warn_alpha):
            gates.append(Gate("calibration_slope", "warn", "probably miscalibrated: " + text, est))
        else:
            gates.append(Gate("calibration_slope", "pass", text, est))
    bias = section["bias"]
    b, blo, bhi = _f(bias["estimate"]), _f(bias["low"]), _f(bias["high"])
    tol = cfg.bias_tolerance
    if not enough or b is None or blo is None or bhi is None:
        gates.append(Gate("calibration_bias", "inconclusive", "too few labels", b))
    else:
        text = (
            f"mean probability minus teacher-positive rate {b:+.3f} "
            f"(bounds {blo:+.3f}..{bhi:+.3f}), tolerance ±{tol:.2f}"
        )
        if blo > tol or bhi < -tol:
            gates.append(Gate("calibration_bias", "fail", text, b, blo if b > 0 else bhi, tol))
        elif _outside(b, _f(bias.get("se")), -tol, tol, cfg.warn_alpha):
            gates.append(Gate("calibration_bias", "warn", text, b, None, tol))
        else:
            gates.append(Gate("calibration_bias", "pass", text, b, None, tol))
    return gates


def score_drift_gate(section: Mapping[str, Any], cfg: GateConfig) -> Gate:
    """PSI of the period's student scores against the reference (label-free: all traffic)."""
    psi, n = _f(section.get("psi")), int(section.get("population", 0))
    if psi is None:
        return Gate("score_drift", "skipped", "no logged scores in the period")
    if n < cfg.psi_min_population:
        return Gate(
            "score_drift",
            "skipped",
            f"PSI {psi:.3f} on only {n} logged pairs (< {cfg.psi_min_population}): "
            "too noisy to gate",
            psi,
        )
    text = f"PSI {psi:.3f} over {n} logged pairs (warn {cfg.psi_warn}, fail {cfg.psi_fail})"
    if psi >= cfg.psi_fail:
        return Gate(
            "score_drift", "fail", "score distribution shifted: " + text, psi, None, cfg.psi_fail
        )
    if psi >= cfg.psi_warn:
        return Gate(
            "score_drift", "warn", "score distribution moving: " + text, psi, None, cfg.psi_warn
        )
    return Gate("score_drift", "pass", text, psi, None, cfg.psi_warn)


def threshold_gate(section: Mapping[str, Any], enough: bool) -> Gate:
    """Fail when the upper bound of precision (recall) at the stored threshold misses the target."""
    if not section.get("available"):
        return Gate("threshold", "skipped", str(section.get("note", "not configured")))
    est, target = _f(section["estimate"]), float(section["target"])
    lo, hi = _f(section["low"]), _f(section["high"])
    if not enough or est is None or section["n"] == 0:
        return Gate(
            "threshold", "inconclusive", "too few labels at the threshold", est, None, target
        )
    text = (
        f"{section['metric']} {est:.3f} at threshold {section['threshold']:.3f} "
        f"(bounds {lo:.3f}..{hi:.3f}, n={section['n']}) vs target {target:.3f}"
    )
    if section["status"] == "misses":
        return Gate("threshold", "fail", "target missed: " + text, est, hi, target)
    if _f(section.get("high_warn")) is not None and float(section["high_warn"]) < target:
        return Gate("threshold", "warn", "probably below target: " + text, est, hi, target)
    return Gate("threshold", "pass", text, est, lo, target)


def teacher_gate(section: Mapping[str, Any], cfg: GateConfig) -> Gate:
    """Teacher stability on the anchor set: fail when the lower bound of changes is too high."""
    if not section.get("available"):
        return Gate("teacher_stability", "skipped", str(section.get("note", "no anchors")))
    n = int(section["labelled"])
    rate = _f(section["change_rate"]["estimate"])
    lower = _f(section["change_lower"])
    limit = cfg.anchor_max_change
    if n < cfg.min_anchor_labels or rate is None or lower is None:
        return Gate(
            "teacher_stability",
            "inconclusive",
            f"only {n} of {section['anchors']} anchors re-judged "
            f"(at least {cfg.min_anchor_labels} needed)",
            rate,
            lower,
            limit,
        )
    text = (
        f"{section['changed']} of {n} anchor labels changed since baseline "
        f"({rate:.3f}, lower bound {lower:.3f}; allowed {limit:.2f})"
    )
    if lower > limit:
        return Gate(
            "teacher_stability",
            "fail",
            "the teacher changed (teacher drift, not student drift): " + text,
            rate,
            lower,
            limit,
        )
    if (
        _f(section.get("change_lower_warn")) is not None
        and float(section["change_lower_warn"]) > limit
    ):
        return Gate(
            "teacher_stability", "warn", "the teacher may have changed: " + text, rate, lower, limit
        )
    return Gate("teacher_stability", "pass", text, rate, lower, limit)


def cascade_gate(section: Mapping[str, Any]) -> Gate:
    """The cascade health section as a gate; a fired saturation signal fails the run.

    The status is the section's own (see :mod:`judgecache.drift.cascade_health`): fail when the kept
    disagreement's lower bound is above the band's target, whatever the escalation rate does;
    inconclusive when the kept labels cannot certify the target either way.
    """
    kept = section.get("kept_disagreement") or {}
    est, target = _f(kept.get("estimate")), _f(kept.get("target"))
    status = str(section.get("status", "inconclusive"))
    bound = _f(kept.get("lower" if status == "fail" else "upper"))
    reasons = [str(r) for r in section.get("reasons", [])]
    if reasons:
        message = "; ".join(reasons)
    elif status == "skipped":
        message = str(section.get("note", "no band target known"))
    elif est is not None and bound is not None and target is not None:
        message = (
            f"kept disagreement {est:.3f} (upper bound {bound:.3f}) within the band's target "
            f"{target:.3f}"
        )
    else:
        message = f"cascade health {status}"
    return Gate(
        "cascade_health",
        status if status in _RANK else "inconclusive",  # type: ignore[arg-type]
        message,
        est,
        bound,
        target,
    )
