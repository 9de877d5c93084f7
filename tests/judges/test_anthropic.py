"""AnthropicTeacher over httpx.MockTransport with the Messages API's documented shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from judgecache.envelope import Usage
from judgecache.errors import (
    AuthError,
    ConfigError,
    JudgeAPIError,
    RateLimitError,
    ServerError,
    VerdictParseError,
)
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teachers.anthropic import AnthropicTeacher

FAITHFULNESS = get_rubric("faithfulness")
RELEVANCE = get_rubric("relevance")
KEY = "sk-ant-api03-test-key"
PAIR = {"context": "The bridge opened in 1932.", "answer": "The bridge opened in 1932."}


def message(text: str, **overrides: Any) -> dict[str, Any]:
    """The documented shape of a Messages API response."""
    body: dict[str, Any] = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 2095,
            "output_tokens": 503,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }
    body.update(overrides)
    return body


def error_body(kind: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text}, "request_id": "req_011C"}


class Recorder:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].content)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def teacher_for(rec: Recorder, model: str = "claude-sonnet-4-0", **kw: Any) -> AnthropicTeacher:
    return AnthropicTeacher(model, transport=httpx.MockTransport(rec), **kw)


def test_request_and_answer() -> None:
    rec = Recorder(httpx.Response(200, json=message('{"label": 1, "reason": "Same year."}')))
    answer = teacher_for(rec).judge(FAITHFULNESS, PAIR)

    request = rec.requests[0]
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert rec.body == {
        "model": "claude-sonnet-4-0",
        "max_tokens": 256,
        "temperature": 0.0,
        "system": FAITHFULNESS.system,
        "messages": [{"role": "user", "content": FAITHFULNESS.render(PAIR)}],
    }
    assert KEY not in request.content.decode()
    assert (answer.label, answer.reason) == (1, "Same year.")
    assert answer.usage == Usage(2095, 503)
    assert answer.model_answered == "claude-sonnet-4-20250514"
    assert answer.cost_usd == pytest.approx((2095 * 3.0 + 503 * 15.0) / 1e6)


def test_key_params_exclude_transport_settings() -> None:
    a = AnthropicTeacher("claude-3-5-haiku-latest", max_tokens=64, extra_params={"top_k": 5})
    b = AnthropicTeacher(
        "claude-3-5-haiku-latest",
        max_tokens=64,
        extra_params={"top_k": 5},
        base_url="https://gateway.example/anthropic",
        api_key_env="OTHER",
        timeout_s=3,
    )
    assert a.key_params() == b.key_params() == {"max_tokens": 64, "temperature": 0.0, "top_k": 5}
    assert str(a.identity) == "anthropic:claude-3-5-haiku-latest"
    with pytest.raises(ConfigError, match="'stop_sequences' is not allowed"):
        AnthropicTeacher("m", extra_params={"stop_sequences": ["\n"]})


def test_thinking_blocks_are_skipped() -> None:
    body = message("unused")
    body["content"] = [
        {"type": "thinking", "thinking": "The years match... label 0? no.", "signature": "abc"},
        {"type": "text", "text": '{"label": 1, "reason": "ok"}'},
    ]
    answer = teacher_for(Recorder(httpx.Response(200, json=body))).judge(FAITHFULNESS, PAIR)
    assert answer.label == 1
    assert answer.raw_output == '{"label": 1, "reason": "ok"}'


def test_max_tokens_stop_is_reported() -> None:
    body = message('{"label": ', stop_reason="max_tokens")
    with pytest.raises(VerdictParseError, match="raise max_tokens"):
        teacher_for(Recorder(httpx.Response(200, json=body))).judge(FAITHFULNESS, PAIR)


def test_no_system_field_when_the_rubric_has_none() -> None:
    from dataclasses import replace

    rec = Recorder(httpx.Response(200, json=message("##final score: 2")))
    teacher_for(rec).judge(replace(RELEVANCE, system=""), {"query": "q", "doc": "d"})
    assert "system" not in rec.body


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    rec = Recorder(httpx.Response(200, json=message("1")))
    with pytest.raises(AuthError, match="ANTHROPIC_API_KEY"):
        teacher_for(rec).judge(FAITHFULNESS, PAIR)
    assert rec.requests == []


@pytest.mark.parametrize(
    ("status", "headers", "body", "error", "retry_after"),
    [
        (401, {}, error_body("authentication_error", "invalid x-api-key"), AuthError, None),
        (403, {}, error_body("permission_error", "no access to model"), AuthError, None),
        (
            429,
            {"retry-after": "12"},
            error_body(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
            RateLimitError,
            12.0,
        ),
        (529, {}, error_body("overloaded_error", "Overloaded"), ServerError, None),
        (500, {}, error_body("api_error", "Internal server error"), ServerError, None),
        (400, {}, error_body("invalid_request_error", "max_tokens: 0 < 1"), JudgeAPIError, None),
        (
            413,
            {},
            error_body("request_too_large", "Request exceeds the maximum size"),
            JudgeAPIError,
            None,
        ),
    ],
)
def test_status_codes(
    status: int,
    headers: dict[str, str],
    body: dict[str, Any],
    error: type[JudgeAPIError],
    retry_after: float | None,
) -> None:
    rec = Recorder(httpx.Response(status, headers=headers, json=body))
    with pytest.raises(error) as info:
        teacher_for(rec).judge(FAITHFULNESS, PAIR)
    assert type(info.value) is error
    assert info.value.status == status
    assert body["error"]["message"] in str(info.value)
    assert getattr(info.value, "retry_after", None) == retry_after
    assert KEY not in str(info.value)


def test_response_without_text_is_a_shape_error() -> None:
    body = message("x")
    body["content"] = [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]
    with pytest.raises(JudgeAPIError, match="no text content block"):
        teacher_for(Recorder(httpx.Response(200, json=body))).judge(FAITHFULNESS, PAIR)


async def test_async_path() -> None:
    rec = Recorder(httpx.Response(200, json=message('{"label": 0, "reason": "wrong year"}')))
    teacher = teacher_for(rec)
    try:
        answer = await teacher.ajudge(FAITHFULNESS, PAIR)
    finally:
        await teacher.aclose()
    assert (answer.label, answer.reason) == (0, "wrong year")
    assert rec.requests[0].headers["x-api-key"] == KEY


async def test_async_overloaded() -> None:
    rec = Recorder(httpx.Response(529, json=error_body("overloaded_error", "Overloaded")))
    teacher = teacher_for(rec)
    with pytest.raises(ServerError, match="Overloaded"):
        await teacher.ajudge(FAITHFULNESS, PAIR)
    await teacher.aclose()
