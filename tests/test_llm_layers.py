"""Each gateway layer alone, through the one interface (ChatRequest in, RawCompletion out): the pool, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.llm.base import ChatRequest, LLMError, RawCompletion
from agents.llm.cache import CachedChat, ResponseCache
from agents.llm.pool import EndpointPool
from agents.testing import FakeOpenAIServer

REQ = ChatRequest([{"role": "user", "content": "hi"}], None, 0.0, 16, 7)


async def test_the_pool_alone_answers_and_fails_once_per_request():
    with FakeOpenAIServer(script=["html"]) as srv:
        pool = EndpointPool([srv.url], model="test-model", backoff_s=0.0)
        with pytest.raises(LLMError, match="malformed response"):
            await pool.complete(REQ)  # no retry at this layer: that is the layer above
        raw = await pool.complete(REQ)
        await pool.aclose()
    assert raw.content == "ok" and not raw.cached and srv.served == ["html", "ok"]
    assert srv.bodies[1]["seed"] == 7 and srv.bodies[1]["max_tokens"] == 16
    assert pool.stats()["endpoints"][0]["failures_by_kind"] == {"malformed response": 1}


class CountingChat:
    """An inner layer that numbers its answers and fails when told to (to watch what the cache passes down)."""

    model_name = "m"

    def __init__(self) -> None:
        self.calls = 0
        self.fail_next = False

    async def complete(self, request: ChatRequest) -> RawCompletion:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise LLMError("down")
        return RawCompletion(content=f"answer {self.calls}", model="m")

    def stats(self) -> dict:
        return {"calls": self.calls}

    async def aclose(self) -> None:
        return None


async def test_the_cache_alone_serves_seeded_repeats_and_never_stores_failures(tmp_path: Path):
    inner = CountingChat()
    chat = CachedChat(inner, ResponseCache(tmp_path / "c.sqlite"))
    inner.fail_next = True
    with pytest.raises(LLMError):
        await chat.complete(REQ)
    first = await chat.complete(REQ)
    again = await chat.complete(REQ)
    unseeded = ChatRequest(REQ.messages, None, 0.0, 16, None)
    u1, u2 = await chat.complete(unseeded), await chat.complete(unseeded)
    stats = chat.stats()
    await chat.aclose()
    assert first.content == again.content == "answer 2" and again.cached and not first.cached
    assert (u1.content, u2.content) == ("answer 3", "answer 4")  # unseeded requests always go down
    assert inner.calls == 4 and stats["cache"]["hits"] == 1 and stats["calls"] == 4
