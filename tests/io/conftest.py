"""Fixtures for the loader tests: the shared real data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path:
    """``$JUDGECACHE_DATA``, else ``../shared/data`` beside the repository root."""
    env = os.environ.get("JUDGECACHE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _require(folder: Path, probe: str) -> Path:
    if not (folder / probe).is_file():
        pytest.skip(f"{probe} not found in {folder} (set JUDGECACHE_DATA to the data folder)")
    return folder


@pytest.fixture
def trec_dir() -> Path:
    """The TREC DL folder of the shared data."""
    return _require(shared_data_dir() / "trec-dl", "qrels.gpt-4o-umbrela.dl19.txt")


@pytest.fixture
def antique_dir() -> Path:
    """The ANTIQUE folder of the shared data."""
    return _require(shared_data_dir() / "antique", "qrels.gpt-4o-umbrela.txt")


@pytest.fixture
def summedits_dir() -> Path:
    """The SummEdits folder of the shared data."""
    return _require(shared_data_dir() / "summedits", "summedits_news.json")
