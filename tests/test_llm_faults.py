"""The gateway against a misbehaving endpoint: the fault-injection server runs as a real process on loopback.

Every fault is a retry, then a counted fallback; a refused key is one line; a sustained outage is LLMOutage.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from pydantic import BaseModel, Field

from agents.llm import LLMEndpointError, LLMOutage, OpenAIChatLLM
from agents.testing import FakeOpenAIServer, ServerProcess

SECRET = "sekret-pass-4711"
KEY = "sk-test-key-0123456789abcdef"


class Plan(BaseModel):
    activity: str = Field(min_length=1)
    minutes: int = Field(ge=5)


MSGS = [{"role": "user", "content": "What next?"}]
FALLBACK = Plan(activity="idle", minutes=5)


@pytest.fixture(scope="module")
def server():
    with ServerProcess(retry_after_s=1.0, hang_s=30.0) as srv:
        yield srv


def make_llm(url: str, **kw) -> OpenAIChatLLM:
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("park_after", 100)
    return OpenAIChatLLM([url], model="test-model", **kw)


def served_since(server: ServerProcess, before: int) -> list[str]:
    return server.stats()["served"][before:]


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://user:{SECRET}@")


MALFORMED = {"bad_json": "malformed response", "truncated": "malformed response", "html": "malformed response",
             "no_choices": "malformed response", "reset": "connection error", "500": "HTTP 500"}


@pytest.mark.parametrize("fault", sorted(MALFORMED))
async def test_a_faulty_answer_is_retried_and_counted(server, fault):
    server.set_script([fault])
    before = server.stats()["requests"]
    llm = make_llm(server.url)
    plan = await llm.structured(MSGS, Plan, step="plan", agent="Klaus")
    stats = llm.stats()["endpoints"][0]
    await llm.aclose()
    assert plan.minutes == 5  # the schema's minimal instance, from the healthy second answer
    assert served_since(server, before) == [fault, "ok"]
    assert stats["failures_by_kind"] == {MALFORMED[fault]: 1} and stats["ok"] == 1
    rec = llm.drain_records()[0]
    assert rec.attempts == 2 and not rec.fallback


@pytest.mark.parametrize("fault", sorted(MALFORMED))
async def test_a_fault_on_every_attempt_is_a_logged_counted_fallback(server, fault, caplog):
    server.set_script([fault] * 3)
    llm = make_llm(with_userinfo(server.url), retries=2, api_key=KEY)
    with caplog.at_level(logging.WARNING):
        got = await llm.structured(MSGS, Plan, step="plan", agent="Klaus", fallback=FALLBACK)
    await llm.aclose()
    assert got is FALLBACK
    rec = llm.drain_records()[0]
    assert rec.fallback and rec.attempts == 3 and MALFORMED[fault] in (rec.error or "")
    assert llm.accounting.total.fallbacks == 1 and llm.accounting.total.retries == 2
    assert "using fallback" in caplog.text
    for text in (caplog.text, rec.error or "", str(llm.stats())):
        assert SECRET not in text and KEY not in text


async def test_empty_content_is_retried_but_not_an_endpoint_failure(server):
    server.set_script(["empty"])
    llm = make_llm(server.url, seed=1)
    plan = await llm.structured(MSGS, Plan, step="plan")
    text_server_answer = await llm.text(MSGS, step="chat")
    stats = llm.stats()["endpoints"][0]
    await llm.aclose()
    assert plan.minutes == 5 and text_server_answer == "ok"
    assert stats["empty_answers"] == 1 and stats["failures"] == 0
    assert llm.accounting.total.retries == 1


@pytest.mark.parametrize("status", ["401", "403"])
async def test_a_refused_key_is_one_redacted_line_and_no_retry(server, status):
    server.set_script([status])
    before = server.stats()["requests"]
    llm = make_llm(with_userinfo(server.url), api_key=KEY)
    with pytest.raises(LLMEndpointError) as info:
        await llm.structured(MSGS, Plan, step="plan", fallback=FALLBACK)
    await llm.aclose()
    msg = str(info.value)
    assert f"HTTP {status}" in msg and "OPENAI_API_KEY" in msg and "127.0.0.1" in msg
    assert "\n" not in msg and SECRET not in msg and KEY not in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback to print
    assert served_since(server, before) == [status]  # not retried, no fallback simulated


async def test_429_waits_at_least_retry_after_with_bounded_jitter(server):
    server.set_script(["429"])  # the server says Retry-After: 1
    before = server.stats()["requests"]
    llm = make_llm(server.url, backoff_s=0.01)
    plan = await llm.structured(MSGS, Plan, step="plan")
    stats = llm.stats()["endpoints"][0]
    await llm.aclose()
    assert plan.minutes == 5
    arrivals = server.stats()["arrivals"][before:]
    assert arrivals[1] - arrivals[0] >= 1.0  # the retry came after the server's Retry-After, not the 0.01 s backoff
    assert 1.0 <= stats["waited_s"] <= 1.0 * 1.2 and stats["failures_by_kind"] == {"HTTP 429": 1}


async def test_retry_after_is_capped(server):
    server.set_script(["429"])
    llm = make_llm(server.url, max_retry_after_s=0.1)
    await llm.structured(MSGS, Plan, step="plan")
    waited = llm.stats()["endpoints"][0]["waited_s"]
    await llm.aclose()
    assert 0.1 <= waited <= 0.1 * 1.2


def test_backoff_is_jittered_within_bounds():
    llm = make_llm("http://127.0.0.1:9/v1", backoff_s=1.0, max_backoff_s=1.0)
    ep = llm.endpoints[0]
    waits = [llm.pool._failed(ep, "HTTP 500") for _ in range(20)]
    assert all(1.0 <= w <= 1.2 for w in waits)
    assert len(set(waits)) > 1  # not every agent's retry at the same instant


async def test_a_hang_past_the_timeout_is_a_retry(server):
    server.set_script(["hang"])  # the server sits on it for 30 s
    before = server.stats()["requests"]
    llm = make_llm(server.url, timeout_s=2.0)
    plan = await llm.structured(MSGS, Plan, step="plan")
    stats = llm.stats()["endpoints"][0]
    await llm.aclose()
    assert plan.minutes == 5 and served_since(server, before) == ["hang", "ok"]
    assert stats["failures_by_kind"] == {"timeout": 1}


async def test_sustained_failure_raises_llm_outage_and_then_fails_fast(server):
    server.set_script([], default="500")
    before = server.stats()["requests"]
    try:
        llm = make_llm(with_userinfo(server.url), outage_after=5, retries=2, api_key=KEY)
        first = await llm.structured(MSGS, Plan, step="plan", fallback=FALLBACK)  # 3 failures: a fallback
        with pytest.raises(LLMOutage) as info:
            await llm.structured(MSGS, Plan, step="plan", fallback=FALLBACK)  # failures 4 and 5: the outage
        with pytest.raises(LLMOutage):
            await llm.text(MSGS, step="chat", fallback="...")  # no more requests once declared
        await llm.aclose()
    finally:
        server.set_script([])
    assert first is FALLBACK
    assert len(served_since(server, before)) == 5
    msg = str(info.value)
    assert "5 requests in a row" in msg and "HTTP 500" in msg and "\n" not in msg and SECRET not in msg


async def test_an_answer_between_failures_resets_the_outage_count(server):
    server.set_script(["500"] * 4 + ["ok"] + ["500"] * 4)
    llm = make_llm(server.url, outage_after=5, retries=4)
    await llm.structured(MSGS, Plan, step="plan")
    await llm.structured(MSGS, Plan, step="plan")
    await llm.aclose()
    assert llm.pool.failed_in_a_row == 0 and llm.accounting.total.retries == 8


async def test_test_server_answers_every_one_of_many_simultaneous_connections():
    """`town bench` died here: socketserver's listen backlog of 5 reset connections beyond it."""
    n = 256
    with FakeOpenAIServer(delay_s=0.2) as srv:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            replies = await asyncio.gather(
                *(client.post(f"{srv.url}/chat/completions", json={"messages": []}) for _ in range(n)),
                return_exceptions=True,
            )
    errors = [r for r in replies if isinstance(r, Exception)]
    assert not errors, f"{len(errors)} of {n} failed, first: {errors[0]!r}"
    assert all(r.status_code == 200 for r in replies) and srv.requests == n
