"""The report document: one JSON object, the single source of truth that every renderer reads.

Layout (``schema: judgecache.drift.report/1``): ``run`` (period, student, teacher, settings),
``verdict`` (status, reasons, gates), ``budget``, ``sample``, ``sections`` (one object per
measurement, keyed by name) and ``trend`` (one summary row per past run of the same student and
teacher). New sections (the cascade health of issue 5, say) are added under ``sections``; a
renderer that does not know a section shows it generically, so old renderers keep working.

Example:
    >>> r = new_report(run={"period": {"label": "2025-W02"}}, verdict={"status": "pass",
    ...                "reasons": [], "gates": []}, budget={}, sample={}, sections={})
    >>> validate_report(loads(dumps(r)))["verdict"]["status"]
    'pass'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from judgecache.errors import ConfigError

REPORT_SCHEMA = "judgecache.drift.report/1"
STATUSES = ("pass", "warn", "fail", "inconclusive")
REQUIRED = ("schema", "run", "verdict", "budget", "sample", "sections", "trend")
# The trend row fields that must be numbers (or null): the trend plot draws them.
TREND_NUMBERS = (
    "n_labelled",
    "agreement",
    "agreement_low",
    "agreement_high",
    "kappa",
    "psi",
    "ece",
    "anchor_change_rate",
    "escalation_rate",
    "kept_disagreement",
)


def number(value: Any) -> float | int | None:
    """``value`` when it is a finite number (not a bool), else ``None``.

    >>> number(0.5), number("0.5"), number(True), number(float("nan"))
    (0.5, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _check_trend(trend: list[Any], where: str) -> None:
    for i, row in enumerate(trend):
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: trend[{i}] must be an object, got {type(row).__name__}")
        for key in TREND_NUMBERS:
            value = row.get(key)
            if value is not None and number(value) is None:
                raise ConfigError(
                    f"{where}: trend[{i}].{key} must be a number or null, got {value!r:.60}"
                )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def new_report(
    *,
    run: Mapping[str, Any],
    verdict: Mapping[str, Any],
    budget: Mapping[str, Any],
    sample: Mapping[str, Any],
    sections: Mapping[str, Any],
) -> dict[str, Any]:
    """Assemble a report document (NaN and infinities become ``null``)."""
    doc = {
        "schema": REPORT_SCHEMA,
        "run": dict(run),
        "verdict": dict(verdict),
        "budget": dict(budget),
        "sample": dict(sample),
        "sections": dict(sections),
        "trend": [],
    }
    return _json_safe(doc)  # type: ignore[no-any-return]


def validate_report(doc: Any, where: str = "report") -> dict[str, Any]:
    """Check the document's shape; a clear error names what is wrong."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: a drift report must be a JSON object")
    if doc.get("schema") != REPORT_SCHEMA:
        raise ConfigError(
            f"{where}: not a drift report (schema {doc.get('schema')!r}, "
            f"expected {REPORT_SCHEMA!r})"
        )
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise ConfigError(f"{where}: missing keys {missing}")
    status = doc["verdict"].get("status") if isinstance(doc["verdict"], dict) else None
    if status not in STATUSES:
        raise ConfigError(f"{where}: verdict.status {status!r} not in {list(STATUSES)}")
    if not isinstance(doc["sections"], dict) or not isinstance(doc["trend"], list):
        raise ConfigError(f"{where}: sections must be an object and trend a list")
    _check_trend(doc["trend"], where)
    return doc


def dumps(doc: Mapping[str, Any]) -> str:
    """Pretty, stable JSON (sorted keys, UTF-8 kept, NaN refused)."""
    return json.dumps(
        _json_safe(doc), ensure_ascii=False, allow_nan=False, indent=2, sort_keys=True
    )


def loads(text: str, where: str = "report") -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON: {exc}") from exc
    return validate_report(doc, where)


def load_report(path: str | Path) -> dict[str, Any]:
    """Read and validate a saved report."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read report {path}: {exc.strerror or exc}") from exc
    return loads(text, str(path))
