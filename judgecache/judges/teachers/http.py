"""Shared HTTP plumbing for API teachers: one httpx client per teacher and typed errors.

Every call is one honest request: no retry loop here (the Judge owns retries, so every teacher
gets the same policy). Status codes map onto :mod:`judgecache.errors`: 401/403
:class:`AuthError`, 408 and client-side timeouts :class:`TeacherTimeoutError`, 429
:class:`RateLimitError` and 5xx :class:`ServerError` (both with the server's ``Retry-After``),
any other 4xx :class:`JudgeAPIError` with the API's own message. Credentials are read from an
environment variable at call time, so a key is never stored on the teacher or in the cache.

Example:
    >>> parse_retry_after("7")
    7.0
    >>> import httpx
    >>> err = error_from_response(httpx.Response(429, headers={"retry-after": "2"}), "openai")
    >>> type(err).__name__, err.retry_after
    ('RateLimitError', 2.0)
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import math
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from judgecache.envelope import Usage
from judgecache.errors import (
    AuthError,
    ConfigError,
    JudgeAPIError,
    JudgecacheError,
    RateLimitError,
    ServerError,
    TeacherTimeoutError,
    VerdictParseError,
)
from judgecache.judges.parsing import parse_output
from judgecache.judges.rubric import Rubric
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.keys import OUTPUT_AFFECTING_PARAMS
from judgecache.prices import PriceTable, default_prices

Transport = httpx.BaseTransport | httpx.AsyncBaseTransport


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date (never negative).

    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC))
    30.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retry_after(response: httpx.Response) -> float | None:
    # OpenAI also sends retry-after-ms, which is more precise than whole seconds.
    millis = response.headers.get("retry-after-ms")
    if millis is not None:
        parsed = parse_retry_after(millis)
        if parsed is not None:
            return parsed / 1000.0
    return parse_retry_after(response.headers.get("retry-after"))


def api_message(response: httpx.Response) -> str:
    """The API's own error message from an error body (OpenAI, Anthropic, vLLM, Ollama shapes).

    >>> api_message(httpx.Response(400, json={"error": {"message": "bad model", "type": "x"}}))
    'bad model'
    """
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for candidate in (error, data.get("message"), data.get("detail")):
            if isinstance(candidate, str):
                return candidate
    return str(data)[:300]


def error_from_response(response: httpx.Response, provider: str) -> JudgeAPIError:
    """The typed error for a non-2xx response."""
    status = response.status_code
    message = f"{provider} API error {status}: {api_message(response)}"
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 408:
        return TeacherTimeoutError(message, status=status)
    if status == 429:
        return RateLimitError(message, status=status, retry_after=_retry_after(response))
    if status >= 500:
        return ServerError(message, status=status, retry_after=_retry_after(response))
    return JudgeAPIError(message, status=status)


def api_key_from_env(env_name: str, provider: str) -> str:
    """Read a credential at call time; a missing or empty variable is an AuthError naming it."""
    key = os.environ.get(env_name, "").strip()
    if not key:
        raise AuthError(f"{provider}: environment variable {env_name} is not set (the API key)")
    return key


_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})


def credentials_in(headers: Mapping[str, str]) -> list[str]:
    """The secret values carried by ``headers`` (a bearer token both whole and bare).

    >>> credentials_in({"Authorization": "Bearer sk-123", "Content-Type": "json"})
    ['Bearer sk-123', 'sk-123']
    """
    found: list[str] = []
    for name, value in headers.items():
        if name.lower() in _CREDENTIAL_HEADERS and value:
            found.append(value)
            bare = value.split()[-1]
            if bare != value and len(bare) >= 4:
                found.append(bare)
    return found


@contextlib.contextmanager
def masking(headers: Mapping[str, str]) -> Iterator[None]:
    """Replace the request's credentials by ``***`` in any judgecache error raised inside.

    A server may echo the key it rejected (``Incorrect API key provided: sk-...``); that text
    would otherwise reach output files, logs and stderr.

    >>> try:
    ...     with masking({"x-api-key": "sk-secret"}):
    ...         raise AuthError("bad key sk-secret")
    ... except AuthError as e:
    ...     str(e)
    'bad key ***'
    """
    try:
        yield
    except JudgecacheError as exc:
        secrets = credentials_in(headers)
        text = str(exc)
        if any(s in text for s in secrets):
            for secret in sorted(secrets, key=len, reverse=True):
                text = text.replace(secret, "***")
            exc.args = (text, *exc.args[1:])
            if isinstance(exc, VerdictParseError):
                exc.raw_output = "***"
        raise


class JSONClient:
    """POST JSON, get JSON: one lazily created ``httpx.Client`` and ``httpx.AsyncClient``.

    ``transport`` is injected into the sync client when it is a sync transport and into the
    async client when it is an async one (``httpx.MockTransport`` is both).
    """

    def __init__(
        self, provider: str, *, timeout_s: float = 60.0, transport: Transport | None = None
    ) -> None:
        if (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not (0 < timeout_s < math.inf)
        ):
            raise ConfigError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        self.provider = provider
        self.timeout_s = float(timeout_s)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._async: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None
        self._lock = threading.Lock()

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                transport = self._transport
                self._client = httpx.Client(
                    timeout=self.timeout_s,
                    transport=transport if isinstance(transport, httpx.BaseTransport) else None,
                )
            return self._client

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            # An AsyncClient is bound to the loop it first ran on; a new loop needs a new client.
            if self._async is None or self._async[0] is not loop:
                transport = self._transport
                client = httpx.AsyncClient(
                    timeout=self.timeout_s,
                    transport=transport
                    if isinstance(transport, httpx.AsyncBaseTransport)
                    else None,
                )
                self._async = (loop, client)
            return self._async[1]

    def post(self, url: str, headers: Mapping[str, str], body: Mapping[str, Any]) -> Any:
        """One POST; returns the decoded JSON body or raises a typed JudgeAPIError."""
        with masking(headers):
            try:
                response = self._sync_client().post(url, headers=dict(headers), json=dict(body))
            except httpx.TimeoutException as exc:
                raise self._timeout(exc) from exc
            except httpx.TransportError as exc:
                raise self._unreachable(url, exc) from exc
            return self._decode(response)

    async def apost(self, url: str, headers: Mapping[str, str], body: Mapping[str, Any]) -> Any:
        """Async twin of :meth:`post`."""
        with masking(headers):
            try:
                client = self._async_client()
                response = await client.post(url, headers=dict(headers), json=dict(body))
            except httpx.TimeoutException as exc:
                raise self._timeout(exc) from exc
            except httpx.TransportError as exc:
                raise self._unreachable(url, exc) from exc
            return self._decode(response)

    def _timeout(self, exc: httpx.TimeoutException) -> TeacherTimeoutError:
        kind = type(exc).__name__
        return TeacherTimeoutError(
            f"{self.provider}: no answer within {self.timeout_s:g}s ({kind})"
        )

    def _unreachable(self, url: str, exc: httpx.TransportError) -> ServerError:
        # Name only scheme and host: a URL may carry userinfo that must not reach logs.
        where = httpx.URL(url)
        return ServerError(
            f"{self.provider}: cannot reach {where.scheme}://{where.host}: {type(exc).__name__}: {exc}"
        )

    def _decode(self, response: httpx.Response) -> Any:
        if not response.is_success:
            raise error_from_response(response, self.provider)
        try:
            return response.json()
        except ValueError as exc:
            raise JudgeAPIError(
                f"{self.provider}: the response body is not JSON: {response.text[:200]!r}",
                status=response.status_code,
            ) from exc

    def close(self) -> None:
        """Close the sync client; drop the async one (use :meth:`aclose` from async code)."""
        with self._lock:
            client, self._client = self._client, None
            self._async = None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        with self._lock:
            pair, self._async = self._async, None
        if pair is not None and pair[0] is asyncio.get_running_loop():
            await pair[1].aclose()
        self.close()


@dataclass(frozen=True)
class Completion:
    """The provider-neutral part of one chat response."""

    text: str
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class PreparedRequest:
    """URL, headers (with the credential) and JSON body of one teacher call."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class HTTPTeacher(Teacher):
    """A teacher behind a chat API: build a request, post it, parse and cost the answer.

    Subclasses implement :meth:`prepare` (the request) and :meth:`extract` (the response shape).
    """

    provider: str
    model: str

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        transport: Transport | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self._http = JSONClient(self.provider, timeout_s=timeout_s, transport=transport)
        self._prices = prices

    @abc.abstractmethod
    def prepare(self, rubric: Rubric, inputs: Mapping[str, str]) -> PreparedRequest:
        """The request for one pair (reads the credential now)."""

    @abc.abstractmethod
    def extract(self, data: Any) -> Completion:
        """Pull text, usage and model out of a decoded response, or raise JudgeAPIError."""

    def answer(self, rubric: Rubric, data: Any) -> TeacherAnswer:
        """Parse a decoded response into a labelled, costed :class:`TeacherAnswer`."""
        completion = self.extract(data)
        try:
            parsed = parse_output(rubric, completion.text)
        except VerdictParseError:
            if not completion.truncated:
                raise
            raise VerdictParseError(
                "the answer was cut off by the token limit before it gave a label "
                "(raise max_tokens)",
                raw_output=completion.text,
            ) from None
        return TeacherAnswer(
            label=parsed.label,
            raw_output=completion.text,
            score=parsed.score,
            reason=parsed.reason,
            usage=completion.usage,
            cost_usd=self.cost(completion),
            model_answered=completion.model,
        )

    def cost(self, completion: Completion) -> float:
        """USD for a completion, priced by the model that answered when the table knows it."""
        prices = self._prices or default_prices()
        model = completion.model
        if model is None or not prices.is_known(model):
            model = self.model
        return prices.cost(model, completion.usage)

    def judge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        request = self.prepare(rubric, inputs)
        return self.answer(rubric, self._http.post(request.url, request.headers, request.body))

    async def ajudge(self, rubric: Rubric, inputs: Mapping[str, str]) -> TeacherAnswer:
        request = self.prepare(rubric, inputs)
        data = await self._http.apost(request.url, request.headers, request.body)
        return self.answer(rubric, data)

    def close(self) -> None:
        self._http.close()

    async def aclose(self) -> None:
        """Close the HTTP clients from async code."""
        await self._http.aclose()


def shape_error(provider: str, what: str, data: Any) -> JudgeAPIError:
    """An error for a 2xx response that does not have the documented shape."""
    return JudgeAPIError(f"{provider}: unexpected response shape ({what}): {str(data)[:200]}")


def int_field(data: Mapping[str, Any], name: str) -> int:
    """A non-negative integer usage counter, 0 when absent (local servers often omit usage)."""
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def add_extra_params(
    params: dict[str, Any], extra: Mapping[str, Any] | None, reserved: frozenset[str]
) -> None:
    """Add ``extra`` request parameters to ``params``, refusing any outside the key allow-list.

    A parameter that changes answers but not the key would poison the cache; ``reserved`` are the
    teacher's named arguments, which must be set as such.

    >>> p = {"temperature": 0.0}
    >>> add_extra_params(p, {"top_p": 0.9}, frozenset({"temperature"})); p["top_p"]
    0.9
    """
    for name, value in (extra or {}).items():
        if name in reserved or name not in OUTPUT_AFFECTING_PARAMS:
            allowed = sorted(OUTPUT_AFFECTING_PARAMS - reserved)
            raise ConfigError(
                f"extra_params: {name!r} is not allowed (set the named argument instead, or "
                f"use one of {allowed})"
            )
        if value is not None:
            params[name] = value
