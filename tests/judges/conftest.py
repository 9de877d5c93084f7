"""Fixtures for the teacher tests: the shared real data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path:
    """``$JUDGECACHE_DATA``, else ``../shared/data`` beside the repository root."""
    env = os.environ.get("JUDGECACHE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def trec_dir() -> Path:
    """The TREC DL folder of the shared data; the test is skipped when it is not there."""
    folder = shared_data_dir() / "trec-dl"
    if not (folder / "qrels.gpt-4o-umbrela.dl19.txt").is_file():
        pytest.skip(f"TREC DL data not found in {folder} (set JUDGECACHE_DATA to its parent)")
    return folder
