"""A teacher behind Anthropic's Messages API.

``POST {base_url}/v1/messages`` with headers ``x-api-key`` and ``anthropic-version``; the body
carries ``model``, ``max_tokens``, ``system`` (the rubric's), one user message and ``temperature``.
The answer is the text of the response's ``text`` content blocks (``content[0].text`` in the
common case; other block types such as ``thinking`` are skipped).

Example:
    >>> import httpx, os
    >>> os.environ["DOCTEST_ANTHROPIC_KEY"] = "sk-ant-test"
    >>> def handler(request):
    ...     return httpx.Response(200, json={"id": "msg_1", "type": "message", "role": "assistant",
    ...         "model": "claude-sonnet-4-20250514", "stop_reason": "end_turn",
    ...         "content": [{"type": "text", "text": '{"label": 0, "reason": "unsupported"}'}],
    ...         "usage": {"input_tokens": 500, "output_tokens": 20}})
    >>> from judgecache.judges.rubric import get_rubric
    >>> t = AnthropicTeacher("claude-sonnet-4-0", api_key_env="DOCTEST_ANTHROPIC_KEY",
    ...                      transport=httpx.MockTransport(handler))
    >>> a = t.judge(get_rubric("faithfulness"), {"context": "c", "answer": "a"})
    >>> a.label, a.reason, a.cost_usd
    (0, 'unsupported', 0.0018)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgecache.envelope import Usage
from judgecache.errors import ConfigError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teachers.http import (
    Completion,
    HTTPTeacher,
    PreparedRequest,
    Transport,
    add_extra_params,
    api_key_from_env,
    int_field,
    shape_error,
)
from judgecache.keys import JudgeIdentity
from judgecache.prices import PriceTable

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
_EXPLICIT = frozenset({"temperature", "max_tokens", "system"})


class AnthropicTeacher(HTTPTeacher):
    """A Claude model as a judge.

    ``extra_params`` passes further parameters from the cache-key allow-list (``top_p``,
    ``top_k``, ``thinking``); others are refused, because a parameter that changes answers but
    not the key would poison the cache. ``temperature=None`` leaves the API default.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = ANTHROPIC_BASE_URL,
        api_key_env: str = "ANTHROPIC_API_KEY",
        temperature: float | None = 0.0,
        max_tokens: int = 256,
        anthropic_version: str = ANTHROPIC_VERSION,
        extra_params: Mapping[str, Any] | None = None,
        version: str = "",
        timeout_s: float = 60.0,
        transport: Transport | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        if not model or not model.strip():
            raise ConfigError("model must be a non-empty model id")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if max_tokens <= 0:
            raise ConfigError(f"max_tokens must be positive, got {max_tokens!r}")
        self.provider = "anthropic"
        self.model = model
        self.identity = JudgeIdentity("anthropic", model, version)
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.anthropic_version = anthropic_version
        self._params: dict[str, Any] = {"max_tokens": int(max_tokens)}
        if temperature is not None:
            self._params["temperature"] = float(temperature)
        add_extra_params(self._params, extra_params, _EXPLICIT)
        super().__init__(timeout_s=timeout_s, transport=transport, prices=prices)

    def key_params(self) -> dict[str, Any]:
        """The output-affecting parameters exactly as sent (no base URL, key or timeout)."""
        return dict(self._params)

    def prepare(self, rubric: Rubric, inputs: Mapping[str, str]) -> PreparedRequest:
        headers = {
            "x-api-key": api_key_from_env(self.api_key_env, self.provider),
            "anthropic-version": self.anthropic_version,
            "accept": "application/json",
        }
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": rubric.render(inputs)}],
            **self._params,
        }
        if rubric.system:
            body["system"] = rubric.system
        return PreparedRequest(f"{self.base_url}/v1/messages", headers, body)

    def extract(self, data: Any) -> Completion:
        content = data.get("content") if isinstance(data, dict) else None
        if not isinstance(content, list):
            raise shape_error(self.provider, "no content", data)
        texts = [
            block["text"]
            for block in content
            if isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        ]
        if not texts:
            raise shape_error(self.provider, "no text content block", data)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        model = data.get("model")
        return Completion(
            text="".join(texts),
            usage=Usage(int_field(usage, "input_tokens"), int_field(usage, "output_tokens")),
            model=model if isinstance(model, str) and model else None,
            truncated=data.get("stop_reason") == "max_tokens",
        )
