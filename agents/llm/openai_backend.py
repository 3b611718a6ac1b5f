"""The LLM gateway over OpenAI-compatible endpoints, as layers behind one tiny interface (:class:`ChatModel`).

    OpenAIChatLLM  = BaseLLM (structured / text: base.py)
                     over AccountingLayer over RetryLayer (bad answer re-asked, counted fallback: layers.py)
                     over ConcurrencyLimit (layers.py) over CachedChat (same seeded request, same answer: cache.py)
                     over EndpointPool (routing, parking, backoff, Retry-After, outage: pool.py)

Each lower layer takes a :class:`ChatRequest` and returns a :class:`RawCompletion`, so each is tested alone.
With a small tier (:func:`small_tier`), the cascade (cascade.py) routes its steps to a second such stack first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .base import BaseLLM, ChatModel
from .cache import CachedChat, ResponseCache
from .cascade import SmallTier
from .layers import ConcurrencyLimit
from .endpoint import LLMEndpointError, LLMOutage
from .pool import EndpointPool, discover_model

__all__ = ["LLMEndpointError", "LLMOutage", "OpenAIChatLLM", "discover_model", "small_tier"]


def small_tier(base_urls: Sequence[str], *, model: str, steps: Sequence[str], retries: int, concurrency: int,
               cache: ResponseCache | None = None, **pool: Any) -> SmallTier:
    """The cascade's small model: its own endpoint pool (``pool``: EndpointPool's keywords) under the shared
    response cache (keyed by model, so the tiers never answer for each other) and its own concurrency limit."""
    endpoints = EndpointPool(base_urls, model=model, **pool)
    chat: ChatModel = CachedChat(endpoints, cache) if cache is not None else endpoints
    return SmallTier(ConcurrencyLimit(chat, concurrency), frozenset(steps), retries)


class OpenAIChatLLM(BaseLLM):
    """Chat completions over a pool of OpenAI-compatible endpoints: the pool, the cache and BaseLLM, stacked."""

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
        max_retry_after_s: float = 30.0,
        outage_after: int = 20,
        temperature: float | None = None,
        cache: ResponseCache | None = None,
        on_close: Callable[[], Awaitable[None] | None] | None = None,
        small: SmallTier | None = None,
        affinity_slack: int = 0,
    ) -> None:
        if not base_urls:
            raise ValueError("OpenAIChatLLM needs at least one base URL")
        if not model:
            raise ValueError("OpenAIChatLLM needs a model name")
        self.cache = cache
        self._on_close = on_close
        self.pool = EndpointPool(
            base_urls, model=model, api_key=api_key, timeout_s=timeout_s, backoff_s=backoff_s,
            max_backoff_s=max_backoff_s, park_after=park_after, park_s=park_s,
            max_retry_after_s=max_retry_after_s, outage_after=outage_after, affinity_slack=affinity_slack,
        )
        chat: ChatModel = CachedChat(self.pool, cache) if cache is not None else self.pool
        super().__init__(retries=retries, concurrency=concurrency, seed=seed, chat=chat, temperature=temperature,
                         small=small)

    @property
    def endpoints(self) -> list[Any]:
        return self.pool.endpoints

    def stats(self) -> dict[str, Any]:
        """Per-endpoint counters and cache hits/misses (and the cascade's small model's endpoints, if any)."""
        small = {} if self.small is None else {
            "small": {"model": self.small.chat.model_name, "endpoints": self.small.chat.stats()["endpoints"]}}
        return {
            "model": self.model_name,
            **self.pool.stats(),
            "cache": self.cache.stats() if self.cache is not None else None,
            **small,
        }

    async def aclose(self) -> None:
        await self.chat.aclose()  # the pool's clients, and the cache if there is one
        if self.small is not None:
            await self.small.chat.aclose()  # closing the shared cache again is harmless
        if self._on_close is not None:
            result = self._on_close()
            if result is not None:
                await result
