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


def test_the_hit_path_decoder_has_the_envelope_fields_in_written_order() -> None:
    # decode_written copies every field of the decoded struct into an Envelope, and decodes
    # fastest when its fields come in the order to_json writes them.
    from judgecache.envelope import _Stored, decode_written

    assert sorted(_Stored.__struct_fields__) == sorted(Envelope.__struct_fields__)
    assert list(json.loads(make().to_json())) == list(_Stored.__struct_fields__)
    distinct = Envelope(
        label="L", score=0.5, raw_output="R", task="T", judge={"j": "J"}, inputs={"i": "I"},
        reason="W", usage=Usage(3, 4), cost_usd=0.25, latency_s=1.5, model_answered="M",
        created_at="C", source="S", rubric="B", meta={"m": "X"},
    )  # fmt: skip
    assert decode_written(distinct.to_json()) == distinct


def test_fast_and_field_by_field_decoding_agree_on_absent_fields() -> None:
    from judgecache.envelope import decode_written

    row = make().to_dict()
    for absent in ("created_at", "score", "raw_output", "meta", "usage", "reason"):
        text = json.dumps({k: v for k, v in row.items() if k != absent})
        fast = decode_written(text)
        assert fast is None or fast == Envelope.from_dict(json.loads(text)), absent
    no_created = decode_written(json.dumps({k: v for k, v in row.items() if k != "created_at"}))
    assert no_created is not None and no_created.created_at == ""  # as from_dict, not "now"
    no_version = json.dumps({k: v for k, v in row.items() if k != "version"})
    assert decode_written(no_version) is None
    with pytest.raises(StorageError, match="unsupported envelope version None"):
        Envelope.from_json(no_version)


def test_the_hit_decoder_carries_the_keys_preimage_and_checks_every_served_field() -> None:
    # decode_hit takes inputs and judge from the caller (the key was built from them) and
    # decodes everything else as decode_written does: same envelope, same refusals.
    from judgecache.envelope import decode_hit, decode_written

    env = make()
    inputs, judge = dict(env.inputs), dict(env.judge)
    assert decode_hit(env.to_json(), inputs, judge) == env
    assert decode_hit(env.to_json().encode(), inputs, judge) == env
    row = env.to_dict()
    refused = [
        {**row, "label": True},
        {**row, "score": "0.5"},
        {**row, "usage": 5},
        {**row, "meta": {"qid": 1}},
        {**row, "version": 2},
        {k: v for k, v in row.items() if k != "version"},
        {k: v for k, v in row.items() if k != "inputs"},
        {k: v for k, v in row.items() if k != "judge"},
    ]
    for bad in refused:
        text = json.dumps(bad)
        assert decode_written(text) is None and decode_hit(text, inputs, judge) is None, bad
    for broken in ('{"version": 1, "label": 2', "[1, 2]", '{"inputs": {]}', ""):
        assert decode_hit(broken, inputs, judge) is None
    # The stored copies of the preimage are parsed, not built: a hit serves the caller's.
    odd = decode_hit(json.dumps({**row, "inputs": 5, "judge": ["x"]}), inputs, judge)
    assert odd is not None and odd.inputs == inputs and odd.judge == judge


def test_envelopes_and_verdicts_are_not_tracked_by_the_cyclic_gc() -> None:
    # One of each is built per cache hit; they hold JSON data only, so they can never be in a
    # cycle, and untracked objects do not feed (or slow) the collector's passes.
    import gc

    from judgecache.judges.verdict import Verdict

    env = Envelope.from_json(make().to_json())
    verdict = Verdict.from_envelope(env, key="jc1:x", cached=True)
    assert not any(gc.is_tracked(o) for o in (env, env.usage, verdict))
