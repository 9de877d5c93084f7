"""Property tests: any input gives a result or a JudgecacheError subclass, never another exception
type, and nothing invalid is ever stored."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judgecache import Judge
from judgecache.envelope import Envelope
from judgecache.errors import JudgecacheError, StorageError
from judgecache.io.jsonl import read_pairs
from judgecache.io.trec import read_collection, read_qrels
from judgecache.judges.verdict import Verdict
from judgecache.keys import KEY_SCHEMA_VERSION, KeyBuilder, canonical_json, normalize_text

# Modest and deadline-free: the suite stays fast and never flips on a loaded machine.
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any Unicode with, spliced in somewhere, a lone surrogate (text() never draws one), a CR or a
# combining accent.
TEXT = st.tuples(
    st.text(max_size=40),
    st.sampled_from(["", "\ud800", "\udfff", "\r\n", "\u0301"]),
    st.integers(0, 40),
).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
ANY_INPUT = st.one_of(TEXT, st.none(), st.integers(), st.floats(), st.lists(TEXT, max_size=2))


@PROPS
@given(JSON)
def test_canonical_json_gives_bytes_or_a_judgecache_error(value: Any) -> None:
    try:
        out = canonical_json(value)
    except JudgecacheError:
        return
    assert json.loads(out) == json.loads(canonical_json(json.loads(out)))  # a fixed point


@PROPS
@given(TEXT, TEXT)
def test_keys_are_stable_under_the_text_policy(first: str, second: str) -> None:
    judge = Judge(lambda q, d: 1, name="p", version="1", cache="memory://")
    try:
        key = judge.key(first, second)
    except JudgecacheError:
        return
    assert key.startswith(f"{KEY_SCHEMA_VERSION}:") and len(key) == len(KEY_SCHEMA_VERSION) + 65
    # Normalizing first changes nothing: the key already is of the normalized text.
    assert judge.key(normalize_text(first), normalize_text(second)) == key
    material = judge.key_material(first, second).digest()
    assert (
        material
        == key
        == KeyBuilder(judge.teacher.identity, judge._prompt, judge._params).digest(
            judge._keys.normalize({"query": first, "doc": second})
        )
    )


@PROPS
@given(st.one_of(TEXT, JSON.map(json.dumps), st.binary(max_size=60)))
def test_envelope_decoding_gives_an_envelope_or_a_storage_error(raw: str | bytes) -> None:
    try:
        env = Envelope.from_json(raw)
    except StorageError:
        return
    assert Envelope.from_json(env.to_json()) == env


@PROPS
@given(st.dictionaries(st.sampled_from(_FIELDS := [
    "label", "score", "task", "judge", "inputs", "usage", "meta", "cost_usd", "latency_s",
    "reason", "model_answered", "created_at", "source", "rubric"]), JSON))  # fmt: skip
def test_envelope_fields_of_any_shape_decode_or_fail_cleanly(fields: dict[str, Any]) -> None:
    with contextlib.suppress(StorageError):
        Envelope.from_json(json.dumps({"version": 1, **fields}))


@PROPS
@given(
    st.lists(st.one_of(TEXT, JSON.map(json.dumps), st.binary(max_size=40).map(repr)), max_size=5)
)
def test_jsonl_reader_gives_records_or_an_input_error(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        try:
            records = list(read_pairs(path, with_labels=True))
        except JudgecacheError:
            return
    for rec in records:
        assert all(isinstance(v, str) and v.strip() for v in rec.inputs.values())
        json.dumps(rec.row, allow_nan=False).encode("utf-8")  # echoable into an output file


@PROPS
@given(st.lists(st.one_of(TEXT, st.binary(max_size=30).map(repr)), max_size=5))
def test_trec_readers_give_results_or_an_input_error(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.txt"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        for reader in (lambda p: list(read_qrels(p)), read_collection):
            with contextlib.suppress(JudgecacheError):
                reader(path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(ANY_INPUT, ANY_INPUT), min_size=1, max_size=4), ANY_INPUT)
def test_judge_api_gives_verdicts_or_judgecache_errors(
    pairs: list[tuple[Any, Any]], answer: Any
) -> None:
    judge = Judge(lambda q, d: answer, name="any", version="1", cache="memory://")
    try:
        results = judge.score_many_settled(pairs)
    except JudgecacheError:
        results = []
    for pair in pairs:
        with contextlib.suppress(JudgecacheError):
            judge.score(*pair)
    assert all(isinstance(r, Verdict | JudgecacheError) for r in results)
    # Nothing invalid is stored: every entry decodes to a rubric label with valid text inputs.
    for key in judge.store.keys():
        env = Envelope.from_json(judge.store.get(key) or "")
        assert env.label in judge.rubric.labels
        assert all(isinstance(v, str) and v for v in env.inputs.values())
        env.to_json().encode("utf-8")
