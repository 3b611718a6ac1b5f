"""The minds' face of the LLM gateway: ``structured`` (a pydantic model) and ``text`` completions.

:class:`BaseLLM` turns a call into a :class:`ChatRequest` plus a parser and asks the gateway stacked by
:func:`build_gateway` (retry -> accounting, in cascade.py) over a lower :class:`ChatModel` stack (pool -> cache ->
concurrency limit). Our own bugs (a schema that is not a pydantic model, a template error) are not caught: they raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .interface import (
    Accounting,
    ChatModel,
    ChatRequest,
    LLMCallRecord,
    LLMError,
    LLMFailure,
    Messages,
    RawCompletion,
    Tally,
    parse_structured,
    response_format_for,
)
from .cascade import build_gateway
from .layers import AccountingLayer, ConcurrencyLimit, RetryLayer

if TYPE_CHECKING:
    from .cascade import SmallTier

__all__ = [
    "Accounting", "BaseLLM", "ChatModel", "ChatRequest", "LLMCallRecord", "LLMError", "LLMFailure", "Messages",
    "RawCompletion", "Tally", "parse_structured", "response_format_for",
]

T = TypeVar("T", bound=BaseModel)
V = TypeVar("V")


class _HookChat:
    """A :class:`ChatModel` over a subclass's ``_complete`` hook (looked up per call, so tests may patch it)."""

    def __init__(self, llm: BaseLLM) -> None:
        self.llm = llm
        self.model_name = llm.model_name

    async def complete(self, r: ChatRequest) -> RawCompletion:
        return await self.llm._complete(r.messages, response_format=r.response_format, temperature=r.temperature,
                                        max_tokens=r.max_tokens, seed=r.seed, step=r.step, agent=r.agent)

    def stats(self) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        return None


class BaseLLM:
    """``structured``/``text`` over ``chat`` (a backend's lower stack) or the subclass's ``_complete`` hook.

    ``temperature`` (if set) overrides every caller's. :meth:`share` gives another face over the same lower stack
    (same limit, same cache, same ``small`` tier) with its own seed, retries and accounting. ``small``: the
    cascade's small model and the steps it answers first (cascade.py); None = every step to ``chat``.
    """

    model_name: str = "unknown"

    def __init__(self, *, retries: int = 2, concurrency: int | None = 8, seed: int | None = None,
                 chat: ChatModel | None = None, temperature: float | None = None,
                 small: SmallTier | None = None) -> None:
        self.temperature = temperature
        self.small = small
        inner = chat if chat is not None else _HookChat(self)
        self.model_name = inner.model_name
        self.chat: ChatModel = inner if concurrency is None else ConcurrencyLimit(inner, concurrency)
        self.gateway: AccountingLayer = build_gateway(self.chat, retries=retries, seed=seed, small=small)

    @property
    def accounting(self) -> Accounting:
        return self.gateway.accounting

    @property
    def _retry(self) -> RetryLayer:
        """The main tier's retry layer (build_gateway puts it under the accounting, or under the cascade)."""
        inner = self.gateway.inner
        return inner if isinstance(inner, RetryLayer) else inner.main  # type: ignore[attr-defined]

    @property
    def seed(self) -> int | None:
        """The first attempt's seed (a retry adds its attempt number); settable, e.g. for a replay."""
        return self._retry.seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        self._retry.seed = value
        small = getattr(self.gateway.inner, "small", None)  # the cascade's small tier asks with the same seed
        if small is not None:
            small.seed = value

    @property
    def retries(self) -> int:
        return self._retry.retries

    @retries.setter
    def retries(self, value: int) -> None:
        self._retry.retries = value

    async def _complete(self, messages: Messages, *, response_format: dict[str, Any] | None, temperature: float,
                        max_tokens: int, seed: int | None, step: str, agent: str | None) -> RawCompletion:
        """The hook of a backend built without ``chat``: one raw completion; :class:`LLMError` is worth a retry."""
        raise NotImplementedError

    def share(self, *, seed: int | None, small_steps: Iterable[str] | None = None) -> BaseLLM:
        """A face over this one's lower stack (no extra limit) with its own seed and accounting; closing it is a no-op.

        ``small_steps`` (when given) replaces the steps the face asks of the small model (an eval arm's cascade).
        """
        small = self.small
        if small_steps is not None:
            steps = frozenset(small_steps)
            if steps and small is None:
                raise ValueError(f"share(small_steps={sorted(steps)}): this LLM was opened without a small model")
            small = None if small is None else dataclasses.replace(small, steps=steps)
        face = BaseLLM(retries=self.retries, concurrency=None, seed=seed, chat=self.chat, temperature=self.temperature,
                       small=small)
        face.model_name = self.model_name
        return face

    async def aclose(self) -> None:
        return None

    async def structured(self, messages: Messages, schema: type[T], *, step: str, agent: str | None = None,
                         temperature: float = 0.7, max_tokens: int = 256, fallback: T | None = None) -> T:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise TypeError(f"schema must be a pydantic model class, got {schema!r}")
        request = self._request(messages, response_format_for(schema), temperature, max_tokens, step, agent)
        return await self._ask(request, lambda c: parse_structured(c, schema), fallback)

    async def text(self, messages: Messages, *, step: str, agent: str | None = None, temperature: float = 0.7,
                   max_tokens: int = 256, fallback: str | None = None) -> str:
        def parse(c: str) -> str:
            if not c.strip():
                raise LLMError("empty answer")
            return c.strip()

        return await self._ask(self._request(messages, None, temperature, max_tokens, step, agent), parse, fallback)

    def drain_records(self, agent: str | None = None) -> list[LLMCallRecord]:
        """Records since the last drain (for ``agent`` only, if given)."""
        return self.gateway.drain_records(agent)

    def _request(self, messages: Messages, fmt: dict[str, Any] | None, temperature: float, max_tokens: int,
                 step: str, agent: str | None) -> ChatRequest:
        if self.temperature is not None:
            temperature = self.temperature
        return ChatRequest(messages, fmt, temperature, max_tokens, None, step=step, agent=agent)

    async def _ask(self, request: ChatRequest, parse: Any, fallback: V | None) -> V:
        answer = await self.gateway.ask(request, parse, fallback)
        return answer.value  # type: ignore[return-value]
