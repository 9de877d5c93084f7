"""Token prices: what a teacher call cost, and what a cache hit saved.

The table (USD per 1M input and output tokens) ships as package data in
``judgecache/data/prices.yaml``; ``$JUDGECACHE_PRICES`` or an explicit path replaces it. A model
id is priced by an exact entry, else by the longest entry it extends with a date or ``-latest``
suffix (``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-sonnet-4-20250514`` -> ``claude-sonnet-4``).
Other suffixes are *not* matched, so ``o3-pro`` is not priced as ``o3``: a wrong price is worse
than a missing one. A provider prefix such as ``openai/`` (LiteLLM style) is ignored.

An unknown model costs 0.0, is remembered in :attr:`PriceTable.unknown_models` and warns once, so
a report can say its dollar figures are incomplete instead of crashing a run.

Example:
    >>> from judgecache.envelope import Usage
    >>> table = PriceTable.load()
    >>> table.cost("gpt-4o-2024-08-06", Usage(input_tokens=1_000_000, output_tokens=100_000))
    3.5
    >>> table.estimate_cost("gpt-4o-mini", 2_000_000, 0)
    0.3
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from judgecache.envelope import Usage
from judgecache.errors import ConfigError

PRICES_ENV = "JUDGECACHE_PRICES"
TABLE_KEYS = ("as_of", "currency", "models")
MODEL_KEYS = ("input", "output")
# What may follow a priced model id: a release date (2024-08-06 or 20241022) or -latest.
_VERSION_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)")


class UnknownModelPriceWarning(UserWarning):
    """A model has no entry in the price table; its calls are costed at $0."""


@dataclass(frozen=True)
class ModelPrice:
    """USD per one million input and output tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok
        ) / 1_000_000


@dataclass
class PriceTable:
    """Model id -> :class:`ModelPrice`, with date-suffix matching and unknown-model tracking."""

    models: Mapping[str, ModelPrice]
    as_of: str = ""
    currency: str = "USD"
    source: str = ""
    unknown_models: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """Load ``path``, else ``$JUDGECACHE_PRICES``, else the packaged table.

        >>> PriceTable.load().price_for("claude-3-5-haiku-20241022")
        ModelPrice(input_per_mtok=0.8, output_per_mtok=4.0)
        """
        if path is None and (env := os.environ.get(PRICES_ENV)):
            path = env
        if path is not None:
            source = str(path)
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read price table {source}: {exc}") from exc
        else:
            resource = resources.files("judgecache").joinpath("data/prices.yaml")
            source = "judgecache/data/prices.yaml"
            text = resource.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"price table {source} is not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> PriceTable:
        """Build a table from the YAML structure; unknown keys are errors that list the valid ones.

        >>> PriceTable.from_dict({"models": {"m": {"input": 1, "output": 2}}}).estimate_cost("m", 10**6, 0)
        1.0
        """
        if not isinstance(data, dict):
            raise ConfigError(f"price table {source}: expected a mapping with keys {TABLE_KEYS}")
        unknown = sorted(set(data) - set(TABLE_KEYS))
        if unknown:
            raise ConfigError(
                f"price table {source}: unknown keys {unknown}; valid keys: {list(TABLE_KEYS)}"
            )
        raw_models = data.get("models")
        if not isinstance(raw_models, dict) or not raw_models:
            raise ConfigError(f"price table {source}: 'models' must be a non-empty mapping")
        models = {
            str(name): _model_price(source, str(name), entry) for name, entry in raw_models.items()
        }
        return cls(
            models=models,
            as_of=str(data.get("as_of") or ""),
            currency=str(data.get("currency") or "USD"),
            source=source,
        )

    def price_for(self, model: str) -> ModelPrice | None:
        """The price entry for ``model`` (exact, else the longest dated-prefix match), or None.

        >>> t = PriceTable.load()
        >>> t.price_for("gpt-4o-mini-2024-07-18") == t.models["gpt-4o-mini"]
        True
        >>> t.price_for("o3-pro") is None
        True
        """
        name = model.rsplit("/", 1)[-1].strip()
        if name in self.models:
            return self.models[name]
        best: str | None = None
        for key in self.models:
            if (
                name.startswith(key)
                and _VERSION_SUFFIX.fullmatch(name[len(key) :])
                and (best is None or len(key) > len(best))
            ):
                best = key
        return self.models[best] if best is not None else None

    def is_known(self, model: str) -> bool:
        """True when :meth:`price_for` finds an entry."""
        return self.price_for(model) is not None

    def estimate_cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD for the given token counts; 0.0 (recorded, warned once) for an unknown model."""
        price = self.price_for(model)
        if price is None:
            self._note_unknown(model)
            return 0.0
        return price.cost(input_tokens, output_tokens)

    def estimate_prompt_cost(self, model: str, prompt: str, output_tokens: int = 10) -> float:
        """USD for a call whose usage is unknown (imported labels, a student's saved call):
        about 4 characters per prompt token, and a short answer.

        >>> table = PriceTable.from_dict({"models": {"m": {"input": 1.0, "output": 0.0}}})
        >>> table.estimate_prompt_cost("m", "x" * 3996)
        0.001
        """
        return self.estimate_chars_cost(model, len(prompt), output_tokens)

    def estimate_chars_cost(self, model: str, prompt_chars: int, output_tokens: int = 10) -> float:
        """:meth:`estimate_prompt_cost` from the prompt's length alone (no prompt to build).

        >>> table = PriceTable.from_dict({"models": {"m": {"input": 1.0, "output": 0.0}}})
        >>> table.estimate_chars_cost("m", 3996)
        0.001
        """
        return self.estimate_cost(model, prompt_chars // 4 + 1, output_tokens)

    def cost(self, model: str, usage: Usage) -> float:
        """USD for one call's :class:`~judgecache.envelope.Usage`."""
        return self.estimate_cost(model, usage.input_tokens, usage.output_tokens)

    def _note_unknown(self, model: str) -> None:
        with self._lock:
            if model in self.unknown_models:
                return
            self.unknown_models.add(model)
        warnings.warn(
            f"no price for model {model!r} in {self.source or 'the price table'}; "
            f"its calls are costed at $0 (add it to a table set with ${PRICES_ENV})",
            UnknownModelPriceWarning,
            stacklevel=3,
        )


def _model_price(source: str, name: str, entry: Any) -> ModelPrice:
    where = f"price table {source}: model {name!r}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {list(MODEL_KEYS)}")
    unknown = sorted(set(entry) - set(MODEL_KEYS))
    missing = [k for k in MODEL_KEYS if k not in entry]
    if unknown or missing:
        raise ConfigError(
            f"{where}: unknown keys {unknown}, missing keys {missing}; valid keys: {list(MODEL_KEYS)}"
        )
    values: list[float] = []
    for key in MODEL_KEYS:
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}: {key} must be a non-negative number, got {value!r}")
        values.append(float(value))
    return ModelPrice(values[0], values[1])


_default: PriceTable | None = None
_default_lock = threading.Lock()


def default_prices() -> PriceTable:
    """The process-wide table from :meth:`PriceTable.load` (loaded once, on first use).

    >>> default_prices() is default_prices()
    True
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = PriceTable.load()
        return _default
