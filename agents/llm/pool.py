"""The bottom layer of the gateway: a pool of OpenAI-compatible endpoints behind :class:`ChatModel`.

- ``openai.AsyncOpenAI`` per endpoint, with the client's own retries off: retries are the layers' above; here a
  failed request sleeps a jittered exponential backoff, or the server's Retry-After up to ``max_retry_after_s``,
  before raising :class:`LLMError`. A malformed answer (not JSON, cut short, an HTML page, no ``choices``) is such
  a failure, never a crash.
- Routing: each request goes to the endpoint with the fewest requests in flight; an endpoint that fails
  ``park_after`` times in a row is parked for ``park_s`` seconds (when every endpoint is parked, the one with the
  shortest run of failures is tried, of those the one whose parking ends first: a dead endpoint parked before a
  live one's blip must not take every request until the outage count is reached).
- A refused key, unknown model or URL (401/403/404) raises :class:`LLMEndpointError` at once; ``outage_after``
  failed requests in a row with no success anywhere raise :class:`LLMOutage` (the app stops the run there); a
  failure counts only while every endpoint's latest request failed (one that last answered is not down).
- ``json_schema`` response formats are sent as given; an endpoint answering 400 about the response format is
  switched, for good and with a warning, to ``{"type": "json_object"}`` with the schema in the system message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import openai

from .base import ChatRequest, LLMError, Messages, RawCompletion
from .interface import ServerFigures
from .endpoint import (
    FATAL_STATUSES,
    Endpoint,
    LLMEndpointError,
    LLMOutage,
    envelope_problem,
    fatal_error,
    one_line,
    retry_after_s,
)
from .redact import redact, register_secret

log = logging.getLogger("agents.llm.openai")

NO_KEY = "not-needed"  # local servers ignore the key, but the openai client wants one
JITTER = 0.2  # each wait is stretched by up to 20 %: retries from many agents do not arrive in lockstep

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


class EndpointPool:
    """Chat completions over a pool of OpenAI-compatible endpoints, with backoff, parking and outage detection."""

    def __init__(
        self,
        base_urls: Sequence[str],
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        park_after: int = 3,
        park_s: float = 30.0,
        max_retry_after_s: float = 30.0,
        outage_after: int = 20,
        affinity_slack: int = 0,
    ) -> None:
        if not base_urls:
            raise ValueError("an endpoint pool needs at least one base URL")
        if affinity_slack < 0:
            raise ValueError(f"affinity_slack must be 0 (off) or more, got {affinity_slack}")
        # an agent's requests go to its home endpoint, where its prompt prefix stays cached, unless that one has
        # affinity_slack more requests in flight than the least busy live endpoint (0: always the least busy)
        self.affinity_slack = affinity_slack
        self.affinity = {"home": 0, "spilled": 0}
        self.model_name = model
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.park_after = park_after
        self.park_s = park_s
        self.max_retry_after_s = max_retry_after_s
        self.outage_after = outage_after  # 0: never declare an outage
        self.failed_in_a_row = 0  # failed requests since the last answer, counted while every endpoint is failing
        self._outage: str | None = None  # once declared, every later request fails fast with this message
        self._jitter = random.Random()  # timing only: never touches what is asked or answered
        register_secret(api_key)
        self.endpoints = [
            Endpoint(
                url=url,
                client=openai.AsyncOpenAI(base_url=url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=0),
            )
            for url in base_urls
        ]

    # -- routing ------------------------------------------------------------------------------
    def _pick(self, agent: str | None = None) -> Endpoint:
        now = time.monotonic()
        live = [e for e in self.endpoints if e.parked_until <= now]
        if not live:  # the least failing; parking ends first among equals (a failure while parked does not extend it)
            return min(self.endpoints, key=lambda e: (e.consecutive_failures, e.parked_until))
        least = min(live, key=lambda e: (e.in_flight, e.stats.requests))
        if not self.affinity_slack or agent is None or len(live) == 1:
            return least
        home = max(live, key=lambda e: _weight(agent, e.url))  # rendezvous hashing: stable while others park
        if home.in_flight - least.in_flight < self.affinity_slack:
            self.affinity["home"] += 1
            return home
        self.affinity["spilled"] += 1
        return least

    def _failed(self, ep: Endpoint, reason: str, server_wait_s: float | None = None) -> float:
        """Count a failure; park the endpoint after too many in a row. Returns the jittered wait before the retry."""
        ep.count_failure(reason)
        if ep.consecutive_failures >= self.park_after and ep.parked_until <= time.monotonic():
            ep.parked_until = time.monotonic() + self.park_s
            ep.stats.times_parked += 1
            log.warning(
                "llm endpoint %s parked for %.0f s after %d failures in a row (last: %s)",
                ep.label, self.park_s, ep.consecutive_failures, reason,
            )
        now = time.monotonic()
        if server_wait_s is not None:  # Retry-After: keep new requests off this endpoint for that long
            ep.parked_until = max(ep.parked_until, now + min(server_wait_s, self.max_retry_after_s))
        if any(e is not ep and e.parked_until <= now and e.consecutive_failures == 0 for e in self.endpoints):
            return 0.0  # a healthy endpoint takes the retry
        wait = min(self.backoff_s * 2 ** (ep.consecutive_failures - 1), self.max_backoff_s)
        if server_wait_s is not None:
            wait = max(wait, min(server_wait_s, self.max_retry_after_s))
        return wait * (1 + JITTER * self._jitter.random())

    async def _fail(self, ep: Endpoint, kind: str, detail: object, server_wait_s: float | None = None) -> NoReturn:
        """A failed request: counted, perhaps the outage that stops the run, else a wait and a retryable LLMError."""
        wait = self._failed(ep, kind, server_wait_s)
        if all(e.consecutive_failures for e in self.endpoints):  # else another endpoint answered its latest request
            self.failed_in_a_row += 1
        if self.outage_after and self.failed_in_a_row >= self.outage_after and self._outage is None:
            self._outage = (
                f"LLM outage: {self.failed_in_a_row} requests in a row failed on every endpoint "
                f"({', '.join(e.label for e in self.endpoints)}; last: {kind})"
            )
            log.error("%s", self._outage)
        if self._outage is not None:
            raise LLMOutage(self._outage)
        ep.stats.waited_s += wait
        await asyncio.sleep(wait)
        raise LLMError(f"{ep.label}: {kind}: {one_line(str(detail))}")

    # -- the layer's interface ----------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> RawCompletion:
        """One answer from the least busy live endpoint; LLMError when it failed (after its backoff)."""
        messages, response_format = request.messages, request.response_format
        temperature, max_tokens, seed = request.temperature, request.max_tokens, request.seed
        if self._outage is not None:
            raise LLMOutage(self._outage)
        ep = self._pick(request.agent)
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
                if exc.status_code == 400 and structured and not ep.json_object_mode and _about_format(exc):
                    ep.json_object_mode = True
                    log.warning(
                        "llm endpoint %s rejects json_schema response formats (%s); "
                        "using json_object with the schema in the system message from now on",
                        ep.label, one_line(exc.message),
                    )
                    continue
                await self._status_failure(ep, exc)
            except openai.APIConnectionError as exc:  # a timeout is one too
                kind = "timeout" if isinstance(exc, openai.APITimeoutError) else "connection error"
                await self._fail(ep, kind, exc)
            except (openai.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                # a 200 whose body is not JSON (cut short, garbled): the client's parser raised
                await self._fail(ep, "malformed response", exc)
            break
        problem = envelope_problem(resp)
        if problem is not None:  # JSON, but not a chat completion (an HTML page, no choices)
            await self._fail(ep, "malformed response", problem)
        return self._completion(ep, resp)

    async def _status_failure(self, ep: Endpoint, exc: openai.APIStatusError) -> NoReturn:
        """An HTTP error answer: fatal (401/403/404), a failure worth a wait and a retry (429, 5xx), or a bad request."""
        status = exc.status_code
        if status in FATAL_STATUSES:
            raise fatal_error(ep.label, self.model_name, exc) from None  # one line; the traceback adds nothing
        if status == 429 or status >= 500:
            await self._fail(ep, f"HTTP {status}", exc.message, retry_after_s(exc.response) if status == 429 else None)
        ep.stats.bad_requests += 1
        raise LLMError(f"{ep.label}: HTTP {status}: {one_line(exc.message, 300)}")

    def _completion(self, ep: Endpoint, resp: Any) -> RawCompletion:
        """The answer of a well-formed response; an empty one is the answer's fault (retried, never cached)."""
        ep.consecutive_failures = 0
        ep.parked_until = 0.0
        ep.stats.ok += 1
        self.failed_in_a_row = 0
        content = resp.choices[0].message.content or ""
        server = server_figures(resp, time.time())
        if not content.strip():
            ep.stats.empty_answers += 1
            raise LLMError(f"{ep.label}: empty answer", server=server)
        usage = resp.usage
        ptok = (usage.prompt_tokens or 0) if usage else 0
        ctok = (usage.completion_tokens or 0) if usage else 0
        ep.stats.prompt_tokens += ptok
        ep.stats.completion_tokens += ctok
        return RawCompletion(content=content, prompt_tokens=ptok, completion_tokens=ctok, model=self.model_name,
                             server=server)

    # -- reporting and shutdown ---------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per-endpoint counters (credentials masked)."""
        out: dict[str, Any] = {"endpoints": [e.summary() for e in self.endpoints]}
        if self.affinity_slack:
            out["affinity"] = dict(self.affinity)
        return out

    async def aclose(self) -> None:
        for ep in self.endpoints:
            await ep.client.close()


def _weight(agent: str, url: str) -> int:
    """The rendezvous weight of an agent on an endpoint: the same on every machine and every run."""
    return int.from_bytes(hashlib.blake2b(f"{agent}\n{url}".encode(), digest_size=8).digest(), "big")


def server_figures(resp: Any, ended_at: float) -> ServerFigures | None:
    """The server's own figures of an answer: llama.cpp's ``timings``, else ``usage``'s ``cached_tokens`` alone
    (vLLM with prefix caching, OpenAI); None when it gave neither. A figure of the wrong type counts as not given."""
    timings = (resp.model_extra or {}).get("timings") if hasattr(resp, "model_extra") else None
    details = getattr(resp.usage, "prompt_tokens_details", None) if resp.usage is not None else None
    cached = getattr(details, "cached_tokens", None)
    cached = cached if isinstance(cached, int) else None
    if isinstance(timings, dict):
        def num(key: str, kind: type) -> Any:
            v = timings.get(key)
            return kind(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        cache_n = num("cache_n", int)
        return ServerFigures(prompt_n=num("prompt_n", int), cache_n=cached if cache_n is None else cache_n,
                             prompt_ms=num("prompt_ms", float), gen_n=num("predicted_n", int),
                             gen_ms=num("predicted_ms", float), ended_at=ended_at,
                             draft_n=num("draft_n", int), draft_accepted=num("draft_n_accepted", int))
    if cached is not None:
        return ServerFigures(cache_n=cached, ended_at=ended_at)
    return None


def _about_format(exc: openai.APIStatusError) -> bool:
    text = f"{exc.message} {json.dumps(exc.body) if exc.body is not None else ''}".lower()
    return "response_format" in text or "json_schema" in text or "response format" in text


async def discover_model(base_url: str, api_key: str | None = None, *, timeout_s: float = 10.0) -> str:
    """The first model an endpoint lists under ``/v1/models`` (used when no model name is configured)."""
    register_secret(api_key)
    label = redact(base_url)
    async with openai.AsyncOpenAI(base_url=base_url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=0) as c:
        try:
            page = await c.models.list()
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise fatal_error(label, "(listing models)", exc) from None
            raise LLMEndpointError(f"cannot list models at {label} ({one_line(str(exc))}); set TOWN_MODEL") from None
        except (openai.APIError, json.JSONDecodeError) as exc:
            raise LLMEndpointError(
                f"cannot list models at {label} ({one_line(str(exc))}); set TOWN_MODEL to the model name to use"
            ) from None
    data = getattr(page, "data", None)
    if not data:
        raise LLMEndpointError(f"{label}/models lists no model; set TOWN_MODEL")
    return data[0].id
