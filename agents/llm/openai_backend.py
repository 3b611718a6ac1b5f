"""The LLM gateway: any OpenAI-compatible chat endpoint, or a pool of them, behind :class:`BaseLLM`.

- ``openai.AsyncOpenAI`` per endpoint, with the client's own retries off: retries are ours (BaseLLM
  retries on :class:`LLMError`; here a failed request sleeps an exponential backoff before raising).
- Pool routing: each request goes to the endpoint with the fewest requests in flight; an endpoint that
  fails ``park_after`` times in a row is parked for ``park_s`` seconds (when every endpoint is parked,
  the one whose parking ends first is tried).
- ``json_schema`` response formats are sent as given; an endpoint answering 400 about the
  response format is switched, for good and with a warning, to ``{"type": "json_object"}`` with the
  schema spelled out in the system message.
- An optional :class:`ResponseCache` is consulted before the network (same request and seed, same answer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from .base import BaseLLM, LLMError, Messages, RawCompletion
from .cache import ResponseCache, request_key

log = logging.getLogger("agents.llm.openai")

NO_KEY = "not-needed"  # local servers ignore the key, but the openai client wants one
FATAL_STATUSES = (401, 403, 404)  # wrong key / model / URL: retrying cannot help


class LLMEndpointError(RuntimeError):
    """An endpoint refuses us for a reason no retry fixes (bad key, unknown model or URL)."""


@dataclass
class EndpointStats:
    requests: int = 0
    ok: int = 0
    failures: int = 0  # timeouts, connection errors, 5xx, 429
    bad_requests: int = 0  # other 4xx: the request's fault, not the endpoint's
    times_parked: int = 0
    max_in_flight: int = 0
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Endpoint:
    url: str
    client: openai.AsyncOpenAI
    in_flight: int = 0
    consecutive_failures: int = 0
    parked_until: float = 0.0
    json_object_mode: bool = False  # this server rejected json_schema response formats
    stats: EndpointStats = field(default_factory=EndpointStats)

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "in_flight": self.in_flight,
            "parked": self.parked_until > time.monotonic(),
            "json_object_mode": self.json_object_mode,
            **self.stats.__dict__,
        }


def schema_instruction(response_format: dict[str, Any]) -> str:
    schema = response_format["json_schema"]["schema"]
    return (
        "Answer with a single JSON object (no prose, no code fence) that satisfies this JSON schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


def with_schema_in_system(messages: Messages, response_format: dict[str, Any]) -> Messages:
    """The messages with the JSON schema spelled out in the system message (json_object fallback)."""
    instruction = schema_instruction(response_format)
    if messages and messages[0].get("role") == "system":
        first = {**messages[0], "content": messages[0]["content"] + "\n\n" + instruction}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


class OpenAIChatLLM(BaseLLM):
    """Chat completions over a pool of OpenAI-compatible endpoints, with cache, backoff and parking."""

    def __init__(
        self,
        base_urls: Sequence[str],
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        concurrency: int = 8,
        seed: int | None = None,
        park_after: int = 3,
        park_s: float = 30.0,
        temperature: float | None = None,
        cache: ResponseCache | None = None,
        on_close: Callable[[], Awaitable[None] | None] | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("OpenAIChatLLM needs at least one base URL")
        if not model:
            raise ValueError("OpenAIChatLLM needs a model name")
        super().__init__(retries=retries, concurrency=concurrency, seed=seed)
        self.model_name = model
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.park_after = park_after
        self.park_s = park_s
        self.temperature = temperature
        self.cache = cache
        self._on_close = on_close
        self.endpoints = [
            Endpoint(
                url=url,
                client=openai.AsyncOpenAI(base_url=url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=0),
            )
            for url in base_urls
        ]

    # -- routing ------------------------------------------------------------------------------
    def _pick(self) -> Endpoint:
        now = time.monotonic()
        live = [e for e in self.endpoints if e.parked_until <= now]
        if not live:
            return min(self.endpoints, key=lambda e: e.parked_until)
        return min(live, key=lambda e: (e.in_flight, e.stats.requests))

    def _failed(self, ep: Endpoint, reason: str) -> float:
        """Count a failure; park the endpoint after too many in a row. Returns the backoff to sleep."""
        ep.stats.failures += 1
        ep.consecutive_failures += 1
        if ep.consecutive_failures >= self.park_after and ep.parked_until <= time.monotonic():
            ep.parked_until = time.monotonic() + self.park_s
            ep.stats.times_parked += 1
            log.warning(
                "llm endpoint %s parked for %.0f s after %d failures in a row (last: %s)",
                ep.url, self.park_s, ep.consecutive_failures, reason,
            )
        now = time.monotonic()
        if any(e is not ep and e.parked_until <= now and e.consecutive_failures == 0 for e in self.endpoints):
            return 0.0  # a healthy endpoint takes the retry
        return min(self.backoff_s * 2 ** (ep.consecutive_failures - 1), self.max_backoff_s)

    # -- the backend hook ---------------------------------------------------------------------
    async def _complete(
        self,
        messages: Messages,
        *,
        response_format: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        seed: int | None,
        step: str,
        agent: str | None,
    ) -> RawCompletion:
        if self.temperature is not None:
            temperature = self.temperature
        key = None
        # only seeded requests are cached: an unseeded retry must reach the server, not the cached bad answer
        if self.cache is not None and seed is not None:
            key = request_key(self.model_name, messages, response_format, temperature, max_tokens, seed)
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        raw = await self._request(messages, response_format, temperature, max_tokens, seed)
        if self.cache is not None and key is not None:
            self.cache.put(key, raw)
        return raw

    async def _request(
        self,
        messages: Messages,
        response_format: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        seed: int | None,
    ) -> RawCompletion:
        ep = self._pick()
        ep.in_flight += 1
        ep.stats.requests += 1
        ep.stats.max_in_flight = max(ep.stats.max_in_flight, ep.in_flight)
        t0 = time.perf_counter()
        try:
            return await self._send(ep, messages, response_format, temperature, max_tokens, seed)
        finally:
            ep.in_flight -= 1
            ep.stats.latency_s += time.perf_counter() - t0

    async def _send(
        self,
        ep: Endpoint,
        messages: Messages,
        response_format: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        seed: int | None,
    ) -> RawCompletion:
        structured = response_format is not None and response_format.get("type") == "json_schema"
        while True:
            kwargs: dict[str, Any] = {
                "model": self.model_name,
                "messages": messages,
                "temperature": temperature,
                "max_tokens": max_tokens,
            }
            if seed is not None:
                kwargs["seed"] = seed
            if structured and ep.json_object_mode:
                kwargs["messages"] = with_schema_in_system(messages, response_format)  # type: ignore[arg-type]
                kwargs["response_format"] = {"type": "json_object"}
            elif response_format is not None:
                kwargs["response_format"] = response_format
            try:
                resp = await ep.client.chat.completions.create(**kwargs)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 400 and structured and not ep.json_object_mode and _about_format(exc):
                    ep.json_object_mode = True
                    log.warning(
                        "llm endpoint %s rejects json_schema response formats (%s); "
                        "using json_object with the schema in the system message from now on",
                        ep.url, exc.message[:200],
                    )
                    continue
                if status in FATAL_STATUSES:
                    raise LLMEndpointError(
                        f"llm endpoint {ep.url} answered {status} for model {self.model_name!r}: {exc.message[:300]}"
                    ) from exc
                if status == 429 or status >= 500:
                    await asyncio.sleep(self._failed(ep, f"HTTP {status}"))
                    raise LLMError(f"{ep.url}: HTTP {status}: {exc.message[:200]}") from exc
                ep.stats.bad_requests += 1
                raise LLMError(f"{ep.url}: HTTP {status}: {exc.message[:300]}") from exc
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                kind = "timeout" if isinstance(exc, openai.APITimeoutError) else "connection error"
                await asyncio.sleep(self._failed(ep, kind))
                raise LLMError(f"{ep.url}: {kind}: {exc}") from exc
            except openai.APIResponseValidationError as exc:
                await asyncio.sleep(self._failed(ep, "malformed response"))
                raise LLMError(f"{ep.url}: malformed response: {exc}") from exc
            break
        ep.consecutive_failures = 0
        ep.parked_until = 0.0
        ep.stats.ok += 1
        if not resp.choices:
            raise LLMError(f"{ep.url}: answer without choices")
        content = resp.choices[0].message.content or ""
        usage = resp.usage
        ptok = usage.prompt_tokens if usage else 0
        ctok = usage.completion_tokens if usage else 0
        ep.stats.prompt_tokens += ptok
        ep.stats.completion_tokens += ctok
        return RawCompletion(content=content, prompt_tokens=ptok, completion_tokens=ctok, model=self.model_name)

    # -- reporting and shutdown ---------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per-endpoint counters and cache hits/misses."""
        return {
            "model": self.model_name,
            "endpoints": [e.summary() for e in self.endpoints],
            "cache": self.cache.stats() if self.cache is not None else None,
        }

    async def aclose(self) -> None:
        for ep in self.endpoints:
            await ep.client.close()
        if self.cache is not None:
            self.cache.close()
        if self._on_close is not None:
            result = self._on_close()
            if result is not None:
                await result


def _about_format(exc: openai.APIStatusError) -> bool:
    text = f"{exc.message} {json.dumps(exc.body) if exc.body is not None else ''}".lower()
    return "response_format" in text or "json_schema" in text or "response format" in text


async def discover_model(base_url: str, api_key: str | None = None, *, timeout_s: float = 10.0) -> str:
    """The first model an endpoint lists under ``/v1/models`` (used when no model name is configured)."""
    async with openai.AsyncOpenAI(base_url=base_url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=0) as c:
        try:
            page = await c.models.list()
        except openai.APIError as exc:
            raise LLMEndpointError(
                f"cannot list models at {base_url} ({exc}); set TOWN_MODEL to the model name to use"
            ) from exc
    if not page.data:
        raise LLMEndpointError(f"{base_url}/models lists no model; set TOWN_MODEL")
    return page.data[0].id
