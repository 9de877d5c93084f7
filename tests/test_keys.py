"""The key scheme: golden digests pin it; every part that must (or must not) matter is checked."""

from __future__ import annotations

import hashlib

import pytest

from judgecache.errors import ConfigError
from judgecache.judges.rubric import RELEVANCE
from judgecache.keys import (
    KEY_SCHEMA_VERSION,
    JudgeIdentity,
    KeyMaterial,
    canonical_json,
    diff_material,
    filter_params,
    normalize_text,
)

GPT4O = JudgeIdentity("openai", "gpt-4o", "")
PROMPT = {"rubric": "relevance", "template": "Q: {query} D: {doc}"}


def material(**overrides: object) -> KeyMaterial:
    base: dict[str, object] = {
        "judge": GPT4O,
        "prompt": PROMPT,
        "params": {"temperature": 0.0},
        "inputs": {"query": "what is x?", "doc": "x is y"},
    }
    base.update(overrides)
    return KeyMaterial(**base)  # type: ignore[arg-type]


def test_golden_digest_pins_the_schema() -> None:
    # A change here is a schema change: bump KEY_SCHEMA_VERSION and note it in CHANGELOG.md.
    assert KEY_SCHEMA_VERSION == "jc1"
    assert material().digest() == (
        "jc1:fde87eee8878563b747b025939c6e5025672f5a7e6f12127cd8fa63e8fea08e2"
    )
    builtin = material(prompt=RELEVANCE.key_material())
    assert builtin.digest() == (
        "jc1:a58b42ede41a67f49a6a7c79c0e70f33fa30c9c09e817432026adcfe5e36f5e0"
    )


def test_digest_is_sha256_of_the_canonical_material() -> None:
    m = material()
    expected = hashlib.sha256(canonical_json(m.as_dict())).hexdigest()
    assert m.digest() == f"jc1:{expected}"


def test_credentials_urls_timeouts_and_retries_never_enter_the_key() -> None:
    noisy = material(
        params={
            "temperature": 0.0,
            "api_key": "sk-secret",
            "base_url": "http://localhost:8000/v1",
            "timeout": 30,
            "max_retries": 9,
        }
    )
    assert noisy.digest() == material().digest()
    assert "sk-secret" not in canonical_json(noisy.as_dict()).decode()


@pytest.mark.parametrize(
    "change",
    [
        {"judge": JudgeIdentity("openai", "gpt-4o-mini", "")},
        {"judge": JudgeIdentity("openai", "gpt-4o", "2024-08-06")},
        {"judge": JudgeIdentity("anthropic", "gpt-4o", "")},
        {"prompt": {**PROMPT, "template": "Query: {query} Doc: {doc}"}},
        {"params": {"temperature": 0.7}},
        {"params": {"temperature": 0.0, "seed": 1}},
        {"params": {"temperature": 0.0, "max_tokens": 5}},
        {"inputs": {"query": "what is x?", "doc": "x is z"}},
        {"inputs": {"query": "what is y?", "doc": "x is y"}},
    ],
)
def test_every_output_affecting_part_changes_the_key(change: dict[str, object]) -> None:
    assert material(**change).digest() != material().digest()


def test_field_boundaries_are_unambiguous() -> None:
    a = material(inputs={"query": "ab", "doc": "c"})
    b = material(inputs={"query": "a", "doc": "bc"})
    swapped = material(inputs={"query": "c", "doc": "ab"})
    assert len({a.digest(), b.digest(), swapped.digest()}) == 3


def test_text_policy_nfc_line_endings_and_outer_whitespace() -> None:
    composed = material(inputs={"query": "café", "doc": "line one\nline two"})
    decomposed = material(inputs={"query": "cafe\u0301  ", "doc": "  line one\r\nline two\n"})
    assert composed.digest() == decomposed.digest()
    # Interior whitespace can change what a model reads: it is kept.
    assert (
        material(inputs={"query": "a  b", "doc": "d"}).digest()
        != material(inputs={"query": "a b", "doc": "d"}).digest()
    )


def test_canonical_json_is_sorted_compact_utf8_and_rejects_nan() -> None:
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'.encode()
    with pytest.raises(ConfigError, match="not finite"):
        canonical_json({"temperature": float("nan")})
    with pytest.raises(ConfigError, match="unsupported type"):
        canonical_json({"x": object()})


def test_filter_params_is_an_allow_list() -> None:
    assert filter_params({"temperature": 0, "top_p": None, "organization": "org-1"}) == {
        "temperature": 0
    }


def test_normalize_text_examples() -> None:
    assert normalize_text("\u212b") == "\u00c5"  # the Angstrom sign composes to Å under NFC
    assert normalize_text(" a\rb ") == "a\nb"


def test_diff_material_names_the_parts_that_differ() -> None:
    a = material().as_dict()
    b = material(params={"temperature": 1.0}, inputs={"query": "q2", "doc": "x is y"}).as_dict()
    assert diff_material(a, b) == ["inputs.query", "params.temperature"]


@pytest.mark.parametrize(
    "inputs",
    [
        {"query": "what is x?", "doc": "x is y"},
        {"query": "  cafe\u0301\r\n", "doc": "naïve — “quotes” ✓ 日本語"},
        {"context": "a\tb", "answer": '"escaped" \\ backslash'},
    ],
)
def test_key_builder_matches_key_material(inputs: dict[str, str]) -> None:
    from judgecache.keys import KeyBuilder

    builder = KeyBuilder(GPT4O, RELEVANCE.key_material(), {"temperature": 0.0, "api_key": "x"})
    slow = KeyMaterial(GPT4O, RELEVANCE.key_material(), {"temperature": 0.0}, inputs)
    assert builder.digest(builder.normalize(inputs)) == slow.digest()


def test_pair_keyer_quotes_every_code_point_as_the_canonical_encoder() -> None:
    # The fast per-pair path quotes values with msgspec; one string holding every code point
    # (surrogates aside) must come out byte for byte as json.dumps(ensure_ascii=False) writes it.
    import json

    import msgspec

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert msgspec.json.encode(every) == json.dumps(every, ensure_ascii=False).encode("utf-8")


def _general(index: int, pair: object) -> tuple[str, dict[str, str]]:
    raise LookupError(f"pair {index} took the general path")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("what is x?", "x is y"),
        ("  cafe\u0301 ", "naïve — “quotes” ✓ 日本語"),
        ('"escaped" \\ back\tslash', "ctrl \x01 and \n newline"),
        ("z field order", "a"),
    ],
)
def test_pair_keys_match_the_general_path(first: str, second: str) -> None:
    from judgecache.keys import KeyBuilder

    for names in (("query", "doc"), ("context", "answer")):  # the two field orders
        builder = KeyBuilder(GPT4O, RELEVANCE.key_material(), {"temperature": 0.0})
        inputs = builder.normalize(dict(zip(names, (first, second), strict=True)))
        keys, unique = builder.pair_keys(names)([(first, second)], _general)
        assert keys == [builder.digest(inputs)]
        assert unique == {keys[0]: inputs}
        assert list(unique[keys[0]]) == list(names)  # the caller's field order, not sorted


@pytest.mark.parametrize(
    ("first", "second"), [("a\r\nb", "d"), ("q", "   "), ("q", "\ud800"), (1, "d"), (None, "d")]
)
def test_pair_keys_leave_odd_input_to_the_general_path(first: object, second: object) -> None:
    from judgecache.keys import KeyBuilder

    builder = KeyBuilder(GPT4O, RELEVANCE.key_material(), {})
    with pytest.raises(LookupError, match="pair 1 took the general path"):
        builder.pair_keys(("query", "doc"))([("q", "d"), (first, second)], _general)


def test_pair_keys_dedupe_in_order_and_mix_with_the_general_path() -> None:
    from judgecache.keys import KeyBuilder

    builder = KeyBuilder(GPT4O, RELEVANCE.key_material(), {})
    names = ("query", "doc")

    def general(index: int, pair: object) -> tuple[str, dict[str, str]]:
        assert isinstance(pair, list)  # only the list item is not a fast-path tuple
        inputs = builder.normalize(dict(zip(names, pair, strict=True)))
        return builder.digest(inputs), inputs

    keys, unique = builder.pair_keys(names)(
        [("q", "d"), ["q", "d"], ("q ", "e"), ("q", "d")], general
    )
    assert keys[0] == keys[1] == keys[3] != keys[2]
    assert list(unique) == [keys[0], keys[2]]
