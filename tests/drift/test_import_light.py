"""The drift package and its commands import neither torch, matplotlib nor scipy.stats (a second
to import; only Clopper-Pearson bounds need it) until they are used."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import judgecache.drift, judgecache.drift.render_md, judgecache.drift.render_html
import judgecache.cli.drift_cmd, judgecache.cli.report_cmd
from click.testing import CliRunner
from judgecache.cli.main import cli
assert CliRunner().invoke(cli, ["drift", "run", "--help"]).exit_code == 0
print("HEAVY=" + ",".join(m for m in ("torch", "transformers", "matplotlib", "scipy.stats") if m in sys.modules))
{after}
"""


def _heavy(after: str = "") -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(after=after)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.removeprefix("HEAVY=") for line in out.splitlines() if line.startswith("HEAVY=")]


def test_drift_imports_stay_light_until_a_plot_is_drawn() -> None:
    after = (
        "from judgecache.drift.plots import histogram_png\n"
        "histogram_png({'edges': [0, 1], 'reference': [1], 'current': [1]})\n"
        "print('HEAVY=' + ','.join(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    assert _heavy(after) == ["", "matplotlib"]  # the probe notices matplotlib once it is used
