"""The drift run's configuration: plain dataclasses loaded from YAML with ``safe_load``.

Unknown keys are an error that lists the valid ones; every bound is checked up front so that a bad
config fails before any teacher call is paid for. Relative paths are taken from the working
directory (run it from the repository root, as the cron line in ``docs/drift.md`` does).

Example:
    >>> cfg = DriftConfig.from_dict({"teacher": "openai:gpt-4o", "budget": 400})
    >>> cfg.sample_size, cfg.gates.alpha, cfg.anchors_path
    (300, 0.01, 'drift/anchors.json')
    >>> DriftConfig.from_dict({"teacher": "x", "budget": 0})
    Traceback (most recent call last):
    ...
    judgecache.errors.ConfigError: budget must be >= 1 teacher call, got 0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from judgecache.errors import ConfigError

THRESHOLD_METRICS = ("precision", "recall")


def _check_keys(data: Mapping[str, Any], cls: type, where: str) -> None:
    valid = sorted(f.name for f in fields(cls))
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {valid}")


def _check_types(obj: object) -> None:
    # YAML gives strings for quoted numbers; say which field rather than fail on a comparison.
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        want = str(f.type)
        if value is None or f.name in ("gates", "teacher_options"):
            continue
        if "float" in want and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{f.name} must be a number, got {value!r}")
        if want.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{f.name} must be an integer, got {value!r}")
        if want.startswith("str") and not isinstance(value, str):
            raise ConfigError(f"{f.name} must be a string, got {value!r}")


@dataclass(frozen=True)
class GateConfig:
    """Where each gate warns and fails. ``alpha`` is the per-gate error rate of a one-sided bound.

    A gate fails when its bound at ``alpha`` clears the limit and warns when only the looser bound
    at ``warn_alpha`` does (a point estimate alone never warns: it would cry wolf weekly).

    At ``alpha = 0.01`` a weekly run raises about one false alarm in one to two years; tolerances
    make the real rate lower still, because the bound must clear the reference minus a margin.
    """

    alpha: float = 0.01
    warn_alpha: float = 0.1
    min_labels: int = 100
    agreement_tolerance: float = 0.05
    psi_warn: float = 0.1
    psi_fail: float = 0.25
    psi_min_population: int = 500
    slope_min: float = 0.7
    slope_max: float = 1.5
    bias_tolerance: float = 0.1
    anchor_max_change: float = 0.1
    min_anchor_labels: int = 50
    threshold_metric: str | None = None
    threshold_target: float | None = None

    def __post_init__(self) -> None:
        _check_types(self)
        if not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"gates.alpha must be in (0, 0.5), got {self.alpha}")
        if not self.alpha < self.warn_alpha < 0.5:
            raise ConfigError(
                f"gates need alpha < warn_alpha < 0.5, got {self.alpha}, {self.warn_alpha}"
            )
        if self.min_labels < 1 or self.min_anchor_labels < 1:
            raise ConfigError("gates.min_labels and gates.min_anchor_labels must be >= 1")
        if not 0.0 <= self.psi_warn <= self.psi_fail:
            raise ConfigError(
                f"gates need 0 <= psi_warn <= psi_fail, got {self.psi_warn}, {self.psi_fail}"
            )
        if not 0.0 < self.slope_min < 1.0 < self.slope_max:
            raise ConfigError(
                f"gates need 0 < slope_min < 1 < slope_max, got {self.slope_min}, {self.slope_max}"
            )
        for name in ("agreement_tolerance", "bias_tolerance", "anchor_max_change"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"gates.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.threshold_metric not in (None, *THRESHOLD_METRICS):
            raise ConfigError(
                f"gates.threshold_metric must be one of {list(THRESHOLD_METRICS)}, "
                f"got {self.threshold_metric!r}"
            )
        if self.threshold_target is not None and not 0.0 < self.threshold_target < 1.0:
            raise ConfigError(
                f"gates.threshold_target must be in (0, 1), got {self.threshold_target}"
            )


@dataclass(frozen=True)
class DriftConfig:
    """One scheduled drift check: which log, which teacher, how many labels, which gates.

    ``cascade`` (optional) points at the cascade's band, ``cascade.json`` or the student directory
    holding it: the report's cascade-health section then checks the band against its target.
    """

    teacher: str
    task: str = "relevance"
    cache: str | None = None
    log: str | None = None
    log_namespace: str = "prodlog"
    student: str | None = None
    cascade: str | None = None
    reference: str = "drift/reference.json"
    anchors: str | None = None
    report_dir: str = "drift-reports"
    period: str = "last-7d"
    budget: int = 400
    sample_size: int = 300
    anchor_count: int = 100
    strata: int = 5
    threshold: float | None = None
    threshold_band: float = 0.1
    oversample: float = 3.0
    bootstrap: int = 1000
    seed: int = 0
    concurrency: int = 8
    teacher_options: Mapping[str, Any] = field(default_factory=dict)
    gates: GateConfig = field(default_factory=GateConfig)

    def __post_init__(self) -> None:
        _check_types(self)
        if not isinstance(self.teacher, str) or not self.teacher:
            raise ConfigError("teacher must be a teacher spec such as 'openai:gpt-4o'")
        if self.budget < 1:
            raise ConfigError(f"budget must be >= 1 teacher call, got {self.budget}")
        if self.sample_size < 1:
            raise ConfigError(f"sample_size must be >= 1, got {self.sample_size}")
        if not 0 <= self.anchor_count <= 1000:
            raise ConfigError(f"anchor_count must be in [0, 1000], got {self.anchor_count}")
        if self.strata < 1:
            raise ConfigError(f"strata must be >= 1, got {self.strata}")
        if self.oversample < 1.0:
            raise ConfigError(f"oversample must be >= 1, got {self.oversample}")
        if self.threshold_band < 0.0:
            raise ConfigError(f"threshold_band must be >= 0, got {self.threshold_band}")
        if self.bootstrap < 0 or self.concurrency < 1:
            raise ConfigError("bootstrap must be >= 0 and concurrency >= 1")
        if self.cascade is not None and not self.cascade.strip():
            raise ConfigError("cascade must be a path to cascade.json or the student directory")

    @property
    def anchors_path(self) -> str:
        """Where the anchor set lives (default: beside the reference)."""
        return self.anchors or str(Path(self.reference).with_name("anchors.json"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "drift config") -> DriftConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping of settings")
        _check_keys(data, cls, where)
        values = dict(data)
        gates = values.pop("gates", None) or {}
        if not isinstance(gates, Mapping):
            raise ConfigError(f"{where}: gates must be a mapping")
        _check_keys(gates, GateConfig, f"{where}: gates")
        if "teacher" not in values:
            raise ConfigError(f"{where}: missing the required key 'teacher'")
        try:
            return cls(**values, gates=GateConfig(**gates))
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> DriftConfig:
        """Read a YAML config file."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read drift config {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        return cls.from_dict(data or {}, where=str(path))

    def with_overrides(self, **changes: Any) -> DriftConfig:
        """A copy with CLI overrides applied (``None`` values are ignored)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({k: v for k, v in changes.items() if v is not None})
        return DriftConfig(**values)
