"""One pure statistics core: agreement, kappa, calibration, rate intervals and the bootstrap.

Used by distillation, the drift checker and the cascade. Needs numpy and scipy only (core deps).
``sample_weight`` is always one weight per item; ``weighting`` is kappa's distance weighting.

Example:
    >>> from judgecache.stats import cohen_kappa, wilson_interval
    >>> cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0])
    0.5
    >>> tuple(round(x, 3) for x in wilson_interval(9, 10))
    (0.596, 0.982)
"""

from __future__ import annotations

from judgecache.stats.agreement import (
    agreement,
    balanced_accuracy,
    cohen_kappa,
    confusion_matrix,
    kappa_from_codes,
    label_codes,
    roc_auc,
    spearman,
    tpr_tnr,
)
from judgecache.stats.bootstrap import (
    bootstrap_ci,
    bootstrap_interval,
    format_ci,
    paired_difference,
    with_ci,
)
from judgecache.stats.calibration import (
    CalibrationSlope,
    ReliabilityBin,
    brier_score,
    calibration_slope,
    equal_mass_bins,
    expected_calibration_error,
    overconfidence,
    reliability_table,
)
from judgecache.stats.intervals import (
    RateEstimate,
    clip_interval,
    clopper_pearson_lower,
    clopper_pearson_upper,
    clopper_pearson_uppers,
    effective_sample_size,
    weighted_mean,
    weighted_rate,
    wilson_interval,
    z_value,
)

__all__ = [
    "CalibrationSlope",
    "RateEstimate",
    "ReliabilityBin",
    "agreement",
    "balanced_accuracy",
    "bootstrap_ci",
    "bootstrap_interval",
    "brier_score",
    "calibration_slope",
    "clip_interval",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "clopper_pearson_uppers",
    "cohen_kappa",
    "confusion_matrix",
    "effective_sample_size",
    "equal_mass_bins",
    "expected_calibration_error",
    "format_ci",
    "kappa_from_codes",
    "label_codes",
    "overconfidence",
    "paired_difference",
    "reliability_table",
    "roc_auc",
    "spearman",
    "tpr_tnr",
    "weighted_mean",
    "weighted_rate",
    "wilson_interval",
    "with_ci",
    "z_value",
]
