"""The LLM cascade: routine steps are asked of a small model first and escalate to the main one when its answer
fails the same parse and validation the retry layer applies. Off unless ``small_steps`` names steps
(``[llm]`` settings); :class:`CascadeLayer` sits between the accounting and the two tiers' retry layers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .interface import ChatModel, ChatRequest, LLMFailure
from .layers import AccountingLayer, Answer, ConcurrencyLimit, RetryLayer

log = logging.getLogger("agents.llm")
V = TypeVar("V")

SMALL = "small"  # the record of a call the small model answered
ESCALATED = "escalated"  # the record of a routed call the main model answered after the small one failed


@dataclass(frozen=True)
class SmallTier:
    """The small model's lower stack (its own pool, the shared cache, its own concurrency limit) and what it answers.

    ``chat`` is already limited (a second embedded server has its own slots); ``retries`` are the small tier's
    re-asks before escalating (0: one small attempt).
    """

    chat: ChatModel
    steps: frozenset[str]
    retries: int = 0


class CascadeLayer:
    """A step in ``steps`` goes to ``small`` (no fallback: a failure escalates); anything else, and an escalation,
    goes to ``main`` with its own retries and fallback. An escalated answer carries the cost of both tiers."""

    def __init__(self, main: RetryLayer, small: RetryLayer, steps: frozenset[str]) -> None:
        self.main = main
        self.small = small
        self.steps = steps

    async def ask(self, request: ChatRequest, parse: Callable[[str], V], fallback: V | None) -> Answer[V]:
        if request.step not in self.steps:
            return await self.main.ask(request, parse, fallback)
        try:
            answer = await self.small.ask(request, parse, None)
        except LLMFailure as exc:
            tried: Answer[V] = exc.answer
            log.info("llm %s/%s: small model %s failed (%s); asking %s", request.step, request.agent,
                     tried.model, tried.error, self.main.inner.model_name)
        else:
            answer.cascade = SMALL
            return answer
        try:
            answer = await self.main.ask(request, parse, fallback)
        except LLMFailure as exc:
            _add_cost(exc.answer, tried)
            raise
        _add_cost(answer, tried)
        return answer


def _add_cost(answer: Answer[V] | None, small: Answer[V]) -> None:
    """The escalated ``answer`` also carries what the small tier's attempts took."""
    if answer is None:
        return
    answer.cascade = ESCALATED
    answer.attempts += small.attempts
    answer.prompt_tokens += small.prompt_tokens
    answer.completion_tokens += small.completion_tokens
    if small.server is not None:
        answer.server = small.server if answer.server is None else small.server + answer.server


__all__ = ["ESCALATED", "SMALL", "CascadeLayer", "SmallTier"]


def build_gateway(chat: ChatModel, *, retries: int, seed: int | None, concurrency: int | None = None,
                  small: SmallTier | None = None) -> AccountingLayer:
    """``chat`` (the pool, the cache over it, or any ChatModel) -> limit -> retry -> accounting.

    ``concurrency=None`` adds no limit (``chat`` is already limited, e.g. a stack shared by several faces).
    With a ``small`` tier a :class:`CascadeLayer` routes its steps to it, under the accounting.
    """
    limited = chat if concurrency is None else ConcurrencyLimit(chat, concurrency)
    main = RetryLayer(limited, retries=retries, seed=seed)
    if small is None or not small.steps:
        return AccountingLayer(main)
    first = RetryLayer(small.chat, retries=small.retries, seed=seed, log_level=logging.INFO)
    return AccountingLayer(CascadeLayer(main, first, small.steps))
