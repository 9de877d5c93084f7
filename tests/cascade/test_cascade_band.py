"""Band, binomial bounds and the band scan, against hand-computed values and a naive reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from judgecache.cascade.band import Band
from judgecache.cascade.scan import candidate_edges, scan_bands
from judgecache.errors import ConfigError, InputError
from judgecache.stats import clopper_pearson_lower, clopper_pearson_upper, clopper_pearson_uppers


def test_band_routes_closed_interval_and_empty_band() -> None:
    band = Band(0.2, 0.6)
    assert [band.escalates(p) for p in (0.19, 0.2, 0.4, 0.6, 0.61)] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert band.mask([0.1, 0.3, 0.9]).tolist() == [False, True, False]
    assert Band.keep_all().empty and not Band.keep_all().escalates(0.5)
    assert str(Band.keep_all()) == "none" and str(band) == "[0.2, 0.6]"


def test_band_digest_is_stable_and_changes_with_the_band() -> None:
    assert Band(0.2, 0.6).digest() == Band(0.2, 0.6).digest()
    assert Band(0, 1).digest() == Band(0.0, 1.0).digest()  # ints are normalised
    assert Band(0.2, 0.6).digest() != Band(0.2, 0.61).digest()


@pytest.mark.parametrize(
    ("lo", "hi", "message"),
    [(-0.1, 0.5, "band lo must be in [0, 1]"), (0.1, 1.5, "band hi"), ("0.1", 0.5, "number")],
)
def test_band_rejects_bad_edges(lo: object, hi: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Band(lo, hi)  # type: ignore[arg-type]


def test_band_parse_and_from_dict_errors() -> None:
    assert Band.parse("0.1,0.9") == Band(0.1, 0.9)
    assert Band.parse("none").empty
    with pytest.raises(ConfigError, match="LO must be <= HI"):
        Band.parse("0.9,0.1")
    with pytest.raises(ConfigError, match="expected 'LO,HI'"):
        Band.parse("0.5")
    with pytest.raises(ConfigError, match=r"unknown keys \['mid'\], missing keys \['hi'\]"):
        Band.from_dict({"lo": 0.1, "mid": 0.5})


def test_clopper_pearson_closed_forms() -> None:
    # Zero successes: the upper bound solves (1 - p)^n = 1 - confidence.
    assert clopper_pearson_upper(0, 16, confidence=0.95) == pytest.approx(1 - 0.05 ** (1 / 16))
    # All successes: the lower bound solves p^n = 1 - confidence.
    assert clopper_pearson_lower(20, 20, confidence=0.9) == pytest.approx(0.1 ** (1 / 20))
    assert clopper_pearson_upper(5, 5) == 1.0 and clopper_pearson_lower(0, 5) == 0.0
    assert clopper_pearson_upper(0, 0) == 1.0
    # Symmetry: the upper bound of k/n is one minus the lower bound of (n-k)/n.
    assert clopper_pearson_upper(3, 40) == pytest.approx(1 - clopper_pearson_lower(37, 40))
    assert clopper_pearson_uppers([0, 0], [16, 0]).tolist() == pytest.approx(
        [1 - 0.05 ** (1 / 16), 1.0]
    )
    with pytest.raises(ConfigError, match="successes <= trials"):
        clopper_pearson_upper(5, 4)
    with pytest.raises(ConfigError, match="confidence"):
        clopper_pearson_upper(1, 4, confidence=1.0)


def test_candidate_edges_sit_between_distinct_values() -> None:
    probs = np.array([0.1, 0.1, 0.2, 0.3, 0.3, 0.9])
    edges = candidate_edges(probs, 10)
    assert set(np.round(edges, 6)) <= {0.15, 0.25, 0.6}
    assert not np.isin(edges, probs).any()
    assert candidate_edges(np.array([0.5, 0.5]), 10).size == 0


def test_scan_hand_computed() -> None:
    # p: 0.1 0.4 0.6 0.9; student: 0 0 1 1; teacher: 0 1 0 1 -> disagreements at 0.4 and 0.6.
    t = scan_bands([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1], [0, 1, 0, 1], grid=4)
    rows = {
        (round(float(lo), 3), round(float(hi), 3)): (int(e), int(k), int(d))
        for lo, hi, e, k, d in zip(
            t.lo, t.hi, t.escalated, t.kept, t.kept_disagreements, strict=True
        )
    }
    assert rows[(1.0, 0.0)] == (0, 4, 2)  # the empty band keeps both disagreements
    assert rows[(0.25, 0.75)] == (2, 2, 0)  # escalating 0.4 and 0.6 leaves none
    assert rows[(0.0, 1.0)] == (4, 0, 0)
    assert rows[(0.5, 1.0)] == (2, 2, 1)
    assert t.kept_disagreement[0] == 0.5 and np.isnan(
        t.kept_disagreement[list(rows).index((0.0, 1.0))]
    )


def test_scan_matches_a_naive_loop_on_random_data() -> None:
    rng = np.random.default_rng(3)
    p = np.round(rng.uniform(size=300), 2)  # rounded: many ties
    s = p >= 0.5
    t = rng.uniform(size=300) < p
    table = scan_bands(p, s, t, grid=12)
    inner = candidate_edges(p, 12)
    expected = {(1.0, 0.0): (0, int(np.sum(s != t)))}
    for lo, hi in itertools.product([0.0, *inner], [*inner, 1.0]):
        if lo < hi:
            esc = (p >= lo) & (p <= hi)
            expected[(lo, hi)] = (int(esc.sum()), int(np.sum((s != t) & ~esc)))
    got = {
        (float(lo), float(hi)): (int(e), int(d))
        for lo, hi, e, d in zip(
            table.lo, table.hi, table.escalated, table.kept_disagreements, strict=True
        )
    }
    assert got == expected


@pytest.mark.parametrize(
    ("probs", "student", "teacher", "message"),
    [
        (
            [0.1, 1.2],
            [0, 1],
            [0, 1],
            "field 'probs': must be probabilities in \\[0, 1\\]; position 1",
        ),
        ([0.1, 0.2], [0, 1, 1], [0, 1], "field 'student_positive': has 3 entries, expected 2"),
        (
            [0.1, 0.2],
            [0, 1],
            [0, 2],
            "field 'teacher_positive': must hold 0/1 or booleans; position 1",
        ),
        ([], [], [], "field 'probs': calibration data is empty"),
    ],
)
def test_scan_rejects_bad_input(
    probs: list[float], student: list[int], teacher: list[int], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        scan_bands(probs, student, teacher)
