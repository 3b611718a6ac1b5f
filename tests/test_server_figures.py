"""The server's own figures (llama.cpp ``timings``, ``cached_tokens``) travel from a loopback answer to the call
records and the ``llm_call`` event; none where the server said nothing or our own cache answered."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from agents.llm import OpenAIChatLLM
from agents.llm.cache import ResponseCache
from agents.testing import FakeOpenAIServer
from agents.testing import openai_server as fake_server
from agents.testing.faults import completion
from town.world.event_types import LLMCall

SYSTEM = {"role": "system", "content": "you are a baker in a small town and you answer in one word"}


class One(BaseModel):
    word: str


def make_llm(srv: FakeOpenAIServer, **kw) -> OpenAIChatLLM:
    return OpenAIChatLLM([srv.url], model="test-model", backoff_s=0.01, timeout_s=5.0, **kw)


def words(n: int) -> str:
    return " ".join(["bread"] * n)


async def test_timings_fill_the_record_and_the_prefix_cache_is_counted():
    with FakeOpenAIServer(lambda body: words(4), timings=(2.0, 10.0)) as srv:
        llm = make_llm(srv)
        before = time.time()
        await llm.text([SYSTEM, {"role": "user", "content": "first question"}], step="s", agent="A")
        await llm.text([SYSTEM, {"role": "user", "content": "second question please"}], step="s", agent="A")
        after = time.time()
        await llm.aclose()
    first, second = llm.drain_records()
    # 14 system words + 2 user words, nothing cached yet; then the 14-word system prefix is reused
    assert (first.server_cache_n, first.server_prompt_n, first.server_prompt_ms) == (0, 16, 32.0)
    assert (second.server_cache_n, second.server_prompt_n, second.server_prompt_ms) == (14, 3, 6.0)
    assert (second.server_gen_n, second.server_gen_ms) == (4, 40.0)
    assert before <= first.ended_at <= second.ended_at <= after
    logged = LLMCall.model_validate({"step": "s", **second.server_fields()})
    assert logged.server_cache_n == 14 and logged.server_gen_ms == 40.0


async def test_a_retry_sums_what_both_attempts_cost_the_server():
    with FakeOpenAIServer(lambda body: words(3), timings=(1.0, 5.0), script=["garbage"]) as srv:
        srv.handler = lambda body: {"word": "bread"}
        llm = make_llm(srv)
        await llm.structured([{"role": "user", "content": "one two three"}], One, step="s", agent="A")
        await llm.aclose()
    (rec,) = llm.drain_records()
    assert rec.attempts == 2
    # attempt 1: 3 prompt tokens evaluated; attempt 2: the same prompt, all 3 reused from the slot
    assert (rec.server_prompt_n, rec.server_cache_n, rec.server_prompt_ms) == (3, 3, 3.0)


async def test_no_timings_no_figures_and_cached_tokens_alone_are_kept(monkeypatch):
    with FakeOpenAIServer(lambda body: "ok") as srv:
        llm = make_llm(srv)
        await llm.text([{"role": "user", "content": "hi"}], step="s")
        await llm.aclose()
    (rec,) = llm.drain_records()
    assert rec.server_fields() == {}
    assert rec.server_prompt_n is None and rec.ended_at is None

    def with_cached(content, body, n, model):  # vLLM with prefix caching: cached_tokens, no timings
        ok = completion(content, body, n, model)
        ok["usage"]["prompt_tokens_details"] = {"cached_tokens": 7}
        return ok

    monkeypatch.setattr(fake_server, "completion", with_cached)
    with FakeOpenAIServer(lambda body: "ok") as srv:
        llm = make_llm(srv)
        await llm.text([{"role": "user", "content": "hi"}], step="s")
        await llm.aclose()
    (rec,) = llm.drain_records()
    assert rec.server_cache_n == 7 and rec.server_prompt_n is None and rec.server_prompt_ms is None
    assert rec.ended_at is not None


async def test_an_answer_from_our_own_cache_has_no_server_figures(tmp_path: Path):
    with FakeOpenAIServer(lambda body: "ok", timings=(1.0, 1.0)) as srv:
        llm = make_llm(srv, seed=3, cache=ResponseCache(tmp_path / "c.sqlite"))
        await llm.text([{"role": "user", "content": "hi"}], step="s")
        await llm.text([{"role": "user", "content": "hi"}], step="s")
        await llm.aclose()
    fresh, cached = llm.drain_records()
    assert fresh.server_prompt_n == 1 and not fresh.cached
    assert cached.cached and cached.server_fields() == {}


async def test_an_empty_answer_retried_still_counts_the_server_time_it_took():
    with FakeOpenAIServer(lambda body: "bread", timings=(1.0, 5.0), script=["empty"]) as srv:
        llm = make_llm(srv)
        await llm.text([{"role": "user", "content": "one two"}], step="s", agent="A")
        await llm.aclose()
    (rec,) = llm.drain_records()
    # the empty first attempt evaluated the 2-word prompt (kept: without it prompt_n would be 0); the second
    # reused it all from the slot and generated the one word
    assert rec.attempts == 2
    assert (rec.server_prompt_n, rec.server_cache_n, rec.server_gen_n, rec.server_prompt_ms) == (2, 2, 1, 2.0)


def test_drafted_and_accepted_tokens_travel_from_timings_to_the_event():
    from openai.types.chat import ChatCompletion

    from agents.llm.pool import server_figures

    body = completion("bread", {"messages": [SYSTEM], "max_tokens": 5}, 0, "test-model")
    body = fake_server.server_timings(body, 0, 1.0, 5.0)
    body["timings"].update(draft_n=12, draft_n_accepted=9)
    figures = server_figures(ChatCompletion.model_validate(body), 123.0)
    assert (figures.draft_n, figures.draft_accepted, figures.ended_at) == (12, 9, 123.0)
    twice = figures + figures  # two attempts of one call: summed
    assert (twice.draft_n, twice.draft_accepted) == (24, 18)
    plain = server_figures(ChatCompletion.model_validate(fake_server.server_timings(
        completion("bread", {"messages": [SYSTEM], "max_tokens": 5}, 0, "test-model"), 0, 1.0, 5.0)), 1.0)
    assert plain.draft_n is None and plain.draft_accepted is None


def test_every_server_figure_has_a_place_on_the_record_and_the_event():
    # the record ignores unknown keys: a figure without a field there would be dropped without a word
    from dataclasses import fields

    from agents.llm.interface import LLMCallRecord, ServerFigures, record_name

    names = {record_name(f.name) for f in fields(ServerFigures)}
    assert names <= set(LLMCallRecord.model_fields) and names <= set(LLMCall.model_fields)
    figures = ServerFigures(prompt_n=1, cache_n=2, prompt_ms=3.0, gen_n=4, gen_ms=5.0, ended_at=6.0, draft_n=7,
                            draft_accepted=8)
    record = LLMCallRecord(step="s", agent="A", model="m", prompt_tokens=0, completion_tokens=0, cached=False,
                           latency_s=0.0, attempts=1, **figures.record_fields())
    assert record.server_fields() == figures.record_fields() and len(names) == 8


def test_two_attempts_sum_every_figure_by_name_and_keep_the_later_arrival():
    from dataclasses import fields

    from agents.llm.interface import ServerFigures

    first = ServerFigures(**{f.name: i + 1 for i, f in enumerate(fields(ServerFigures))})
    later = ServerFigures(**{f.name: 10 * (i + 1) for i, f in enumerate(fields(ServerFigures))})
    both = first + later
    for i, f in enumerate(fields(ServerFigures)):
        expected = later.ended_at if f.name == "ended_at" else 11 * (i + 1)
        assert getattr(both, f.name) == expected, f.name
    assert (ServerFigures(gen_n=3) + ServerFigures(prompt_n=2)) == ServerFigures(prompt_n=2, gen_n=3)
    assert (ServerFigures(ended_at=5.0) + ServerFigures()).ended_at == 5.0
