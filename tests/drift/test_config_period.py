"""Config loading (unknown keys, bounds, types) and period parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from judgecache.drift.config import DriftConfig
from judgecache.drift.period import Period
from judgecache.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_weekly_config_loads() -> None:
    cfg = DriftConfig.load(ROOT / "configs" / "drift" / "weekly.yaml")
    assert cfg.budget <= 400 and 100 <= cfg.anchor_count <= 200
    assert cfg.gates.alpha == 0.01 and cfg.period == "previous-week"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"teacher": "x", "budget": 0}, "budget must be >= 1 teacher call, got 0"),
        ({"teacher": "x", "colour": 1}, r"unknown keys \['colour'\]; valid keys: \['anchor_count'"),
        ({"teacher": "x", "gates": {"alpa": 0.01}}, r"gates: unknown keys \['alpa'\]"),
        ({"teacher": "x", "gates": {"alpha": 0.7}}, r"alpha must be in \(0, 0.5\)"),
        ({"teacher": "x", "gates": {"psi_warn": 0.3, "psi_fail": 0.2}}, "psi_warn <= psi_fail"),
        ({"teacher": "x", "sample_size": "300"}, "sample_size must be an integer, got '300'"),
        ({"teacher": "x", "gates": {"threshold_metric": "f1"}}, r"\['precision', 'recall'\]"),
        ({"budget": 3}, "missing the required key 'teacher'"),
        ({"teacher": "x", "anchor_count": 5000}, r"anchor_count must be in \[0, 1000\]"),
    ],
)
def test_bad_configs_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DriftConfig.from_dict(data)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read drift config"):
        DriftConfig.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("teacher: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        DriftConfig.load(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text("teacher: openai:gpt-4o\nbudget: 50\n")
    cfg = DriftConfig.load(ok).with_overrides(budget=None, period="2025-W03")
    assert (cfg.budget, cfg.period) == (50, "2025-W03")


def test_periods() -> None:
    now = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)  # a Wednesday in 2025-W03
    week = Period.parse("2025-W03")
    assert (week.start, week.end) == (
        datetime(2025, 1, 13, tzinfo=UTC),
        datetime(2025, 1, 20, tzinfo=UTC),
    )
    assert Period.parse("previous-week", now=now).label == "2025-W02"
    last = Period.parse("last-7d", now=now)
    assert last.label == "2025-01-09..2025-01-16"  # today included, same label all day
    assert last.label == Period.parse("last-7d", now=now.replace(hour=23)).label
    assert Period.parse("all").days() is None
    assert Period.parse("2025-01-01..2025-01-03").days() == {"2025-01-01", "2025-01-02"}
    for bad, msg in [
        ("2025-W60", "2025-W60"),
        ("2025-01-05..2025-01-01", "after the start"),
        ("yesterday", "expected 'all'"),
        ("last-0d", "at least one day"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            Period.parse(bad, now=now)
