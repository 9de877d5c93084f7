"""The report document, its history, and the Markdown and HTML renderings (escaping included)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from drift_world import World, config, fill, make_judge, week_label

from judgecache.drift.checker import make_baseline, run_check
from judgecache.drift.history import RunHistory
from judgecache.drift.log import ProductionLog
from judgecache.drift.render_html import render_html
from judgecache.drift.render_md import md_escape, render_markdown
from judgecache.drift.report_json import dumps, load_report, loads, validate_report
from judgecache.errors import ConfigError

EVIL = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real failing report whose disagreements include a query with a script in it."""
    tmp = tmp_path_factory.mktemp("report")
    log = ProductionLog("memory://")
    fill(log, World(seed=0), 0, 1500)
    cfg = config(str(tmp), sample_size=400, budget=800, bootstrap=50)
    make_baseline(cfg, judge=make_judge(), log=log)
    world = World(seed=11, overconfident=3.0, tags=[EVIL, "web"], doc_suffix=" " + EVIL)
    fill(log, world, 1)
    judge = make_judge()
    run_check(config(str(tmp), period=week_label(1), bootstrap=50), judge=judge, log=log)
    run = run_check(config(str(tmp), period=week_label(1), bootstrap=50), judge=judge, log=log)
    assert run.verdict.status == "fail"
    return run.report


def test_report_json_round_trips_and_validates(report: dict[str, Any], tmp_path: Path) -> None:
    text = dumps(report)
    assert "NaN" not in text and loads(text) == json.loads(text)
    path = tmp_path / "r.json"
    path.write_text(text)
    assert load_report(path)["verdict"]["status"] == "fail"
    assert set(report["sections"]) >= {
        "agreement",
        "calibration",
        "score_drift",
        "threshold",
        "teacher_stability",
        "segments",
        "ppi",
        "disagreements",
    }
    broken = copy.deepcopy(report)
    broken["verdict"]["status"] = "great"
    with pytest.raises(ConfigError, match=r"verdict.status 'great' not in"):
        validate_report(broken)
    with pytest.raises(ConfigError, match="not a drift report"):
        validate_report({"schema": "other"})
    with pytest.raises(ConfigError, match="missing keys"):
        validate_report({"schema": report["schema"], "run": {}})


def test_history_keeps_every_run_and_the_trend(report: dict[str, Any], tmp_path: Path) -> None:
    h = RunHistory(tmp_path)
    first = h.save(report)
    second = h.save(report)  # same second: both kept
    assert first != second and h.runs() == sorted([first, second])
    assert h.latest()["run"]["period"] == report["run"]["period"]
    rows = h.trend(report["run"]["student"], report["run"]["teacher"])
    assert (
        len(rows) == 2
        and rows[0]["agreement"] == report["sections"]["agreement"]["agreement"]["estimate"]
    )
    assert h.trend("student:else", report["run"]["teacher"]) == []
    assert len(report["trend"]) == 2  # the report carries the earlier run of the same week
    with pytest.raises(ConfigError, match="run `judgecache drift run"):
        RunHistory(tmp_path / "empty").latest()


def test_markdown_is_reasons_first_and_escaped(report: dict[str, Any]) -> None:
    md = render_markdown(report)
    assert md.index("## Reasons") < md.index("## Gates") < md.index("## Agreement")
    assert "calibration\\_slope: overconfident" in md
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert md_escape("a|b\nc") == "a\\|b c"


def test_html_is_self_contained_and_escaped(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert "<script" not in page.lower() and "onerror=alert" not in page.replace(
        "onerror=alert(1)&gt;", ""
    )
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in page
    assert "default-src 'none'" in page  # CSP: no script could run even if one slipped in
    assert page.count('src="data:image/png;base64,') == 3  # trend, reliability, histograms
    assert "http://" not in page and "https://" not in page  # nothing fetched from outside
    assert page.index("Reasons") < page.index("Gates") < page.index("Agreement with")


def test_unknown_sections_render_generically(report: dict[str, Any]) -> None:
    """A section this renderer does not know (a newer writer's) still shows, escaped."""
    doc = copy.deepcopy(report)
    doc["sections"]["future_health"] = {
        "escalation_rate": 0.31,
        "kept_disagreement_upper": 0.07,
        "note": EVIL,
        "by_week": [{"period": "2025-W02", "escalation_rate": 0.3}],
    }
    page, md = render_html(doc), render_markdown(doc)
    assert "Future health" in page and "0.310" in page and "2025-W02" in page
    assert "<script>" not in page and "<script>" not in md
    assert "## Future health" in md and "| escalation\\_rate | 0.310 |" in md


# Issue 14 items 5 and 6: a run history or report file is input like any other.
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=http://attacker.invalid/">',
]


def _tamper(value: Any, i: list[int]) -> Any:
    """Every number (and every text) in the document replaced by hostile markup."""
    if isinstance(value, dict):
        return {k: _tamper(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [_tamper(v, i) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    i[0] += 1
    return HOSTILE[i[0] % 2]


def test_every_value_in_a_tampered_report_is_escaped_numbers_included(
    report: dict[str, Any],
) -> None:
    doc = copy.deepcopy(report)
    tampered = {k: _tamper(v, [0]) for k, v in doc.items() if k != "schema"}
    doc.update(tampered)
    doc["verdict"]["status"] = "fail"
    md, page = render_markdown(doc), render_html(doc)
    for text in (md, page):
        assert "<img" not in text and '<meta http-equiv="refresh"' not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;meta http-equiv=&quot;refresh&quot;" in page
    # The plots cannot use those values: they are left undrawn, the page still renders.
    assert "not drawn (the report holds values that are not numbers)" in page
    assert page.count('src="data:image/png;base64,') == 0


def test_a_non_numeric_trend_value_is_a_clear_error_from_judgecache_report(
    report: dict[str, Any], tmp_path: Path
) -> None:
    from console import judgecache

    doc = copy.deepcopy(report)
    doc["trend"][0]["agreement"] = "0.9x"
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    for fmt in ("md", "html", "json"):
        out = judgecache("report", "--run", str(path), "--format", fmt)
        assert out.returncode == 3, out.stderr
        assert "trend[0].agreement must be a number or null, got '0.9x'" in out.stderr
        assert "Traceback" not in out.stderr and out.stdout == ""


def test_a_hand_edited_run_file_never_reaches_the_next_trend(
    report: dict[str, Any], tmp_path: Path
) -> None:
    history = RunHistory(tmp_path)
    edited = copy.deepcopy(report)
    edited["sections"]["agreement"]["agreement"]["estimate"] = HOSTILE[0]
    edited["sections"]["score_drift"]["psi"] = "NaN"
    history.save(edited)
    (row,) = history.trend(report["run"]["student"], report["run"]["teacher"])
    assert row["agreement"] is None and row["psi"] is None
    assert row["kappa"] == report["sections"]["agreement"]["kappa"]["estimate"]


def test_markdown_and_html_share_one_section_model(report: dict[str, Any]) -> None:
    from judgecache.drift.report_view import build_view

    view = build_view(report)
    md, page = render_markdown(report), render_html(report)
    for section in view.sections:
        assert f"## {md_escape(section.title)}" in md
        assert f'<h2 id="{section.key}">' in page
    keys = [s.key for s in view.sections]
    assert keys[:3] == ["reasons", "gates", "trend"] and keys[-2:] == ["budget", "sample"]
