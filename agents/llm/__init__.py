"""LLM access for the minds: one :class:`BaseLLM` over a pool of OpenAI-compatible servers or the embedded model.

    llm = await open_llm(seed=7)          # settings from TOWN_* / OPENAI_* / town.toml
    answer = await llm.structured(messages, MySchema, step="plan", agent="Klaus Mueller")
    await llm.aclose()                    # also stops the embedded server, if one was started

Layers, each behind one small interface and tested alone: pool -> cache -> limit -> retry -> accounting
(pool.py, cache.py, layers.py); ``llm.share(seed=...)`` is another face over the same pool, cache and limit
with its own seed and accounting (the eval's runs share one backend so).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from agents.settings import AgentSettings, agent_settings

from .base import BaseLLM, LLMError, LLMFailure
from .cache import ResponseCache
from .endpoint import LLMEndpointError, LLMOutage
from .openai_backend import OpenAIChatLLM, discover_model
from .redact import redact, register_secret

__all__ = [
    "AgentSettings",
    "BaseLLM",
    "LLMEndpointError",
    "LLMError",
    "LLMFailure",
    "LLMOutage",
    "OpenAIChatLLM",
    "open_llm",
    "run_sync",
]

log = logging.getLogger("agents.llm")
R = TypeVar("R")


async def open_llm(settings: AgentSettings | None = None, *, seed: int | None = None) -> BaseLLM:
    """The configured LLM: the endpoint pool if base URLs are set, else a freshly started embedded server.

    ``seed`` (else ``settings.seed``) is sent with every request; with a ``cache_path`` it also makes
    answers replayable. Call ``aclose()`` when done: it closes the clients and the cache and stops
    the embedded server.
    """
    settings = settings or agent_settings()
    seed = seed if seed is not None else settings.seed
    register_secret(settings.api_key)
    cache = ResponseCache(settings.cache_path) if settings.cache_path is not None else None
    common = dict(
        api_key=settings.api_key,
        timeout_s=settings.timeout_s,
        retries=settings.retries,
        backoff_s=settings.backoff_s,
        max_backoff_s=settings.max_backoff_s,
        concurrency=settings.concurrency,
        seed=seed,
        park_after=settings.park_after,
        park_s=settings.park_s,
        max_retry_after_s=settings.max_retry_after_s,
        outage_after=settings.outage_after,
        temperature=settings.temperature,
        cache=cache,
    )
    try:
        if settings.base_urls:
            model = settings.model or await discover_model(settings.base_urls[0], settings.api_key)
            log.info("llm: model %s over %s", model, ", ".join(redact(u) for u in settings.base_urls))
            return OpenAIChatLLM(settings.base_urls, model=model, **common)  # type: ignore[arg-type]
        return await _open_embedded(settings, common)
    except BaseException:
        if cache is not None:
            cache.close()
        raise


async def _open_embedded(settings: AgentSettings, common: dict[str, object]) -> OpenAIChatLLM:
    from .embedded import EmbeddedServer
    from .model_files import ensure_model

    path = settings.embedded_file or await asyncio.to_thread(ensure_model, settings.embedded_model)
    server = EmbeddedServer(
        path, ctx=settings.embedded_ctx, parallel=settings.embedded_parallel, threads=settings.embedded_threads
    )
    await asyncio.to_thread(server.start)
    log.info(  # normal operation, not a warning: `town doctor` and the README say which model is in use
        "llm: no base URL configured, using the EMBEDDED model %s (%s) at %s; set OPENAI_BASE_URL to use a server",
        settings.embedded_model, path, server.base_url,
    )
    # no more requests in flight than the server has slots: the rest wait here, where no timeout ticks
    local = {**common, "concurrency": min(settings.concurrency, settings.embedded_parallel)}
    return OpenAIChatLLM(
        [server.base_url], model=settings.model or server.model_name, on_close=server.stop, **local  # type: ignore[arg-type]
    )


def run_sync(fn: Callable[[BaseLLM], Awaitable[R]], settings: AgentSettings | None = None, *, seed: int | None = None) -> R:
    """For CLI one-offs: open the LLM, await ``fn(llm)``, close it, return the result.

    ``run_sync(lambda llm: llm.text([{"role": "user", "content": "hi"}], step="cli"))``
    """

    async def go() -> R:
        llm = await open_llm(settings, seed=seed)
        try:
            return await fn(llm)
        finally:
            await llm.aclose()

    return asyncio.run(go())
