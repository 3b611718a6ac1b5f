"""The gateway's upper wrappers alone, each over a tiny scripted inner model (no servers): the concurrency limit,
retry with its counted fallback, accounting by step / agent / in flight, and faces sharing one lower stack."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pydantic import BaseModel

from agents.llm.base import BaseLLM, ChatRequest, LLMError, LLMFailure, RawCompletion, parse_structured
from agents.llm.cascade import build_gateway
from agents.llm.layers import AccountingLayer, Answer, ConcurrencyLimit, RetryLayer

REQ = ChatRequest([{"role": "user", "content": "hi"}], None, 0.7, 32, None, step="plan", agent="Klaus")


class Plan(BaseModel):
    activity: str
    minutes: int


class Script:
    """An inner ChatModel answering from a list (an Exception is raised) and keeping every request it got."""

    model_name = "inner"

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> RawCompletion:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return RawCompletion(content=answer, prompt_tokens=3, completion_tokens=2, model="m-1")

    def stats(self) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        return None


class Gate:
    """An inner ChatModel that holds every request until released, counting how many are inside at once."""

    model_name = "gate"

    def __init__(self, answer: str = '{"activity": "bake", "minutes": 30}') -> None:
        self.answer = answer
        self.inside = 0
        self.most = 0
        self.entered = 0
        self.release = asyncio.Event()
        self.changed = asyncio.Event()

    async def complete(self, request: ChatRequest) -> RawCompletion:
        self.inside += 1
        self.entered += 1
        self.most = max(self.most, self.inside)
        self.changed.set()
        try:
            await self.release.wait()
        finally:
            self.inside -= 1
        return RawCompletion(content=self.answer, model="gate", prompt_tokens=1, completion_tokens=1)

    async def wait_inside(self, n: int) -> None:
        while self.inside < n:
            self.changed.clear()
            await self.changed.wait()

    def stats(self) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        return None


def parse_plan(content: str) -> Plan:
    return parse_structured(content, Plan)


async def test_retry_reasks_bad_json_and_a_schema_violation_with_a_new_seed_each_time():
    inner = Script(["not json at all", '{"activity": "bake"}', '{"activity": "bake", "minutes": 30}'])
    answer = await RetryLayer(inner, retries=2, seed=7).ask(REQ, parse_plan, None)
    assert answer.value == Plan(activity="bake", minutes=30)
    assert (answer.attempts, answer.fallback, answer.error) == (3, False, None)
    assert [r.seed for r in inner.requests] == [7, 8, 9]  # a retry is not the same (cached) bad answer
    assert answer.prompt_tokens == 9 and answer.model == "m-1"  # every attempt's tokens were spent


async def test_retry_returns_the_fallback_with_the_reason_logged_and_counted(caplog: pytest.LogCaptureFixture):
    retry = RetryLayer(Script(['{"activity": 5}', LLMError("timeout")]), retries=1, seed=None)
    fallback = Plan(activity="idle", minutes=0)
    with caplog.at_level(logging.WARNING, logger="agents.llm"):
        answer = await retry.ask(REQ, parse_plan, fallback)
    assert answer.value is fallback and answer.fallback and answer.attempts == 2
    assert answer.error == "timeout" and retry.fallbacks == {"plan": 1}
    assert "plan/Klaus: using fallback after 2 attempts: timeout" in caplog.text
    assert "does not fit Plan" in caplog.text  # the first attempt's reason is logged too


async def test_retry_without_a_fallback_raises_with_what_the_attempts_cost():
    retry = RetryLayer(Script(["{}", "{}", "{}"]), retries=2)
    with pytest.raises(LLMFailure, match="plan for Klaus: 3 attempts failed") as info:
        await retry.ask(REQ, parse_plan, None)
    assert info.value.answer.attempts == 3 and not info.value.answer.fallback and retry.fallbacks == {}


class Scripted:
    """An inner Asker whose answers are given per call (an Exception is raised)."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)

    async def ask(self, request: ChatRequest, parse: Any, fallback: Any) -> Answer[Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_accounting_counts_by_step_and_agent_and_records_failures_before_raising():
    failed = Answer(value=None, model="m", prompt_tokens=4, attempts=3, error="bad")
    layer = AccountingLayer(Scripted([
        Answer(value="a", model="m", prompt_tokens=5, completion_tokens=1, attempts=2),
        Answer(value="b", model="m", prompt_tokens=1, completion_tokens=1, attempts=1, fallback=True, cached=True),
        LLMFailure("no", answer=failed),
    ]))
    await layer.ask(REQ, str, None)
    await layer.ask(ChatRequest([], None, 0.0, 1, None, step="converse", agent="Maria"), str, "b")
    with pytest.raises(LLMFailure):
        await layer.ask(REQ, str, None)
    acc = layer.accounting
    plan, klaus, total = acc.by_step["plan"], acc.by_agent["Klaus"], acc.total
    assert (plan.calls, plan.prompt_tokens, plan.retries) == (2, 9, 3)
    assert (klaus.calls, acc.by_agent["Maria"].fallbacks, acc.by_step["converse"].cache_hits) == (2, 1, 1)
    assert (total.calls, total.fallbacks, total.completion_tokens) == (3, 1, 2)
    assert [r.error for r in layer.drain_records("Klaus")] == [None, "bad"]
    assert [r.agent for r in layer.drain_records()] == ["Maria"] and layer.drain_records() == []
    assert sum(acc.in_flight.values()) == 0


async def test_accounting_counts_a_call_in_flight_until_answered():
    gate = Gate()
    layer = AccountingLayer(RetryLayer(gate))
    task = asyncio.ensure_future(layer.ask(REQ, parse_plan, None))
    await gate.wait_inside(1)
    assert layer.accounting.in_flight[("plan", "Klaus")] == 1 and layer.accounting.total.calls == 0
    gate.release.set()
    await task
    assert layer.accounting.in_flight[("plan", "Klaus")] == 0 and layer.accounting.total.calls == 1


async def test_the_limit_caps_requests_in_the_layers_below():
    gate = Gate()
    limit = ConcurrencyLimit(gate, 2)
    tasks = [asyncio.ensure_future(limit.complete(REQ)) for _ in range(5)]
    await gate.wait_inside(2)
    for _ in range(20):  # every waiting task gets its turns: none gets past the limit while two are inside
        await asyncio.sleep(0)
    assert gate.entered == 2
    gate.release.set()
    await asyncio.gather(*tasks)
    assert gate.entered == 5 and gate.most == 2


async def test_the_factory_stacks_limit_retry_and_accounting_under_the_minds_face():
    inner = Script(["nope", '{"activity": "bake", "minutes": 30}'])
    llm = BaseLLM(chat=inner, concurrency=2, seed=5, temperature=0.1)
    plan = await llm.structured([{"role": "user", "content": "plan"}], Plan, step="plan", agent="Klaus")
    assert plan == Plan(activity="bake", minutes=30) and llm.model_name == "inner"
    assert [(r.seed, r.temperature, r.step) for r in inner.requests] == [(5, 0.1, "plan"), (6, 0.1, "plan")]
    assert inner.requests[0].response_format["json_schema"]["name"] == "Plan"
    assert llm.accounting.by_agent["Klaus"].retries == 1
    stack = build_gateway(Script([]), retries=0, seed=None, concurrency=3)
    assert isinstance(stack.inner, RetryLayer) and isinstance(stack.inner.inner, ConcurrencyLimit)


async def test_shared_faces_keep_their_own_seed_and_accounting_over_one_limit():
    gate = Gate()
    backend = BaseLLM(chat=gate, concurrency=1, seed=0)
    a, b = backend.share(seed=1), backend.share(seed=2)
    msgs = [{"role": "user", "content": "plan"}]
    tasks = [asyncio.ensure_future(face.structured(msgs, Plan, step="plan", agent=name))
             for face, name in ((a, "Klaus"), (b, "Maria"))]
    await gate.wait_inside(1)
    for _ in range(20):
        await asyncio.sleep(0)
    assert gate.entered == 1  # the backend's limit holds across both faces
    gate.release.set()
    await asyncio.gather(*tasks)
    assert gate.most == 1 and gate.entered == 2
    assert list(a.accounting.by_agent) == ["Klaus"] and list(b.accounting.by_agent) == ["Maria"]
    assert backend.accounting.total.calls == 0 and (a.seed, b.seed, a.retries) == (1, 2, backend.retries)
    await a.aclose()  # a face does not close the shared stack
