"""Fixed-sequence band certification: the label-free path, the stop at the first failure, validity
by simulation and the escalation it saves against Bonferroni."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta

from judgecache.cascade.band import Band
from judgecache.cascade.record import load_selection, save_selection
from judgecache.cascade.scan import CalibrationData
from judgecache.cascade.selection import (
    NoQualifyingBandError,
    band_for_budget,
    band_for_disagreement,
)
from judgecache.cascade.sequence import escalation_path, fixed_sequence
from judgecache.errors import ConfigError

# Eight groups of 25 pairs. Expected disagreement (p below 0.5, 1 - p above), exact in binary:
#   p: 1/16   1/8    1/4   7/16    5/8   3/4    7/8    31/32
#   e: .0625  .125   .25   .4375   .375  .25    .125   .03125
# Releasing the side with the lower mean e (ties move lo) gives the order
#   31/32 (R), 1/16 (L), 1/8 (L, tie with 7/8), 7/8 (R), 1/4 (L, tie with 3/4), 3/4 (R), 5/8 (R),
#   7/16 (the last one: the empty band).
GROUPS = np.array([1 / 16, 1 / 8, 1 / 4, 7 / 16, 5 / 8, 3 / 4, 7 / 8, 31 / 32])
P = np.repeat(GROUPS, 25)
STUDENT = P >= 0.5
TEACHER = STUDENT.copy()
TEACHER[25:30] = True  # five of the 25 pairs at p = 1/8 are relevant after all
# Edges: the midpoints between adjacent groups (grid=8 puts one at every 1/8 quantile).
E = (GROUPS[:-1] + GROUPS[1:]) / 2
PATH = [
    (0.0, 1.0),
    (0.0, E[6]),
    (E[0], E[6]),
    (E[1], E[6]),
    (E[1], E[5]),
    (E[2], E[5]),
    (E[2], E[4]),
    (E[2], E[3]),
    (1.0, 0.0),
]

FIXED = "fixed_sequence"


def _bound(k: int, n: int, confidence: float = 0.9) -> float:
    """Clopper-Pearson one-sided upper bound, straight from the beta quantile."""
    return 1.0 if k >= n else float(beta.ppf(confidence, k + 1, n - k))


def test_the_path_follows_the_lower_expected_disagreement_by_hand() -> None:
    path = escalation_path(P, STUDENT, grid=8)
    assert list(zip(path.lo.tolist(), path.hi.tolist(), strict=True)) == PATH
    assert path.band(0) == Band(0.0, 1.0) and path.band(len(path) - 1).empty


def test_the_walk_stops_at_the_first_failure_even_if_a_later_band_passes() -> None:
    # Kept pairs along the path: 25, 50, 75 (five disagreements enter here), 100, 125, ...
    # At 90%: 0/25 -> 0.088 pass, 0/50 -> 0.045 pass, 5/75 -> 0.120 FAIL, 5/100 -> 0.091 would
    # pass and 5/125 -> 0.073 too, but the sequence has stopped.
    assert _bound(5, 75) > 0.1 >= _bound(5, 100)
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.1, confidence=0.9, min_kept=25, grid=8, correction=FIXED
    )
    assert (sel.band.lo, sel.band.hi) == (E[0], E[6])
    assert (sel.escalated, sel.kept, sel.kept_disagreements) == (150, 50, 0)
    assert sel.disagreement_upper == pytest.approx(1 - 0.1 ** (1 / 50))
    assert sel.candidates_checked == 3  # bands 1, 2 and the failing 3 (band 0 keeps nothing)
    assert sel.correction == "fixed_sequence" and sel.target["correction"] == "fixed_sequence"
    assert sel.sequence["path_bands"] == 9
    stopped = sel.sequence["stopped_at"]
    assert stopped["band"] == {"lo": E[1], "hi": E[6]}
    assert stopped["upper"] == pytest.approx(_bound(5, 75))
    assert stopped["escalation_rate"] == 0.625
    # Without the sequence's discipline the uncorrected scan takes a band past the failure.
    loose = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.1, confidence=0.9, min_kept=25, grid=8, correction="none"
    )
    assert loose.escalated < sel.escalated


def test_bands_with_too_few_kept_pairs_are_skipped_without_stopping() -> None:
    # min_kept=50: band 1 (25 kept) is not tested; bands 2 (pass) and 3 (fail) are.
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.1, confidence=0.9, min_kept=50, grid=8, correction=FIXED
    )
    assert (sel.kept, sel.candidates_checked) == (50, 2)
    # Scope "all" bounds over all 200 pairs but min_kept still counts KEPT pairs, as before:
    # 0/200 -> 0.011 passes at band 2 (band 1 skipped), 5/200 -> 0.046 fails at band 3.
    everyone = band_for_disagreement(
        P,
        STUDENT,
        TEACHER,
        alpha=0.03,
        confidence=0.9,
        min_kept=50,
        scope="all",
        grid=8,
        correction=FIXED,
    )
    assert (everyone.kept, everyone.candidates_checked) == (50, 2)
    assert everyone.disagreement_upper == pytest.approx(_bound(0, 200))


def test_refusal_names_the_first_band_tested_and_a_better_one_it_could_not_reach() -> None:
    # min_kept=75: the first band tested is band 3 (5/75 -> 0.120), and it fails.
    with pytest.raises(NoQualifyingBandError) as info:
        band_for_disagreement(
            P, STUDENT, TEACHER, alpha=0.1, confidence=0.9, min_kept=75, grid=8, correction=FIXED
        )
    text = str(info.value)
    assert "no band meets disagreement <= 0.1 on kept pairs with confidence 0.9" in text
    assert "fixed sequence along a path of 9 bands" in text
    assert f"the first band tested has bound {_bound(5, 75):.4f} at escalation 0.625" in text
    # The best later band is the empty one: 5 disagreements in 200 kept.
    assert f"a later band on the path bounds {_bound(5, 200):.4f} at escalation 0.000" in text
    assert "stopped at its first failure" in text
    with pytest.raises(NoQualifyingBandError, match="keeps at least min_kept=201"):
        band_for_disagreement(P, STUDENT, TEACHER, alpha=0.5, min_kept=201)


def _calibrated(seed: int, n: int, a: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(a, a, size=n)
    return p, rng.uniform(size=n) < p


def test_the_path_ignores_the_labels_only_the_stop_moves() -> None:
    p, teacher = _calibrated(11, 1500)
    path = escalation_path(p, p >= 0.5, grid=20)
    on_path = {path.band(i) for i in range(len(path))}
    order = np.argsort(p)
    chosen, stops = set(), set()
    for seed in range(12):
        # Shuffle labels within blocks of 100 neighbouring probabilities: the student stays
        # roughly calibrated, but which pairs disagree changes.
        rng = np.random.default_rng(seed)
        shuffled = teacher.copy()
        for block in np.array_split(order, 15):
            shuffled[block] = teacher[rng.permutation(block)]
        sel = band_for_disagreement(
            p, p >= 0.5, shuffled, alpha=0.1, confidence=0.9, correction=FIXED
        )
        # The selection walked the path built above without any labels, under every shuffle.
        assert sel.band in on_path and sel.sequence["path_bands"] == len(path)
        stopped = sel.sequence["stopped_at"]
        assert stopped is None or Band.from_dict(stopped["band"]) in on_path
        run = fixed_sequence(
            CalibrationData.build(p, p >= 0.5, shuffled), path, alpha=0.1, confidence=0.9
        )
        assert run.chosen is not None and path.band(run.chosen) == sel.band
        chosen.add(sel.band)
        stops.add(run.stop)
    assert len(chosen) > 1 and len(stops) > 1


# The validity simulation: a calibrated Beta(0.7, 0.7) student, teacher ~ Bernoulli(p), 1,500
# calibration pairs, a fine grid (100 edges: many bands near the target, where a loose procedure
# overshoots), 80% confidence so that errors are frequent enough to count in 200 seeds.
SEEDS, N, A = 200, 1500, 0.7
ALPHA, CONFIDENCE, GRID = 0.1, 0.8, 100


def _true_disagreement(band: Band, scope: str) -> float:
    """Exact kept (or overall) disagreement of ``band`` for p ~ Beta(A, A), teacher ~ Bern(p).

    E[p; interval] = E[p] * P_{Beta(A+1, A)}(interval), E[1-p; interval] likewise with (A, A+1).
    """

    def mass(lo: float, hi: float, a: float, b: float) -> float:
        return float(beta.cdf(hi, a, b) - beta.cdf(lo, a, b)) if hi > lo else 0.0

    pieces = [(0.0, 1.0)] if band.empty else [(0.0, band.lo), (band.hi, 1.0)]
    kept = sum(mass(lo, hi, A, A) for lo, hi in pieces)
    wrong = sum(
        0.5 * mass(lo, min(hi, 0.5), A + 1, A) + 0.5 * mass(max(lo, 0.5), hi, A, A + 1)
        for lo, hi in pieces
    )
    return wrong / kept if scope == "kept" else wrong


def _simulate(scope: str, alpha: float) -> dict[str, np.ndarray]:
    """Per seed and correction: the chosen band's true disagreement and its escalation rate."""
    out: dict[str, list[tuple[float, float]]] = {"fixed_sequence": [], "bonferroni": [], "none": []}
    for seed in range(SEEDS):
        p, teacher = _calibrated(seed, N, A)
        for correction, rows in out.items():
            try:
                sel = band_for_disagreement(
                    p,
                    p >= 0.5,
                    teacher,
                    alpha=alpha,
                    confidence=CONFIDENCE,
                    scope=scope,  # type: ignore[arg-type]
                    correction=correction,  # type: ignore[arg-type]
                    grid=GRID,
                )
            except NoQualifyingBandError:
                rows.append((0.0, 1.0))  # refusing is always safe: the teacher answers all
                continue
            rows.append((_true_disagreement(sel.band, scope), sel.escalation_rate))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module", params=[("kept", ALPHA), ("all", ALPHA / 2)], ids=["kept", "all"])
def simulated(request: pytest.FixtureRequest) -> tuple[dict[str, np.ndarray], float]:
    scope, alpha = request.param
    return _simulate(scope, alpha), alpha


def test_true_disagreement_formula_matches_a_large_sample() -> None:
    q = np.random.default_rng(0).beta(A, A, size=2_000_000)
    expected = np.where(q >= 0.5, 1.0 - q, q)
    band = Band(0.2, 0.7)
    kept = ~band.mask(q)
    assert _true_disagreement(band, "kept") == pytest.approx(expected[kept].mean(), abs=5e-4)
    assert _true_disagreement(band, "all") == pytest.approx((expected * kept).mean(), abs=5e-4)


def test_the_certified_band_exceeds_alpha_in_at_most_one_minus_confidence_of_seeds(
    simulated: tuple[dict[str, np.ndarray], float],
) -> None:
    results, alpha = simulated
    allowed = (1 - CONFIDENCE) + 2.5 * np.sqrt(CONFIDENCE * (1 - CONFIDENCE) / SEEDS)
    errors = float(np.mean(results["fixed_sequence"][:, 0] > alpha))
    assert errors <= allowed, f"fixed sequence exceeded alpha in {errors:.3f} of seeds"
    # The check has teeth: the uncorrected scan of every band overshoots the same allowance.
    loose = float(np.mean(results["none"][:, 0] > alpha))
    assert loose > allowed, f"uncorrected scan exceeded alpha in only {loose:.3f} of seeds"


def test_fixed_sequence_escalates_no_more_than_bonferroni_in_most_seeds(
    simulated: tuple[dict[str, np.ndarray], float],
) -> None:
    results, _ = simulated
    fixed, bonferroni = results["fixed_sequence"][:, 1], results["bonferroni"][:, 1]
    no_more = float(np.mean(fixed <= bonferroni))
    assert no_more >= 0.8, f"fixed sequence escalated no more than Bonferroni in {no_more:.2f}"
    assert fixed.mean() < bonferroni.mean()


def test_cascade_json_records_the_sequence_and_old_files_still_load(tmp_path: Path) -> None:
    sel = band_for_disagreement(
        P, STUDENT, TEACHER, alpha=0.1, confidence=0.9, min_kept=25, grid=8, correction=FIXED
    )
    path = save_selection(sel, tmp_path / "new")
    doc = json.loads(path.read_text())
    assert doc["target"]["correction"] == "fixed_sequence" and doc["candidates_checked"] == 3
    assert doc["sequence"]["stopped_at"]["band"] == {"lo": E[1], "hi": E[6]}
    assert doc["frontier"] and load_selection(path) == sel
    # A file from before fixed_sequence: no `sequence`, and (say) no correction in its target.
    old = {k: v for k, v in doc.items() if k != "sequence"}
    old["target"] = {k: v for k, v in doc["target"].items() if k != "correction"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    back = load_selection(tmp_path / "old.json")
    assert back.correction == "bonferroni" and back.sequence == {} and back.band == sel.band


def test_the_budget_target_keeps_bonferroni_and_refuses_fixed_sequence() -> None:
    sel = band_for_budget(P, STUDENT, TEACHER, max_escalation=0.5, grid=8)
    assert sel.correction == "bonferroni" and sel.sequence == {}
    with pytest.raises(ConfigError, match=r"correction 'fixed_sequence' not in \['bonferroni'"):
        band_for_budget(
            P,
            STUDENT,
            TEACHER,
            max_escalation=0.5,
            correction="fixed_sequence",  # type: ignore[arg-type]
        )
