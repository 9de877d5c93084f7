"""Band selection from a target: hand-computed cases, refusals, persistence and the guarantee."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from judgecache.cascade.band import Band
from judgecache.cascade.record import load_selection, save_selection
from judgecache.cascade.selection import (
    NoQualifyingBandError,
    band_for_budget,
    band_for_disagreement,
)
from judgecache.errors import ConfigError, InsufficientDataError

# Twenty pairs at p = 0.025, 0.075, ..., 0.975; the student says positive from 0.5; the teacher
# agrees except on the four pairs nearest 0.5 (p = 0.425, 0.475, 0.525, 0.575).
P = (np.arange(20) + 0.5) / 20
STUDENT = P >= 0.5
TEACHER = STUDENT.copy()
TEACHER[8:12] = ~TEACHER[8:12]


def test_least_escalating_band_meeting_the_bound_without_correction() -> None:
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.18, min_kept=10, correction="none", grid=20
    )
    # Escalating exactly the four disagreements keeps 16 clean pairs: bound 1 - 0.05^(1/16)
    # = 0.1707 <= 0.18. Escalating three leaves one disagreement in 17: bound 0.25 > 0.18.
    assert (sel.band.lo, sel.band.hi) == pytest.approx((0.4, 0.6))
    assert (sel.escalated, sel.kept, sel.kept_disagreements) == (4, 16, 0)
    assert sel.disagreement_upper == pytest.approx(1 - 0.05 ** (1 / 16))
    assert sel.escalation_rate == 0.2 and sel.overall_agreement == 1.0
    assert sel.meets_target and sel.target["alpha"] == 0.18


def test_bonferroni_correction_covers_every_band_checked() -> None:
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.45, min_kept=10, correction="bonferroni", grid=20
    )
    m = sel.candidates_checked
    # Bands keeping >= 10 of 20 pairs: counted by brute force over the 20 x 20 edge grid.
    edges = [0.0, *((np.arange(1, 20)) / 20), 1.0]
    p = P
    brute = 1 + sum(
        1
        for lo in edges[:-1]
        for hi in edges[1:]
        if lo < hi and 20 - int(np.sum((p >= lo) & (p <= hi))) >= 10
    )
    assert m == brute
    assert sel.escalated == 4
    assert sel.disagreement_upper == pytest.approx(1 - (0.05 / m) ** (1 / 16))
    # The same 0.18 target that passes uncorrected cannot be certified once m bands are tried.
    best = f"best bound is {1 - (0.05 / m) ** (1 / 16):.4f} at escalation 0.200"
    with pytest.raises(NoQualifyingBandError, match=best):
        band_for_disagreement(
            P, STUDENT, TEACHER, alpha=0.18, min_kept=10, correction="bonferroni", grid=20
        )


def test_scope_all_counts_escalated_pairs_as_agreeing() -> None:
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.14, min_kept=10, scope="all", correction="none", grid=20
    )
    # 0 disagreements over all 20 pairs: 1 - 0.05^(1/20) = 0.1391 <= 0.14.
    assert sel.escalated == 4
    assert sel.disagreement_upper == pytest.approx(1 - 0.05 ** (1 / 20))
    assert sel.kept_disagreement_upper == pytest.approx(sel.disagreement_upper * 20 / 16)


def test_refuses_when_no_band_qualifies_and_says_how_close() -> None:
    with pytest.raises(NoQualifyingBandError) as info:
        band_for_disagreement(P, STUDENT, TEACHER, alpha=0.1, min_kept=10, correction="none")
    text = str(info.value)
    assert "no band meets disagreement <= 0.1" in text and "best bound is 0.1707" in text
    assert isinstance(info.value, InsufficientDataError)
    with pytest.raises(NoQualifyingBandError, match="keeps at least min_kept=21"):
        band_for_disagreement(P, STUDENT, TEACHER, alpha=0.5, min_kept=21)
    # min_kept above 16 excludes the only clean band: nothing is certifiable at 0.18.
    with pytest.raises(NoQualifyingBandError):
        band_for_disagreement(P, STUDENT, TEACHER, alpha=0.18, min_kept=17, correction="none")


def test_budget_target_picks_least_kept_disagreement_within_budget() -> None:
    sel = band_for_budget(P, STUDENT, TEACHER, max_escalation=0.1, grid=20)
    # Two escalations at most: the best is two of the four disagreements -> 2 left in 18 kept.
    assert (sel.escalated, sel.kept, sel.kept_disagreements) == (2, 18, 2)
    assert sel.band.mask(P)[8:12].sum() == 2
    assert sel.kept_disagreement == pytest.approx(2 / 18)
    assert sel.target == {
        "kind": "escalation",
        "max_escalation": 0.1,
        "confidence": 0.95,
        "scope": "kept",
        "correction": "bonferroni",
        "grid": 20,
    }
    nothing = band_for_budget(P, STUDENT, TEACHER, max_escalation=0.0)
    assert nothing.band == Band.keep_all() and nothing.kept_disagreements == 4
    frontier = [row["kept_disagreement"] for row in sel.frontier]
    assert frontier == sorted(frontier, reverse=True) and frontier[-1] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "alpha must be in"),
        ({"alpha": 0.1, "scope": "some"}, r"scope 'some' not in \['kept', 'all'\]"),
        ({"alpha": 0.1, "correction": "holm"}, r"correction 'holm' not in"),
        ({"alpha": 0.1, "min_kept": 0}, "min_kept must be an integer >= 1"),
        ({"alpha": 0.1, "grid": 0}, "grid must be an integer >= 1"),
        ({"alpha": 0.1, "confidence": 1.5}, "confidence must be in"),
    ],
)
def test_bad_targets_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        band_for_disagreement(P, STUDENT, TEACHER, **kwargs)  # type: ignore[arg-type]


def test_selection_round_trips_through_cascade_json(tmp_path: Path) -> None:
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.18, min_kept=10, correction="none", source={"qrels": "x"}
    )
    path = save_selection(sel, tmp_path / "student")
    assert path == tmp_path / "student" / "cascade.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == 1 and doc["summary"]["escalation_rate"] == 0.2
    assert doc["data"]["source"] == {"qrels": "x"} and doc["data"]["n"] == 20
    back = load_selection(tmp_path / "student")
    assert back == sel


def test_loading_a_bad_cascade_json_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no cascade band saved here"):
        load_selection(tmp_path)
    (tmp_path / "cascade.json").write_text(json.dumps({"format": 2}))
    with pytest.raises(ConfigError, match="unsupported format 2"):
        load_selection(tmp_path)
    doc = {
        "format": 1,
        "band": {"lo": 0.1, "hi": 0.2},
        "target": {},
        "n": 1,
        "escalated": 0,
        "kept": 1,
        "kept_disagreements": 0,
        "colour": "red",
    }
    (tmp_path / "cascade.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"unknown keys \['colour'\]"):
        load_selection(tmp_path)


def test_chosen_bands_hold_their_bound_on_fresh_data() -> None:
    """Bonferroni's promise: kept disagreement on new pairs stays under alpha (95% of the time).

    The fixed-sequence default has its own, larger validity check in test_fixed_sequence.py.
    """
    alpha, misses = 0.12, 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        p = rng.beta(0.7, 0.7, size=3000)
        y = rng.uniform(size=3000) < p
        sel = band_for_disagreement(
            p, p >= 0.5, y, alpha=alpha, min_kept=200, correction="bonferroni"
        )
        q = rng.beta(0.7, 0.7, size=50_000)
        z = rng.uniform(size=50_000) < q
        kept = ~sel.band.mask(q)
        realised = float(np.mean((q[kept] >= 0.5) != z[kept]))
        misses += realised > alpha
    assert misses <= 1  # the target allows 5% (1.5 of 30); Bonferroni makes it conservative
