"""The history of drift runs: one JSON report per run in ``REPORT_DIR/runs/``, plus ``latest.json``.

Plain files (no database) so a scheduled CI job can keep the directory as an artifact or commit it;
the agreement trend in the report is read back from here.

Example:
    >>> import tempfile
    >>> h = RunHistory(tempfile.mkdtemp())
    >>> h.runs(), h.trend("student:m", "openai:gpt-4o")
    ([], [])
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from judgecache.drift.report_json import TREND_NUMBERS, dumps, load_report, number
from judgecache.errors import ConfigError

TREND_LIMIT = 52


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


class RunHistory:
    """Saved reports of past runs, oldest first."""

    def __init__(self, report_dir: str | Path) -> None:
        self.root = Path(report_dir)
        self.runs_dir = self.root / "runs"

    def save(self, report: dict[str, Any]) -> Path:
        """Write the report as a new run file and as ``latest.json``; return the run file."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = re.sub(r"[^0-9A-Za-z]", "", str(_get(report, "run", "created_at") or ""))
        period = re.sub(r"[^0-9A-Za-z.-]", "_", str(_get(report, "run", "period", "label")))
        path = self.runs_dir / f"{stamp}_{period}.json"
        n = 1
        while path.exists():  # two runs in the same second keep both files
            n += 1
            path = self.runs_dir / f"{stamp}_{period}_{n}.json"
        text = dumps(report) + "\n"
        path.write_text(text, encoding="utf-8")
        (self.root / "latest.json").write_text(text, encoding="utf-8")
        return path

    def runs(self) -> list[Path]:
        """Run files, oldest first (names start with the creation time)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(self.runs_dir.glob("*.json"))

    def latest(self) -> dict[str, Any]:
        """The most recent report."""
        path = self.root / "latest.json"
        if not path.exists():
            raise ConfigError(
                f"no drift report in {self.root}: run `judgecache drift run --config ...` first"
            )
        return load_report(path)

    @staticmethod
    def summary_row(report: dict[str, Any]) -> dict[str, Any]:
        """The numbers a trend plot needs from one report."""
        agreement = _get(report, "sections", "agreement", "agreement") or {}
        # A cascade's route counts for this period: the escalation-rate trend is read back from here.
        periods = _get(report, "sections", "cascade_health", "escalation", "periods")
        routes = periods[-1] if isinstance(periods, list) and periods else None
        row = {
            "period": _get(report, "run", "period", "label"),
            "created_at": _get(report, "run", "created_at"),
            "status": _get(report, "verdict", "status"),
            "n_labelled": _get(report, "sections", "agreement", "n_labelled"),
            "agreement": agreement.get("estimate"),
            "agreement_low": agreement.get("low"),
            "agreement_high": agreement.get("high"),
            "kappa": _get(report, "sections", "agreement", "kappa", "estimate"),
            "psi": _get(report, "sections", "score_drift", "psi"),
            "ece": _get(report, "sections", "calibration", "ece"),
            "anchor_change_rate": _get(
                report, "sections", "teacher_stability", "change_rate", "estimate"
            ),
            "escalation_rate": _get(routes, "escalation_rate"),
            "kept_disagreement": _get(
                report, "sections", "cascade_health", "kept_disagreement", "estimate"
            ),
            "routes": routes,
        }
        # A past run file may be hand-edited: a value that is not a number is left out, never
        # carried into the next report's trend.
        return {k: number(v) if k in TREND_NUMBERS else v for k, v in row.items()}

    def trend(self, student: str, teacher: str, limit: int = TREND_LIMIT) -> list[dict[str, Any]]:
        """Summary rows of past runs of this student and teacher (unreadable files are skipped)."""
        rows = []
        for path in self.runs():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if _get(doc, "run", "student") == student and _get(doc, "run", "teacher") == teacher:
                rows.append(self.summary_row(doc))
        return rows[-limit:]
