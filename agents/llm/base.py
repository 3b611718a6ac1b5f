"""The LLM behind a tiny interface: structured (pydantic) and text completions.

``BaseLLM`` owns what every backend shares: JSON-schema response formats,
validation into pydantic models, retry on a bad answer, then a logged and
counted fallback (never a silent default), and per-agent / per-step accounting.
A backend only implements :meth:`BaseLLM._complete` (one raw chat completion).

Our own bugs (a schema that is not a pydantic model, a template error, a
TypeError) are not caught: they raise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from .redact import redact

log = logging.getLogger("agents.llm")

T = TypeVar("T", bound=BaseModel)
Messages = list[dict[str, str]]


class LLMError(Exception):
    """A backend failure worth a retry (timeout, connection, 5xx, bad output)."""


class LLMFailure(Exception):
    """Retries exhausted and the caller gave no fallback."""


@dataclass
class RawCompletion:
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    cached: bool = False  # answered from our response cache


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request, as every gateway layer passes it down."""

    messages: Messages
    response_format: dict[str, Any] | None
    temperature: float
    max_tokens: int
    seed: int | None


class ChatModel(Protocol):
    """The gateway's tiny interface, implemented by each layer (the endpoint pool, the cache)."""

    model_name: str

    async def complete(self, request: ChatRequest) -> RawCompletion:
        """One raw answer; :class:`LLMError` for anything worth a retry."""
        ...

    def stats(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class LLMCallRecord(BaseModel):
    step: str
    agent: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    latency_s: float
    attempts: int
    fallback: bool = False
    error: str | None = None


@dataclass
class Tally:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    fallbacks: int = 0
    latency_s: float = 0.0

    def add(self, rec: LLMCallRecord) -> None:
        self.calls += 1
        self.cache_hits += int(rec.cached)
        self.prompt_tokens += rec.prompt_tokens
        self.completion_tokens += rec.completion_tokens
        self.retries += max(0, rec.attempts - 1)
        self.fallbacks += int(rec.fallback)
        self.latency_s += rec.latency_s


@dataclass
class Accounting:
    by_agent: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_step: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    total: Tally = field(default_factory=Tally)
    in_flight: Counter[tuple[str, str | None]] = field(default_factory=Counter)  # (step, agent) -> calls under way

    def add(self, rec: LLMCallRecord) -> None:
        self.by_agent[rec.agent or "-"].add(rec)
        self.by_step[rec.step].add(rec)
        self.total.add(rec)

    def summary(self) -> dict[str, Any]:
        def d(t: Tally) -> dict[str, Any]:
            return dict(t.__dict__)

        return {
            "total": d(self.total),
            "by_agent": {k: d(v) for k, v in sorted(self.by_agent.items())},
            "by_step": {k: d(v) for k, v in sorted(self.by_step.items())},
        }


def response_format_for(schema: type[BaseModel]) -> dict[str, Any]:
    """OpenAI ``json_schema`` response format for a pydantic model."""
    js = schema.model_json_schema()
    return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": js, "strict": True}}


def parse_structured(content: str, schema: type[T]) -> T:
    """Parse model output into ``schema``; tolerate code fences / chatter around one JSON object."""
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        if text.lower().startswith("json"):
            text = text[4:]
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end < start:
        raise LLMError(f"no JSON object in answer: {content[:200]!r}")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise LLMError(f"invalid JSON: {exc}; answer: {content[:200]!r}") from exc
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise LLMError(f"answer does not fit {schema.__name__}: {exc.errors()[:3]}") from exc


class BaseLLM:
    """Retry, fallback and accounting around a backend's ``_complete``."""

    model_name: str = "unknown"

    def __init__(self, *, retries: int = 2, concurrency: int = 8, seed: int | None = None) -> None:
        self.retries = retries
        self.seed = seed
        self.accounting = Accounting()
        self._records: list[LLMCallRecord] = []
        self._sem = asyncio.Semaphore(concurrency)

    # -- backend hook -------------------------------------------------------------------------
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
        """One raw chat completion. Raise :class:`LLMError` for anything worth a retry."""
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    # -- public API ---------------------------------------------------------------------------
    async def structured(
        self,
        messages: Messages,
        schema: type[T],
        *,
        step: str,
        agent: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 256,
        fallback: T | None = None,
    ) -> T:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise TypeError(f"schema must be a pydantic model class, got {schema!r}")
        fmt = response_format_for(schema)
        return await self._run(messages, step, agent, temperature, max_tokens, fmt, lambda c: parse_structured(c, schema), fallback)

    async def text(
        self,
        messages: Messages,
        *,
        step: str,
        agent: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 256,
        fallback: str | None = None,
    ) -> str:
        def parse(c: str) -> str:
            if not c.strip():
                raise LLMError("empty answer")
            return c.strip()

        return await self._run(messages, step, agent, temperature, max_tokens, None, parse, fallback)

    def drain_records(self, agent: str | None = None) -> list[LLMCallRecord]:
        """Records since the last drain (for ``agent`` only, if given)."""
        if agent is None:
            out, self._records = self._records, []
            return out
        out = [r for r in self._records if r.agent == agent]
        self._records = [r for r in self._records if r.agent != agent]
        return out

    # -- internals ----------------------------------------------------------------------------
    async def _run(self, messages, step, agent, *rest):
        """The call counts as in flight (the console's progress line reads it) while its attempts run."""
        key = (step, agent)
        self.accounting.in_flight[key] += 1
        try:
            return await self._attempts(messages, step, agent, *rest)
        finally:
            self.accounting.in_flight[key] -= 1

    async def _attempts(self, messages, step, agent, temperature, max_tokens, fmt, parse, fallback):
        attempts = 0
        last_error = ""
        t0 = time.perf_counter()
        ptok = ctok = 0
        cached = False
        model = self.model_name
        while attempts <= self.retries:
            attempts += 1
            # vary the seed per attempt so a retry is not the same (cached) bad answer
            seed = None if self.seed is None else self.seed + attempts - 1
            try:
                async with self._sem:
                    raw = await self._complete(
                        messages,
                        response_format=fmt,
                        temperature=temperature,
                        max_tokens=max_tokens,
                        seed=seed,
                        step=step,
                        agent=agent,
                    )
                ptok += raw.prompt_tokens
                ctok += raw.completion_tokens
                cached = raw.cached
                model = raw.model or model
                value = parse(raw.content)
            except LLMError as exc:
                last_error = redact(str(exc))  # kept in records, events and reports
                log.warning("llm %s/%s attempt %d failed: %s", step, agent, attempts, last_error)
                continue
            self._record(step, agent, model, ptok, ctok, cached, time.perf_counter() - t0, attempts, False, None)
            return value
        self._record(step, agent, model, ptok, ctok, cached, time.perf_counter() - t0, attempts, fallback is not None, last_error)
        if fallback is None:
            raise LLMFailure(f"{step} for {agent}: {attempts} attempts failed; last error: {last_error}")
        log.warning("llm %s/%s: using fallback after %d attempts: %s", step, agent, attempts, last_error)
        return fallback

    def _record(self, step, agent, model, ptok, ctok, cached, latency, attempts, fallback, error) -> None:
        rec = LLMCallRecord(
            step=step,
            agent=agent,
            model=model,
            prompt_tokens=ptok,
            completion_tokens=ctok,
            cached=cached,
            latency_s=round(latency, 4),
            attempts=attempts,
            fallback=fallback,
            error=error,
        )
        self.accounting.add(rec)
        self._records.append(rec)
