"""The price table: packaged data, dated-id matching, unknown models, overrides, validation."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from judgecache.envelope import Usage
from judgecache.errors import ConfigError
from judgecache.prices import PRICES_ENV, ModelPrice, PriceTable, UnknownModelPriceWarning

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> PriceTable:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    return PriceTable.load()


def test_packaged_prices(table: PriceTable) -> None:
    assert table.models["gpt-4o"] == ModelPrice(2.50, 10.00)
    assert table.models["gpt-4o-mini"] == ModelPrice(0.15, 0.60)
    assert table.as_of and table.currency == "USD"
    assert {
        "gpt-4.1",
        "gpt-4.1-mini",
        "o3",
        "o4-mini",
        "claude-sonnet-4",
        "claude-3-5-haiku",
    } <= set(table.models)


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # longest prefix, not gpt-4o
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("openai/gpt-4o", "gpt-4o"),
    ],
)
def test_dated_and_prefixed_ids(table: PriceTable, model: str, entry: str) -> None:
    assert table.price_for(model) == table.models[entry]


@pytest.mark.parametrize(
    "model", ["o3-pro", "gpt-4o-audio-preview", "gpt-4ox", "llama3", "gpt-4-0613"]
)
def test_other_suffixes_are_not_guessed(table: PriceTable, model: str) -> None:
    assert table.price_for(model) is None


def test_cost_and_estimate(table: PriceTable) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000)
    assert table.cost("gpt-4o-2024-08-06", usage) == pytest.approx(2.50 + 1.00)
    assert table.estimate_cost("claude-3-haiku-20240307", 400, 10) == pytest.approx(
        (400 * 0.25 + 10 * 1.25) / 1e6
    )


def test_unknown_model_costs_zero_is_flagged_and_warns_once(table: PriceTable) -> None:
    with pytest.warns(UnknownModelPriceWarning, match="'mystery-model'"):
        assert table.cost("mystery-model", Usage(100, 10)) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert table.estimate_cost("mystery-model", 1, 1) == 0.0
    assert table.unknown_models == {"mystery-model"}
    assert not table.is_known("mystery-model") and table.is_known("gpt-4o")


def test_env_and_path_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "prices.yaml"
    custom.write_text("models:\n  house-judge: {input: 1.0, output: 2.0}\n")
    monkeypatch.setenv(PRICES_ENV, str(custom))
    from_env = PriceTable.load()
    assert set(from_env.models) == {"house-judge"}
    assert from_env.estimate_cost("house-judge", 1_000_000, 1_000_000) == 3.0
    monkeypatch.delenv(PRICES_ENV)
    assert set(PriceTable.load(custom).models) == {"house-judge"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "modles: {}\n",
            r"unknown keys \['modles'\]; valid keys: \['as_of', 'currency', 'models'\]",
        ),
        (
            "models:\n  m: {input: 1, output: 2, cached: 0.5}\n",
            r"model 'm': unknown keys \['cached'\]",
        ),
        ("models:\n  m: {input: 1}\n", r"missing keys \['output'\]"),
        ("models:\n  m: {input: -1, output: 2}\n", "input must be a non-negative number"),
        ("models:\n  m: {input: cheap, output: 2}\n", "input must be a non-negative number"),
        ("models: {}\n", "'models' must be a non-empty mapping"),
        ("- a list\n", "expected a mapping"),
        ("models: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_tables(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        PriceTable.load(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read price table"):
        PriceTable.load(tmp_path / "nope.yaml")


def test_configs_link_is_the_packaged_table(table: PriceTable) -> None:
    linked = REPO / "configs" / "prices.yaml"
    assert linked.is_symlink()
    assert linked.resolve() == (REPO / "judgecache" / "data" / "prices.yaml").resolve()
    assert PriceTable.load(linked).models == table.models
