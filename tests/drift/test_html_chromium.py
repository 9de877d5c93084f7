"""Open the HTML report in headless Chromium: it renders, takes a screenshot, logs no console errors.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped with that reason
only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from drift_world import World, config, fill, make_judge, week_label

from judgecache.drift.checker import make_baseline, run_check
from judgecache.drift.log import ProductionLog
from judgecache.drift.render_html import render_html

CHROMIUM = Path("/usr/bin/chromium")
EVIL = '<script>document.title="pwned";console.error("xss")</script>'

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)"
)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _console(stderr: str) -> list[str]:
    # Chromium logs every console message (errors, CSP violations, uncaught exceptions) this way.
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    log = ProductionLog("memory://")
    fill(log, World(seed=0), 0, 1500)
    make_baseline(config(str(tmp), sample_size=400, budget=800), judge=make_judge(), log=log)
    fill(log, World(seed=12, overconfident=3.0, doc_suffix=" " + EVIL, tags=[EVIL]), 1)
    judge = make_judge()
    report: dict[str, Any] = {}
    for _ in range(2):  # two runs, so the trend plot has points
        report = run_check(
            config(str(tmp), period=week_label(1), bootstrap=50), judge=judge, log=log
        ).report
    path = tmp / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_report_renders_in_chromium_without_console_errors(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    res = _chromium(tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert _console(res.stderr) == []
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    rgb = pixels[..., :3]
    # not a blank page: dark text, the red "fail" badge and the plots' blue line are all there
    assert (rgb.sum(axis=2) < 0.6).mean() > 0.005
    red = (np.abs(rgb - np.array([0xD6, 0x27, 0x28]) / 255).sum(axis=2) < 0.08).sum()
    blue = (np.abs(rgb - np.array([0x1F, 0x77, 0xB4]) / 255).sum(axis=2) < 0.08).sum()
    assert red > 200 and blue > 200


def test_injected_script_stays_text(page: Path, tmp_path: Path) -> None:
    res = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert "<title>Drift report" in dom and "pwned" not in dom.split("</title>")[0]
    assert "&lt;script&gt;document.title=" in dom
    assert "xss" not in "\n".join(_console(res.stderr))
    assert dom.count("data:image/png;base64,") == 3


PLOTS = ("agreement trend", "reliability diagram", "score histograms")


def test_every_plot_is_drawn_inline_and_nothing_is_fetched(page: Path, tmp_path: Path) -> None:
    res = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    for alt in PLOTS:  # a plot that failed to draw leaves a note instead of its image
        assert f'<img alt="{alt}" src="data:image/png;base64,iVBOR' in dom, alt
    assert re.findall(r'(?:src|href)\s*=\s*"(?!data:|#)([^"]*)"', dom) == []


def test_a_page_that_reaches_for_the_network_is_caught(page: Path, tmp_path: Path) -> None:
    # The control for the test above: the report's policy refuses any fetch, and the refusal
    # reaches the console check, so a report that needed the network could not pass.
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        page.read_text().replace("</body>", '<img src="http://127.0.0.1:9/plot.png"></body>')
    )
    res = _chromium(tmp_path, "--dump-dom", leaky.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert any("127.0.0.1:9" in line for line in _console(res.stderr))
