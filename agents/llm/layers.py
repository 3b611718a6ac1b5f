"""The gateway's upper wrappers, each a few dozen lines and testable alone over any :class:`ChatModel`.

    ConcurrencyLimit  (a ChatModel: at most N requests to the layer below at once)
    RetryLayer        (parses each answer; a bad one is re-asked, then the logged, counted fallback)
    CascadeLayer      (cascade.py, when configured: routine steps to a small model first, escalating to the main one)
    AccountingLayer   (calls, tokens, latency by step and agent; calls in flight for the progress line)

``build_gateway`` (cascade.py, with the small tier when configured) stacks them over the pool / cache (or any ChatModel); :class:`BaseLLM` is the minds' face on top.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .interface import (
    Accounting, ChatModel, ChatRequest, LLMCallRecord, LLMError, LLMFailure, RawCompletion, ServerFigures,
)
from .redact import redact

log = logging.getLogger("agents.llm")
V = TypeVar("V")


@dataclass
class Answer(Generic[V]):
    """What one logical call cost and gave: the parsed value (or the fallback) over all its attempts."""

    value: V | None
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 0
    fallback: bool = False
    error: str | None = None
    server: ServerFigures | None = None  # summed over the attempts the server answered (a bad answer cost it too)
    cascade: str | None = None  # "small" or "escalated" for a step routed to the small model (cascade.py)


class Asker(Protocol):
    """The interface of the retry and accounting layers: a request and how to read its answer."""

    async def ask(self, request: ChatRequest, parse: Callable[[str], V], fallback: V | None) -> Answer[V]: ...


class ConcurrencyLimit:
    """No more than ``limit`` requests in the layers below at once; the rest wait here, where no timeout ticks."""

    def __init__(self, inner: ChatModel, limit: int) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self._sem = asyncio.Semaphore(limit)

    async def complete(self, request: ChatRequest) -> RawCompletion:
        async with self._sem:
            return await self.inner.complete(request)

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()

    async def aclose(self) -> None:
        await self.inner.aclose()


class RetryLayer:
    """Ask, parse; an :class:`LLMError` (transport or a bad answer) is re-asked up to ``retries`` times.

    Each attempt's seed is ``seed + attempt - 1`` so a retry is not the same (cached) bad answer. When every
    attempt failed, the fallback is returned with the reason logged and counted in ``fallbacks`` (by step);
    without a fallback :class:`LLMFailure` is raised carrying the :class:`Answer` (for the accounting above).
    """

    def __init__(self, inner: ChatModel, *, retries: int = 2, seed: int | None = None,
                 log_level: int = logging.WARNING) -> None:
        self.inner = inner
        self.retries = retries
        self.seed = seed
        self.log_level = log_level  # the cascade's small tier: a failed attempt is routine there (it escalates)
        self.fallbacks: Counter[str] = Counter()

    async def ask(self, request: ChatRequest, parse: Callable[[str], V], fallback: V | None) -> Answer[V]:
        out: Answer[V] = Answer(value=None, model=self.inner.model_name)
        while out.attempts <= self.retries:
            out.attempts += 1
            seed = None if self.seed is None else self.seed + out.attempts - 1
            try:
                raw = await self.inner.complete(dataclasses.replace(request, seed=seed))
                out.prompt_tokens += raw.prompt_tokens
                out.completion_tokens += raw.completion_tokens
                out.cached, out.model = raw.cached, raw.model or out.model
                if raw.server is not None:
                    out.server = raw.server if out.server is None else out.server + raw.server
                out.value = parse(raw.content)
            except LLMError as exc:
                if exc.server is not None:  # an empty answer still took the server's time
                    out.server = exc.server if out.server is None else out.server + exc.server
                out.error = redact(str(exc))  # kept in records, events and reports
                log.log(self.log_level, "llm %s/%s attempt %d failed: %s", request.step, request.agent,
                        out.attempts, out.error)
                continue
            out.error = None
            return out
        if fallback is None:
            raise LLMFailure(f"{request.step} for {request.agent}: {out.attempts} attempts failed; "
                             f"last error: {out.error}", answer=out)
        log.warning("llm %s/%s: using fallback after %d attempts: %s", request.step, request.agent, out.attempts,
                    out.error)
        self.fallbacks[request.step] += 1
        out.value, out.fallback = fallback, True
        return out


class AccountingLayer:
    """Counts every logical call by step and agent (see :class:`Accounting`) and keeps its record until drained.

    A call counts as in flight (the console's progress line reads it) while the layers below work on it.
    """

    def __init__(self, inner: Asker) -> None:
        self.inner = inner
        self.accounting = Accounting()
        self._records: list[LLMCallRecord] = []

    async def ask(self, request: ChatRequest, parse: Callable[[str], V], fallback: V | None) -> Answer[V]:
        key = (request.step, request.agent)
        self.accounting.in_flight[key] += 1
        t0 = time.perf_counter()
        try:
            answer = await self.inner.ask(request, parse, fallback)
        except LLMFailure as exc:
            if exc.answer is not None:
                self._record(request, exc.answer, time.perf_counter() - t0)
            raise
        finally:
            self.accounting.in_flight[key] -= 1
        self._record(request, answer, time.perf_counter() - t0)
        return answer

    def _record(self, request: ChatRequest, a: Answer[Any], latency: float) -> None:
        rec = LLMCallRecord(step=request.step, agent=request.agent, model=a.model, prompt_tokens=a.prompt_tokens,
                            completion_tokens=a.completion_tokens, cached=a.cached, latency_s=round(latency, 4),
                            attempts=a.attempts, fallback=a.fallback, error=a.error, cascade=a.cascade,
                            **_server_fields(a.server))
        self.accounting.add(rec)
        self._records.append(rec)

    def drain_records(self, agent: str | None = None) -> list[LLMCallRecord]:
        """Records since the last drain (for ``agent`` only, if given)."""
        if agent is None:
            out, self._records = self._records, []
            return out
        out = [r for r in self._records if r.agent == agent]
        self._records = [r for r in self._records if r.agent != agent]
        return out


def _server_fields(f: ServerFigures | None) -> dict[str, Any]:
    return {} if f is None else f.record_fields()
