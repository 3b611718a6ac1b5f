"""The gateway's vocabulary: the tiny :class:`ChatModel` interface every layer implements, its request and answer,
the errors, the call records and their tallies, and how an answer is parsed into a pydantic model.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)
Messages = list[dict[str, str]]


class LLMError(Exception):
    """A backend failure worth a retry (timeout, connection, 5xx, bad output); ``server``: what an answer that
    was still refused (empty) cost the server, so the accounting keeps it."""

    def __init__(self, message: str, *, server: ServerFigures | None = None) -> None:
        super().__init__(message)
        self.server = server


class LLMFailure(Exception):
    """Retries exhausted and the caller gave no fallback; ``answer`` says what the attempts cost (for accounting)."""

    def __init__(self, message: str, *, answer: Any = None) -> None:
        super().__init__(message)
        self.answer = answer


@dataclass
class RawCompletion:
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    cached: bool = False  # answered from our response cache
    server: ServerFigures | None = None  # what the server said it spent (None: it did not say, or our cache answered)


@dataclass(frozen=True)
class ServerFigures:
    """The server's own account of one answer (llama.cpp ``timings``; vLLM/OpenAI give ``cached_tokens`` only).

    Every figure is None when the server did not give it; ``ended_at`` is when the answer arrived (unix seconds).
    """

    prompt_n: int | None = None  # prompt tokens evaluated
    cache_n: int | None = None  # prompt tokens reused from the slot's prefix cache
    prompt_ms: float | None = None
    gen_n: int | None = None
    gen_ms: float | None = None
    ended_at: float | None = None
    draft_n: int | None = None  # tokens drafted by speculative decoding
    draft_accepted: int | None = None  # of those, accepted by the model

    def __add__(self, later: ServerFigures) -> ServerFigures:
        """Two attempts of one call: figures summed (None only where neither said), the later arrival kept."""
        def plus(a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else a + b

        summed = {f.name: plus(getattr(self, f.name), getattr(later, f.name)) for f in fields(self)
                  if f.name != "ended_at"}
        return ServerFigures(**summed, ended_at=later.ended_at or self.ended_at)

    def record_fields(self) -> dict[str, Any]:
        """The figures under their :class:`LLMCallRecord` (and ``llm_call`` event) names."""
        return {record_name(k): v for k, v in asdict(self).items()}


def record_name(figure: str) -> str:
    """A :class:`ServerFigures` field's name on the call record: ``server_`` + it, but ``ended_at`` as it is."""
    return figure if figure == "ended_at" else f"server_{figure}"


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request, as every gateway layer passes it down."""

    messages: Messages
    response_format: dict[str, Any] | None
    temperature: float
    max_tokens: int
    seed: int | None
    # who asks, for the accounting and for scripted test models; not part of what shapes the answer
    step: str = field(default="", compare=False)
    agent: str | None = field(default=None, compare=False)


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
    # a step routed to the small model: "small" (it answered, ``model`` is its name) or "escalated" (the main
    # model answered after the small one failed; tokens, attempts and server figures are both tiers'); None: not routed
    cascade: str | None = None
    # the server's own figures (see ServerFigures), summed over the attempts; None when it did not say
    server_prompt_n: int | None = None
    server_cache_n: int | None = None
    server_prompt_ms: float | None = None
    server_gen_n: int | None = None
    server_gen_ms: float | None = None
    ended_at: float | None = None  # unix seconds the (last) answer arrived
    server_draft_n: int | None = None  # speculative decoding: tokens drafted, and accepted
    server_draft_accepted: int | None = None

    def server_fields(self) -> dict[str, Any]:
        """The server figures the server gave (for the ``llm_call`` event; none at all for a cached answer)."""
        names = (record_name(f.name) for f in fields(ServerFigures))
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}


@dataclass
class Tally:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    fallbacks: int = 0
    latency_s: float = 0.0
    cascade_small_answers: int = 0  # calls routed to the small model that it answered
    cascade_escalations: int = 0  # calls routed to the small model that the main one answered

    def add(self, rec: LLMCallRecord) -> None:
        self.calls += 1
        self.cache_hits += int(rec.cached)
        self.prompt_tokens += rec.prompt_tokens
        self.completion_tokens += rec.completion_tokens
        self.retries += max(0, rec.attempts - 1)
        self.fallbacks += int(rec.fallback)
        self.latency_s += rec.latency_s
        self.cascade_small_answers += int(rec.cascade == "small")
        self.cascade_escalations += int(rec.cascade == "escalated")


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
