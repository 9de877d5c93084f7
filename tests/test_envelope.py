"""The stored value: versioned JSON, round-trips exactly, refuses anything else."""

from __future__ import annotations

import json

import pytest

from judgecache.envelope import ENVELOPE_VERSION, Envelope, Usage
from judgecache.errors import StorageError


def make() -> Envelope:
    return Envelope(
        label=2,
        score=0.8,
        raw_output="##final score: 2",
        task="relevance",
        rubric="relevance",
        judge={"provider": "openai", "model": "gpt-4o", "version": ""},
        inputs={"query": "q", "doc": "d ünïcode"},
        reason="mostly answers",
        usage=Usage(120, 5),
        cost_usd=0.00035,
        latency_s=0.42,
        model_answered="gpt-4o-2024-08-06",
        meta={"qid": "1"},
    )


def test_round_trip_is_exact_and_plain_json() -> None:
    env = make()
    text = env.to_json()
    assert Envelope.from_json(text) == env
    data = json.loads(text)
    assert data["version"] == ENVELOPE_VERSION
    assert data["usage"] == {"input_tokens": 120, "output_tokens": 5}
    assert data["model_answered"] == "gpt-4o-2024-08-06"
    assert "ünïcode" in text  # stored as UTF-8 text, readable by any tool


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"version": 99}', "unsupported envelope version"),
        ('{"version": 1, "label": 1}', "corrupt cache envelope"),
    ],
)
def test_foreign_or_corrupt_values_raise_storage_error(text: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        Envelope.from_json(text)


def test_pickle_bytes_are_rejected() -> None:
    import pickle

    with pytest.raises(StorageError):
        Envelope.from_json(pickle.dumps({"label": 1}))
