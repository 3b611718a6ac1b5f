"""LLM access for the minds: one :class:`BaseLLM` over a pool of OpenAI-compatible servers or the embedded model.

    llm = await open_llm(seed=7)          # settings from TOWN_* / OPENAI_* / town.toml
    answer = await llm.structured(messages, MySchema, step="plan", agent="Klaus Mueller")
    await llm.aclose()                    # also stops the embedded server, if one was started

Layers, each behind one small interface and tested alone: pool -> cache -> limit -> retry -> accounting
(pool.py, cache.py, layers.py), with the cascade (cascade.py) routing chosen steps to a small model first;
``llm.share(seed=...)`` is another face over the same pool, cache and limit (and small tier) with its own seed
and accounting (the eval's runs share one backend so).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agents.settings import SMALL_EMBEDDED_SLOTS, AgentSettings, agent_settings

from .base import BaseLLM, LLMError, LLMFailure
from .cache import ResponseCache
from .cascade import SmallTier
from .endpoint import LLMEndpointError, LLMOutage
from .openai_backend import OpenAIChatLLM, discover_model, small_tier
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

if TYPE_CHECKING:
    from .embedded import EmbeddedServer

log = logging.getLogger("agents.llm")
R = TypeVar("R")


async def open_llm(settings: AgentSettings | None = None, *, seed: int | None = None) -> BaseLLM:
    """The configured LLM: the endpoint pool if base URLs are set, else a freshly started embedded server.

    ``seed`` (else ``settings.seed``) is sent with every request; with a ``cache_path`` it also makes
    answers replayable. With ``small_steps`` those steps go to a small model first (the cascade: its endpoints,
    or a second embedded server). Call ``aclose()`` when done: it closes the clients and the cache and stops
    the embedded servers.
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
        affinity_slack=settings.affinity_slack,
    )
    servers: list[EmbeddedServer] = []  # started here: stopped by aclose, or at once when opening fails
    small: SmallTier | None = None
    try:
        if settings.small_steps:
            small = await _open_small(settings, common, cache, servers)
        if settings.base_urls:
            model = settings.model or await discover_model(settings.base_urls[0], settings.api_key)
            log.info("llm: model %s over %s", model, ", ".join(redact(u) for u in settings.base_urls))
            return OpenAIChatLLM(settings.base_urls, model=model, small=small,  # type: ignore[arg-type]
                                 on_close=_stopper(servers) if servers else None, **common)
        return await _open_embedded(settings, common, small, servers)
    except BaseException:
        if small is not None:
            await small.chat.aclose()
        for server in servers:
            server.stop()
        if cache is not None:
            cache.close()
        raise


def _stopper(servers: list[EmbeddedServer]) -> Callable[[], None]:
    def stop() -> None:
        for server in servers:
            server.stop()

    return stop


async def _start_server(size_or_file: str, file: Path | None, *, ctx: int, parallel: int,
                        threads: int, settings: AgentSettings | None = None) -> EmbeddedServer:
    """An embedded server; ``settings`` (the main model's) add its speculative decoding."""
    from .embedded import EmbeddedServer
    from .model_files import ensure_model

    path = file or await asyncio.to_thread(ensure_model, size_or_file)
    spec: dict[str, object] = {}
    if settings is not None and settings.embedded_speculative != "none":
        spec = {"speculative": settings.embedded_speculative, "draft_max": settings.embedded_draft_max}
        if settings.embedded_speculative == "draft":
            spec["draft_path"] = settings.embedded_draft_file or await asyncio.to_thread(
                ensure_model, settings.embedded_draft_model)
    server = EmbeddedServer(path, ctx=ctx, parallel=parallel, threads=threads, **spec)  # type: ignore[arg-type]
    await asyncio.to_thread(server.start)
    return server


async def _open_embedded(settings: AgentSettings, common: dict[str, object], small: SmallTier | None,
                         servers: list[EmbeddedServer]) -> OpenAIChatLLM:
    server = await _start_server(settings.embedded_model, settings.embedded_file, ctx=settings.embedded_ctx,
                                 parallel=settings.embedded_parallel, threads=settings.embedded_threads,
                                 settings=settings)
    servers.append(server)
    log.info(  # normal operation, not a warning: `town doctor` and the README say which model is in use
        "llm: no base URL configured, using the EMBEDDED model %s (%s) at %s; set OPENAI_BASE_URL to use a server",
        settings.embedded_model, server.model_path, server.base_url,
    )
    # no more requests in flight than the server has slots: the rest wait here, where no timeout ticks
    local = {**common, "concurrency": min(settings.concurrency, settings.embedded_parallel)}
    return OpenAIChatLLM(
        [server.base_url], model=settings.model or server.model_name, on_close=_stopper(servers), small=small,
        **local,  # type: ignore[arg-type]
    )


async def _open_small(settings: AgentSettings, common: dict[str, object], cache: ResponseCache | None,
                      servers: list[EmbeddedServer]) -> SmallTier:
    """The cascade's small tier: its endpoints, else a second embedded server with a few slots of the same size."""
    pool = {k: common[k] for k in ("api_key", "backoff_s", "max_backoff_s", "park_after", "park_s", "affinity_slack",
                                   "max_retry_after_s", "outage_after")}
    if settings.small_base_urls:
        urls = settings.small_base_urls
        model = settings.small_model or await discover_model(urls[0], settings.api_key)
        limit = settings.concurrency
    else:
        per_slot = settings.embedded_ctx // settings.embedded_parallel
        server = await _start_server(settings.small_embedded_model, settings.small_embedded_file,
                                     ctx=per_slot * SMALL_EMBEDDED_SLOTS, parallel=SMALL_EMBEDDED_SLOTS,
                                     threads=settings.embedded_threads)
        servers.append(server)
        urls, model = [server.base_url], settings.small_model or server.model_name
        limit = min(settings.concurrency, SMALL_EMBEDDED_SLOTS)
    log.info("llm: cascade on: %s asked of the small model %s (%s) first", ", ".join(settings.small_steps), model,
             ", ".join(redact(u) for u in urls))
    return small_tier(urls, model=model, steps=settings.small_steps, retries=settings.small_retries,
                      concurrency=limit, cache=cache, timeout_s=settings.small_timeout_s, **pool)


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
