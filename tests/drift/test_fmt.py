"""Formatting shared by the report renderers."""

from __future__ import annotations

from judgecache.drift.fmt import bin_ranges


def test_bin_ranges_keep_close_edges_apart_and_name_both_ends() -> None:
    # A reference piled up at 0 and 1 (a confident student): its deduplicated quantile edges
    # once printed as 0.000/0.002/1.000/– , an unreadable table.
    bins = [{"upper_edge": e} for e in (0.0004, 0.0021, 1.0)] + [{"upper_edge": None}]
    assert bin_ranges(bins) == ["< 0.0004", "0.0004 – 0.0021", "0.0021 – 1", "≥ 1"]


def test_bin_ranges_with_a_single_bin() -> None:
    assert bin_ranges([{"upper_edge": None}]) == ["all scores"]
