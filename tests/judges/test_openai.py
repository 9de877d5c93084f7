"""OpenAICompatibleTeacher over httpx.MockTransport with the API's documented response shapes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from judgecache import Judge
from judgecache.envelope import Usage
from judgecache.errors import (
    AuthError,
    ConfigError,
    JudgeAPIError,
    RateLimitError,
    ServerError,
    TeacherTimeoutError,
    VerdictParseError,
)
from judgecache.judges.rubric import get_rubric
from judgecache.judges.teachers.http import parse_retry_after
from judgecache.judges.teachers.openai import OpenAICompatibleTeacher
from judgecache.keys import filter_params
from judgecache.prices import PriceTable, UnknownModelPriceWarning

RELEVANCE = get_rubric("relevance")
FAITHFULNESS = get_rubric("faithfulness")
KEY = "sk-test-0123456789abcdef"
PAIR = {"query": "do goldfish grow", "doc": "Goldfish grow to about 30 cm in ponds."}


def chat_completion(content: str | None, **overrides: Any) -> dict[str, Any]:
    """The documented shape of a chat.completion object (as returned by POST /chat/completions)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1117,
            "completion_tokens": 46,
            "total_tokens": 1163,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }
    body.update(overrides)
    return body


def api_error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class Recorder:
    """A MockTransport handler that records every request and answers from a list."""

    def __init__(self, *responses: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return item(request) if callable(item) else item

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].content)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def teacher_for(recorder: Recorder, model: str = "gpt-4o", **kw: Any) -> OpenAICompatibleTeacher:
    return OpenAICompatibleTeacher(model, transport=httpx.MockTransport(recorder), **kw)


def test_request_body_headers_and_parsed_answer() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("M: 3\nT: 2\n##final score: 3")))
    answer = teacher_for(rec, seed=7).judge(RELEVANCE, PAIR)

    request = rec.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert rec.body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": RELEVANCE.system},
            {"role": "user", "content": RELEVANCE.render(PAIR)},
        ],
        "temperature": 0.0,
        "max_tokens": 256,
        "seed": 7,
    }
    assert KEY not in request.content.decode()
    assert answer.label == 3
    assert answer.raw_output == "M: 3\nT: 2\n##final score: 3"
    assert answer.usage == Usage(1117, 46)
    assert answer.model_answered == "gpt-4o-2024-08-06"
    assert answer.cost_usd == pytest.approx((1117 * 2.50 + 46 * 10.00) / 1e6)


def test_key_params_are_what_is_sent_and_nothing_else() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("2")))
    a = teacher_for(rec, response_format="json_object", extra_params={"top_p": 0.5})
    b = OpenAICompatibleTeacher(
        "gpt-4o",
        base_url="http://proxy.internal:4000/v1",
        api_key_env="OTHER_KEY",
        timeout_s=5,
        response_format="json_object",
        extra_params={"top_p": 0.5},
    )
    expected = {
        "temperature": 0.0,
        "max_tokens": 256,
        "response_format": {"type": "json_object"},
        "top_p": 0.5,
    }
    assert a.key_params() == b.key_params() == filter_params(a.key_params()) == expected
    assert a.identity == b.identity
    a.judge(RELEVANCE, PAIR)
    sent = {k: v for k, v in rec.body.items() if k not in ("model", "messages")}
    assert sent == expected


def test_parameters_change_the_key_params() -> None:
    base = OpenAICompatibleTeacher("gpt-4o").key_params()
    assert OpenAICompatibleTeacher("gpt-4o", temperature=0.7).key_params() != base
    assert OpenAICompatibleTeacher("gpt-4o", max_tokens=64).key_params() != base
    assert OpenAICompatibleTeacher("gpt-4o", seed=1).key_params() != base


def test_extra_params_outside_the_allow_list_are_refused() -> None:
    with pytest.raises(ConfigError, match="'min_p' is not allowed"):
        OpenAICompatibleTeacher("m", extra_params={"min_p": 0.1})
    with pytest.raises(ConfigError, match="'temperature' is not allowed"):
        OpenAICompatibleTeacher("m", extra_params={"temperature": 0.1})


def test_reasoning_models_get_max_completion_tokens_and_no_default_temperature() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("##final score: 1", model="o4-mini")))
    teacher = teacher_for(rec, model="o4-mini")
    teacher.judge(RELEVANCE, PAIR)
    assert "temperature" not in rec.body
    assert "max_tokens" not in rec.body
    assert rec.body["max_completion_tokens"] == 4096
    assert teacher.key_params() == {"max_completion_tokens": 4096}


def test_missing_key_is_an_auth_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    rec = Recorder(httpx.Response(200, json=chat_completion("2")))
    teacher = teacher_for(rec)
    with pytest.raises(AuthError, match="OPENAI_API_KEY"):
        teacher.judge(RELEVANCE, PAIR)
    assert rec.requests == []
    # The key is read at call time: setting it later is enough.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-late")
    assert teacher.judge(RELEVANCE, PAIR).label == 2
    assert rec.requests[0].headers["authorization"] == "Bearer sk-late"


def test_compatible_server_without_key_sends_no_authorization() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("1", model="llama3.1:8b")))
    teacher = teacher_for(
        rec,
        model="llama3.1:8b",
        base_url="http://localhost:11434/v1/",
        api_key_env=None,
        provider="openai-compatible",
        prices=PriceTable.from_dict({"models": {"llama3.1:8b": {"input": 0, "output": 0}}}),
    )
    answer = teacher.judge(RELEVANCE, PAIR)
    assert str(rec.requests[0].url) == "http://localhost:11434/v1/chat/completions"
    assert "authorization" not in rec.requests[0].headers
    assert str(teacher.identity) == "openai-compatible:llama3.1:8b"
    assert (answer.label, answer.model_answered) == (1, "llama3.1:8b")


def test_unpriced_model_costs_zero_and_warns_once() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("1", model="my-local-judge")))
    prices = PriceTable.load()
    teacher = teacher_for(rec, model="my-local-judge", prices=prices)
    with pytest.warns(UnknownModelPriceWarning, match="my-local-judge"):
        assert teacher.judge(RELEVANCE, PAIR).cost_usd == 0.0
    assert prices.unknown_models == {"my-local-judge"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "error", "retry_after"),
    [
        (
            401,
            {},
            api_error(
                "Incorrect API key provided: sk-test***cdef.",
                "invalid_request_error",
                "invalid_api_key",
            ),
            AuthError,
            None,
        ),
        (403, {}, api_error("Country not supported", "request_forbidden", None), AuthError, None),
        (
            429,
            {"retry-after": "7"},
            api_error(
                "Rate limit reached for gpt-4o on tokens per min (TPM)",
                "tokens",
                "rate_limit_exceeded",
            ),
            RateLimitError,
            7.0,
        ),
        (
            429,
            {"retry-after-ms": "1500", "retry-after": "2"},
            api_error("slow down", "requests", None),
            RateLimitError,
            1.5,
        ),
        (500, {}, api_error("The server had an error", "server_error", None), ServerError, None),
        (503, {"retry-after": "30"}, {"error": "model is loading"}, ServerError, 30.0),
        (
            400,
            {},
            api_error("'messages' must contain the word 'json'", "invalid_request_error", None),
            JudgeAPIError,
            None,
        ),
        (
            404,
            {},
            api_error(
                "The model `gpt-9` does not exist", "invalid_request_error", "model_not_found"
            ),
            JudgeAPIError,
            None,
        ),
        (408, {}, {"error": "request timeout"}, TeacherTimeoutError, None),
    ],
)
def test_status_codes_map_to_typed_errors(
    status: int,
    headers: dict[str, str],
    body: dict[str, Any],
    error: type[JudgeAPIError],
    retry_after: float | None,
) -> None:
    rec = Recorder(httpx.Response(status, headers=headers, json=body))
    with pytest.raises(error) as info:
        teacher_for(rec).judge(RELEVANCE, PAIR)
    exc = info.value
    assert type(exc) is error
    assert exc.status == status
    assert exc.retryable is (status in (408, 429) or status >= 500)
    assert getattr(exc, "retry_after", None) == retry_after
    message = body["error"]["message"] if isinstance(body["error"], dict) else body["error"]
    assert message in str(exc)
    assert KEY not in str(exc)


def test_retry_after_http_date() -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
    rec = Recorder(httpx.Response(429, headers={"retry-after": format_datetime(when, usegmt=True)}))
    with pytest.raises(RateLimitError) as info:
        teacher_for(rec).judge(RELEVANCE, PAIR)
    assert info.value.retry_after is not None
    assert 110 <= info.value.retry_after <= 120


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


def test_timeouts_and_unreachable_servers() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(TeacherTimeoutError, match=r"no answer within 2s \(ReadTimeout\)"):
        teacher_for(Recorder(timeout), timeout_s=2).judge(RELEVANCE, PAIR)
    teacher = teacher_for(Recorder(refused), base_url="http://user:pw@localhost:9/v1")
    with pytest.raises(ServerError, match="cannot reach http://localhost") as info:
        teacher.judge(RELEVANCE, PAIR)
    assert "pw" not in str(info.value)


def test_unparseable_output_is_a_parse_error_with_the_raw_text() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("I cannot judge this passage.")))
    with pytest.raises(VerdictParseError) as info:
        teacher_for(rec).judge(RELEVANCE, PAIR)
    assert info.value.raw_output == "I cannot judge this passage."


def test_truncated_output_says_to_raise_max_tokens() -> None:
    body = chat_completion("Let me consider the intent of the query. The user")
    body["choices"][0]["finish_reason"] = "length"
    with pytest.raises(VerdictParseError, match="raise max_tokens"):
        teacher_for(Recorder(httpx.Response(200, json=body))).judge(RELEVANCE, PAIR)


def test_refusal_is_a_parse_error() -> None:
    body = chat_completion(None)
    body["choices"][0]["message"]["refusal"] = "I'm sorry, I can't help with that."
    with pytest.raises(VerdictParseError, match="refused") as info:
        teacher_for(Recorder(httpx.Response(200, json=body))).judge(RELEVANCE, PAIR)
    assert info.value.raw_output == "I'm sorry, I can't help with that."


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>bad gateway page</html>"),
        httpx.Response(200, json={"object": "chat.completion", "choices": []}),
        httpx.Response(200, json=[1, 2]),
    ],
)
def test_malformed_success_bodies(response: httpx.Response) -> None:
    with pytest.raises(JudgeAPIError) as info:
        teacher_for(Recorder(response)).judge(RELEVANCE, PAIR)
    assert not info.value.retryable


def test_json_rubric_reason_is_kept() -> None:
    content = '```json\n{"label": 0, "reason": "The answer invents a date."}\n```'
    rec = Recorder(httpx.Response(200, json=chat_completion(content)))
    teacher = teacher_for(rec, response_format={"type": "json_object"})
    answer = teacher.judge(FAITHFULNESS, {"context": "It rained.", "answer": "It rained in 1990."})
    assert (answer.label, answer.reason) == (0, "The answer invents a date.")
    assert rec.body["response_format"] == {"type": "json_object"}


def test_logprobs_give_the_expected_grade() -> None:
    def top(token: str, logprob: float, alternatives: dict[str, float]) -> dict[str, Any]:
        return {
            "token": token,
            "logprob": logprob,
            "bytes": list(token.encode()),
            "top_logprobs": [
                {"token": t, "logprob": math.log(p), "bytes": list(t.encode())}
                for t, p in alternatives.items()
            ],
        }

    body = chat_completion("##final score: 2")
    body["choices"][0]["logprobs"] = {
        "content": [
            top("##", -0.01, {"##": 0.99}),
            top("final", -0.01, {"final": 0.99}),
            top(" score", -0.01, {" score": 0.99}),
            top(":", -0.01, {":": 0.99}),
            top(" 2", math.log(0.6), {" 2": 0.6, " 3": 0.2, " 1": 0.1, "2": 0.05, "x": 0.05}),
        ],
        "refusal": None,
    }
    rec = Recorder(httpx.Response(200, json=body))
    answer = teacher_for(rec, logprobs=True, top_logprobs=5).judge(RELEVANCE, PAIR)
    assert rec.body["logprobs"] is True
    assert rec.body["top_logprobs"] == 5
    # Renormalised over the grade tokens: p(1)=0.1, p(2)=0.65, p(3)=0.2 of 0.95.
    assert answer.label == 2
    assert answer.score == pytest.approx((1 * 0.1 + 2 * 0.65 + 3 * 0.2) / 0.95)


def test_logprobs_absent_leaves_the_score_unset() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("##final score: 2")))
    assert teacher_for(rec, logprobs=True).judge(RELEVANCE, PAIR).score is None


async def test_async_path_sends_the_same_request() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("##final score: 1")))
    teacher = teacher_for(rec)
    try:
        answer = await teacher.ajudge(RELEVANCE, PAIR)
        assert answer.label == 1
        assert rec.requests[0].headers["authorization"] == f"Bearer {KEY}"
        assert rec.body["messages"][1]["content"] == RELEVANCE.render(PAIR)
    finally:
        await teacher.aclose()


async def test_async_errors_are_typed() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"retry-after": "3"}, json=api_error("slow", "tokens", None))
    )
    teacher = teacher_for(rec)
    with pytest.raises(RateLimitError) as info:
        await teacher.ajudge(RELEVANCE, PAIR)
    assert info.value.retry_after == 3.0
    await teacher.aclose()


def test_one_client_is_reused_across_calls() -> None:
    rec = Recorder(httpx.Response(200, json=chat_completion("2")))
    teacher = teacher_for(rec)
    teacher.judge(RELEVANCE, PAIR)
    first = teacher._http._client
    teacher.judge(RELEVANCE, {"query": "q2", "doc": "d2"})
    assert teacher._http._client is first
    teacher.close()
    assert teacher._http._client is None


def test_judge_retries_a_429_then_caches_the_answer() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"retry-after": "0"}, json=api_error("slow", "tokens", None)),
        httpx.Response(200, json=chat_completion("##final score: 3")),
    )
    with Judge(teacher_for(rec), cache="memory://") as judge:
        first = judge.score(PAIR["query"], PAIR["doc"])
        again = judge.score(PAIR["query"], PAIR["doc"])
    assert (first.label, first.cached, again.cached) == (3, False, True)
    assert len(rec.requests) == 2
    assert first.envelope.model_answered == "gpt-4o-2024-08-06"
    assert first.envelope.usage == Usage(1117, 46)
