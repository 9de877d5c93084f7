"""Teachers behind the OpenAI chat-completions API, or any server that speaks it.

``POST {base_url}/chat/completions`` with a system message (the rubric's ``system``) and a user
message (the rendered template). Works with OpenAI, vLLM, Ollama, LiteLLM and other compatible
servers through ``base_url``.

Output-affecting parameters are sent only when set and are reported by :meth:`key_params`
exactly as sent. Reasoning models (``o1``, ``o3``, ``o4-mini``, ``gpt-5`` families) get
``max_completion_tokens`` instead of ``max_tokens`` and do not get the default temperature of 0.0,
which they reject. The API key is read from ``api_key_env`` at call time; ``api_key_env=None``
sends no ``Authorization`` header (local servers).

Example:
    >>> import httpx, json, os
    >>> os.environ["DOCTEST_KEY"] = "sk-test"
    >>> def handler(request):
    ...     body = json.loads(request.content)
    ...     return httpx.Response(200, json={"model": body["model"] + "-2024-08-06",
    ...         "choices": [{"index": 0, "finish_reason": "stop",
    ...                      "message": {"role": "assistant", "content": "##final score: 3"}}],
    ...         "usage": {"prompt_tokens": 1000, "completion_tokens": 5, "total_tokens": 1005}})
    >>> from judgecache.judges.rubric import get_rubric
    >>> t = OpenAICompatibleTeacher("gpt-4o", api_key_env="DOCTEST_KEY",
    ...                             transport=httpx.MockTransport(handler))
    >>> a = t.judge(get_rubric("relevance"), {"query": "q", "doc": "d"})
    >>> a.label, a.model_answered, a.cost_usd
    (3, 'gpt-4o-2024-08-06', 0.00255)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from judgecache.envelope import Usage
from judgecache.errors import ConfigError, VerdictParseError
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import TeacherAnswer
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

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MAX_TOKENS = 256
DEFAULT_REASONING_MAX_TOKENS = 4096
_REASONING = re.compile(r"^(?:o\d|gpt-5)")
_EXPLICIT = frozenset(
    {"temperature", "max_tokens", "max_completion_tokens", "seed", "response_format", "logprobs"}
)


def is_reasoning_model(model: str) -> bool:
    """True for model families that take ``max_completion_tokens`` and no custom temperature.

    >>> is_reasoning_model("o4-mini"), is_reasoning_model("openai/gpt-5-mini"), is_reasoning_model("gpt-4o")
    (True, True, False)
    """
    return bool(_REASONING.match(model.rsplit("/", 1)[-1]))


class OpenAICompatibleTeacher(HTTPTeacher):
    """A judge model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    ``max_tokens=None`` means 256 (4,096 for reasoning models, whose hidden reasoning counts
    against the limit). ``response_format`` takes the API's object or a type name such as
    ``"json_object"``. ``extra_params`` passes further allow-listed parameters (``top_p``,
    ``reasoning_effort``...); anything outside the cache-key allow-list is refused, because a
    parameter that changes answers but not the key would poison the cache. ``logprobs=True``
    asks for ``top_logprobs`` and, on integer scales, sets ``score`` to the expected label under
    the answer token's distribution. ``provider`` and ``version`` go into the judge identity
    (``openai-compatible`` for self-hosted servers keeps their labels apart from OpenAI's).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = OPENAI_BASE_URL,
        api_key_env: str | None = "OPENAI_API_KEY",
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        response_format: Mapping[str, Any] | str | None = None,
        logprobs: bool = False,
        top_logprobs: int = 5,
        extra_params: Mapping[str, Any] | None = None,
        provider: str = "openai",
        version: str = "",
        timeout_s: float = 60.0,
        transport: Transport | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        if not model or not model.strip():
            raise ConfigError("model must be a non-empty model id")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.provider = provider
        self.model = model
        self.identity = JudgeIdentity(provider, model, version)
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.logprobs = bool(logprobs)
        self._params = self._build_params(
            temperature, max_tokens, seed, response_format, top_logprobs, extra_params
        )
        super().__init__(timeout_s=timeout_s, transport=transport, prices=prices)

    def _build_params(
        self,
        temperature: float | None,
        max_tokens: int | None,
        seed: int | None,
        response_format: Mapping[str, Any] | str | None,
        top_logprobs: int,
        extra_params: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        reasoning = is_reasoning_model(self.model)
        params: dict[str, Any] = {}
        # Reasoning models reject any temperature but their own; only the default is dropped.
        if temperature is not None and not (reasoning and temperature == 0.0):
            params["temperature"] = float(temperature)
        limit = max_tokens or (DEFAULT_REASONING_MAX_TOKENS if reasoning else DEFAULT_MAX_TOKENS)
        if limit <= 0:
            raise ConfigError(f"max_tokens must be positive, got {max_tokens!r}")
        params["max_completion_tokens" if reasoning else "max_tokens"] = limit
        if seed is not None:
            params["seed"] = int(seed)
        if isinstance(response_format, str):
            params["response_format"] = {"type": response_format}
        elif response_format is not None:
            params["response_format"] = dict(response_format)
        if self.logprobs:
            if not 0 < top_logprobs <= 20:
                raise ConfigError(f"top_logprobs must be in 1..20, got {top_logprobs!r}")
            params["logprobs"] = True
            params["top_logprobs"] = top_logprobs
        # The system prompt comes from the rubric, never from extra parameters.
        add_extra_params(params, extra_params, _EXPLICIT | {"system"})
        return params

    def key_params(self) -> dict[str, Any]:
        """The output-affecting parameters exactly as sent (no base URL, key or timeout)."""
        return dict(self._params)

    def prepare(self, rubric: Rubric, inputs: Mapping[str, str]) -> PreparedRequest:
        headers = {"accept": "application/json"}
        if self.api_key_env:
            headers["authorization"] = f"Bearer {api_key_from_env(self.api_key_env, self.provider)}"
        messages = []
        if rubric.system:
            messages.append({"role": "system", "content": rubric.system})
        messages.append({"role": "user", "content": rubric.render(inputs)})
        body = {"model": self.model, "messages": messages, **self._params}
        return PreparedRequest(f"{self.base_url}/chat/completions", headers, body)

    def extract(self, data: Any) -> Completion:
        choice = _first_choice(self.provider, data)
        message = choice.get("message")
        if not isinstance(message, dict):
            raise shape_error(self.provider, "choices[0].message", data)
        content = message.get("content")
        if isinstance(content, list):  # some compatible servers return content parts
            content = "".join(
                str(part.get("text", "")) for part in content if isinstance(part, dict)
            )
        if not isinstance(content, str):
            refusal = message.get("refusal")
            if isinstance(refusal, str) and refusal:
                raise VerdictParseError("the model refused to answer", raw_output=refusal)
            raise shape_error(self.provider, "choices[0].message.content", data)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        model = data.get("model")
        return Completion(
            text=content,
            usage=Usage(int_field(usage, "prompt_tokens"), int_field(usage, "completion_tokens")),
            model=model if isinstance(model, str) and model else None,
            truncated=choice.get("finish_reason") == "length",
        )

    def answer(self, rubric: Rubric, data: Any) -> TeacherAnswer:
        result = super().answer(rubric, data)
        if not self.logprobs:
            return result
        expected = expected_label(rubric, result.label, _first_choice(self.provider, data))
        return replace(result, score=expected) if expected is not None else result


def _first_choice(provider: str, data: Any) -> dict[str, Any]:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise shape_error(provider, "no choices", data)
    return choices[0]


def expected_label(rubric: Rubric, label: object, choice: Mapping[str, Any]) -> float | None:
    """The expected label under the top-logprob distribution of the token that gave ``label``.

    Only for integer scales; ``None`` when the response has no usable logprobs. The answer token
    is the first one spelling the label for JSON rubrics (the label precedes the reason) and the
    last one otherwise (``##final score: 2`` ends the output).

    >>> from judgecache.judges.rubric import get_rubric
    >>> lp = {"content": [{"token": "2", "logprob": -0.1, "top_logprobs": [
    ...     {"token": "2", "logprob": math.log(0.75)}, {"token": "3", "logprob": math.log(0.25)}]}]}
    >>> expected_label(get_rubric("relevance"), 2, {"logprobs": lp})
    2.25
    """
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in rubric.labels):
        return None
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    matches = [
        entry
        for entry in content
        if isinstance(entry, dict) and str(entry.get("token", "")).strip() == str(label)
    ]
    if not matches:
        return None
    entry = matches[0] if rubric.parser == "json" else matches[-1]
    by_label: dict[int, float] = {}
    allowed = {str(x): int(x) for x in rubric.labels if isinstance(x, int)}
    for top in entry.get("top_logprobs") or []:
        if not isinstance(top, dict):
            continue
        token, logprob = str(top.get("token", "")).strip(), top.get("logprob")
        if token in allowed and isinstance(logprob, int | float) and math.isfinite(logprob):
            # " 2" and "2" are different tokens for the same label: add them up.
            by_label[allowed[token]] = by_label.get(allowed[token], 0.0) + math.exp(logprob)
    total = sum(by_label.values())
    if total <= 0.0:
        return None
    return sum(grade * p for grade, p in by_label.items()) / total
