"""``judgecache drift run|baseline|import`` and ``judgecache report``: exit codes and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from console import judgecache
from drift_world import World, week_label

from judgecache.drift.log import ProductionLog


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A replay teacher file, a diskcache production log with weeks 0-2, and a config."""
    weeks = {0: World(seed=0), 1: World(seed=1), 2: World(seed=2, overconfident=3.0)}
    labels, log_lines = [], []
    for week, world in weeks.items():
        for e in world.entries(week, 800 if week == 0 else 400):
            grade = int(e.inputs["doc"].rsplit("grade=", 1)[1])
            labels.append({"query": e.inputs["query"], "doc": e.inputs["doc"], "label": grade})
            log_lines.append(e.to_dict())
    teacher = tmp_path / "gpt-4o.jsonl"
    teacher.write_text("".join(json.dumps(r) + "\n" for r in labels))
    log_file = tmp_path / "prodlog.jsonl"
    log_file.write_text("".join(json.dumps(r) + "\n" for r in log_lines))
    cfg = {
        "teacher": f"replay:{teacher}",
        "cache": f"diskcache://{tmp_path / 'cache'}",
        "log": f"diskcache://{tmp_path / 'log'}",
        "reference": str(tmp_path / "ref.json"),
        "report_dir": str(tmp_path / "reports"),
        "period": week_label(0),
        "budget": 400,
        "sample_size": 300,
        "anchor_count": 100,
        "threshold": 0.5,
        "bootstrap": 100,
        "gates": {
            "psi_min_population": 300,
            "threshold_metric": "precision",
            "threshold_target": 0.7,
        },
    }
    path = tmp_path / "weekly.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, log_file


def _run(*args: str) -> tuple[int, str, str]:
    """The installed console script in a subprocess, as cron runs it (exit codes included)."""
    res = judgecache(*args)
    return res.returncode, res.stdout, res.stderr


def test_cli_exit_codes_and_reports(setup: tuple[Path, Path], tmp_path: Path) -> None:
    config, log_file = setup
    code, out, err = _run("drift", "import", "--config", str(config), str(log_file))
    assert code == 0 and "imported 1600 of 1600 entries" in out
    code, out, err = _run("drift", "baseline", "--config", str(config), "--budget", "800")
    assert code == 0, err
    assert "reference saved" in out and "anchors: 100" in out
    code, out, err = _run("drift", "run", "--config", str(config), "--period", week_label(1))
    assert code == 0, err  # pass
    assert f"drift {week_label(1)}: PASS" in err
    code, out, err = _run(
        "drift", "run", "--config", str(config), "--period", week_label(2), "--format", "md"
    )
    assert code == 1 and f"drift {week_label(2)}: FAIL" in err
    assert out.startswith(f"# Drift report {week_label(2)}: FAIL")
    code, out, err = _run(
        "drift", "run", "--config", str(config), "--period", week_label(1), "--budget", "20"
    )
    assert code == 0  # week 1 labels are all in the cache now: a small budget is enough
    code, out, err = _run("drift", "run", "--config", str(config), "--period", week_label(5))
    assert code == 2 and "inconclusive: no relevance entries" in err
    code, out, err = _run("drift", "run", "--config", str(config), "--budget", "0")
    assert code == 3 and "configuration error: budget must be >= 1" in err
    html = tmp_path / "out" / "report.html"
    code, out, err = _run("report", "--config", str(config), "--format", "html", "-o", str(html))
    assert code == 0 and html.read_text().startswith("<!DOCTYPE html>")
    code, out, err = _run("report", "--config", str(config), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["run"]["period"]["label"] == week_label(1)  # the last saved run
    assert [r["period"] for r in doc["trend"]] == [week_label(1), week_label(2), week_label(1)]
    assert [r["status"] for r in doc["trend"]] == ["pass", "fail", "pass"]


def test_cli_configuration_errors(setup: tuple[Path, Path], tmp_path: Path) -> None:
    config, _ = setup
    code, _, err = _run("drift", "baseline", "--config", str(config))
    assert code == 3 and "is empty: nothing has been recorded" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("teacher: openai:gpt-4o\nbudjet: 10\n")
    code, _, err = _run("drift", "run", "--config", str(bad))
    assert code == 3 and "unknown keys ['budjet']" in err
    code, _, err = _run("report", "--report-dir", str(tmp_path / "none"))
    assert code == 3 and "no drift report" in err
    ProductionLog(f"diskcache://{tmp_path / 'log'}").record_many(World(seed=3).entries(0, 300))
    code, _, err = _run("drift", "run", "--config", str(config))
    assert code == 3 and "reference" in err and "not found" in err and "drift baseline" in err
