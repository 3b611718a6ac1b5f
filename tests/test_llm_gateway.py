"""The LLM gateway against real loopback HTTP servers (agents.testing), and its settings and cache."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from agents.llm import AgentSettings, LLMEndpointError, LLMFailure, OpenAIChatLLM, open_llm, run_sync
from agents.llm.cache import ResponseCache, request_key
from agents.testing import GARBAGE, FakeOpenAIServer, example_for_schema


class Plan(BaseModel):
    activity: str = Field(min_length=1)
    minutes: int = Field(ge=5)
    place: str | None = None


MSGS = [{"role": "system", "content": "You plan a day."}, {"role": "user", "content": "What next?"}]


def plan_handler(body: dict) -> dict:
    return {"activity": "bake bread", "minutes": 30, "place": "Hobbs Cafe:cafe"}


def make_llm(*servers: FakeOpenAIServer, **kw) -> OpenAIChatLLM:
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("timeout_s", 5.0)
    return OpenAIChatLLM([s.url for s in servers], model="test-model", **kw)


# -- structured answers, retries, fallbacks ------------------------------------------------------
async def test_structured_answer_is_parsed_and_request_carries_schema_and_seed():
    with FakeOpenAIServer(plan_handler) as srv:
        llm = make_llm(srv, seed=42)
        plan = await llm.structured(MSGS, Plan, step="plan", agent="Klaus", temperature=0.2, max_tokens=99)
        await llm.aclose()
    assert plan == Plan(activity="bake bread", minutes=30, place="Hobbs Cafe:cafe")
    body = srv.bodies[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["minutes"]["minimum"] == 5
    assert body["seed"] == 42 and body["temperature"] == 0.2 and body["max_tokens"] == 99
    assert body["model"] == "test-model"
    rec = llm.drain_records()[0]
    assert rec.attempts == 1 and not rec.fallback and rec.prompt_tokens > 0


async def test_default_handler_satisfies_the_schema():
    with FakeOpenAIServer() as srv:
        llm = make_llm(srv)
        plan = await llm.structured(MSGS, Plan, step="plan")
        text = await llm.text(MSGS, step="chat")
        await llm.aclose()
    assert plan.minutes == 5 and plan.activity
    assert text == "ok"


async def test_garbage_is_retried_then_answered():
    with FakeOpenAIServer(plan_handler, script=["garbage"]) as srv:
        llm = make_llm(srv, seed=1)
        plan = await llm.structured(MSGS, Plan, step="plan", agent="Klaus")
        await llm.aclose()
    assert plan.activity == "bake bread"
    assert srv.requests == 2
    assert [b["seed"] for b in srv.bodies] == [1, 2]  # a retry varies the seed
    assert llm.accounting.by_agent["Klaus"].retries == 1


async def test_garbage_every_time_gives_counted_fallback():
    fallback = Plan(activity="idle", minutes=5)
    with FakeOpenAIServer(plan_handler, script=["garbage"] * 3) as srv:
        llm = make_llm(srv, retries=2)
        got = await llm.structured(MSGS, Plan, step="plan", agent="Klaus", fallback=fallback)
        with pytest.raises(LLMFailure, match="plan for Klaus"):
            srv.script = ["garbage"] * 3
            await llm.structured(MSGS, Plan, step="plan", agent="Klaus")
        await llm.aclose()
    assert got is fallback
    assert srv.requests == 6
    tally = llm.accounting.by_step["plan"]
    assert tally.calls == 2 and tally.fallbacks == 1 and tally.retries == 4
    recs = llm.drain_records("Klaus")
    assert recs[0].fallback and "no JSON object" in (recs[0].error or "")
    assert GARBAGE[:10] in (recs[1].error or "")


@pytest.mark.parametrize("failure", ["500", "429"])
async def test_server_error_is_retried(failure):
    with FakeOpenAIServer(plan_handler, script=[failure]) as srv:
        llm = make_llm(srv)
        plan = await llm.structured(MSGS, Plan, step="plan")
        stats = llm.stats()["endpoints"][0]
        await llm.aclose()
    assert plan.minutes == 30
    assert srv.statuses == [int(failure), 200]
    assert stats["failures"] == 1 and stats["ok"] == 1


async def test_timeout_is_retried():
    with FakeOpenAIServer(plan_handler, script=["timeout"], hang_s=60.0) as srv:
        llm = make_llm(srv, timeout_s=0.4)
        plan = await llm.structured(MSGS, Plan, step="plan")
        still_hung = srv.in_flight
        await llm.aclose()
    assert plan.activity == "bake bread"
    assert srv.requests == 2 and srv.statuses == [200]  # the retry was answered...
    assert still_hung == 1  # ...while the server still held the hung request: it was abandoned, not waited for


async def test_backoff_grows_between_retries_on_a_single_endpoint(monkeypatch):
    with FakeOpenAIServer(plan_handler, script=["500", "500"]) as srv:
        llm = make_llm(srv, backoff_s=0.2, park_after=10)
        backoffs: list[float] = []
        real_failed = llm.pool._failed
        monkeypatch.setattr(llm.pool, "_failed", lambda ep, reason, server_wait_s=None: backoffs.append(
            real_failed(ep, reason, server_wait_s)) or backoffs[-1])
        t0 = time.perf_counter()
        await llm.structured(MSGS, Plan, step="plan")
        elapsed = time.perf_counter() - t0
        await llm.aclose()
    assert srv.requests == 3
    assert len(backoffs) == 2  # doubled after the second failure in a row, plus at most 20 % jitter each
    assert 0.2 <= backoffs[0] <= 0.24 and 0.4 <= backoffs[1] <= 0.48
    assert elapsed >= sum(backoffs)  # and really slept (a lower bound: a loaded machine only adds to it)


async def test_fatal_status_raises_instead_of_retrying():
    with FakeOpenAIServer(plan_handler) as srv:
        llm = OpenAIChatLLM([srv.url.removesuffix("/v1") + "/nope/v1"], model="test-model")
        with pytest.raises(LLMEndpointError, match="404"):
            await llm.structured(MSGS, Plan, step="plan", fallback=Plan(activity="idle", minutes=5))
        await llm.aclose()


# -- json_object fallback -----------------------------------------------------------------------
async def test_400_on_json_schema_switches_endpoint_to_json_object():
    with FakeOpenAIServer(plan_handler, reject_json_schema=True) as srv:
        llm = make_llm(srv)
        first = await llm.structured(MSGS, Plan, step="plan")
        second = await llm.structured(MSGS, Plan, step="plan")
        stats = llm.stats()["endpoints"][0]
        await llm.aclose()
    assert first.activity == second.activity == "bake bread"
    assert srv.statuses == [400, 200, 200]  # the switch is remembered: only one 400
    fmt_types = [b["response_format"]["type"] for b in srv.bodies]
    assert fmt_types == ["json_schema", "json_object", "json_object"]
    system = srv.bodies[1]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You plan a day.")
    assert '"minutes"' in system["content"] and "JSON schema" in system["content"]
    assert stats["json_object_mode"] is True and stats["failures"] == 0
    assert llm.drain_records()[0].attempts == 1


# -- pool ---------------------------------------------------------------------------------------
async def test_pool_spreads_concurrent_requests_over_endpoints():
    # No server answers before all 8 requests have arrived, so every pick saw the others outstanding.
    all_in = threading.Barrier(8, timeout=30)

    def held(body: dict) -> dict:
        all_in.wait()
        return plan_handler(body)

    with FakeOpenAIServer(held) as a, FakeOpenAIServer(held) as b:
        llm = make_llm(a, b, concurrency=8)
        await asyncio.gather(*(llm.structured(MSGS, Plan, step="plan") for _ in range(8)))
        await llm.aclose()
    assert a.requests == 4 and b.requests == 4  # least outstanding requests: an even split


async def test_dead_endpoint_is_parked_and_traffic_goes_to_the_live_one():
    with FakeOpenAIServer(plan_handler) as live, FakeOpenAIServer(plan_handler, script=["500"] * 50) as dead:
        llm = make_llm(dead, live, park_after=2, park_s=60, retries=3)
        for _ in range(6):
            plan = await llm.structured(MSGS, Plan, step="plan")
            assert plan.activity == "bake bread"
        stats = {e["url"]: e for e in llm.stats()["endpoints"]}
        await llm.aclose()
    assert dead.requests == 2  # parked after two failures in a row, never asked again
    assert stats[dead.url]["parked"] is True and stats[dead.url]["times_parked"] == 1
    assert stats[dead.url]["failures"] == 2
    assert stats[live.url]["ok"] == 6


async def test_connection_refused_endpoint_is_parked():
    with FakeOpenAIServer(plan_handler) as live:
        dead = FakeOpenAIServer().start()
        dead.stop()  # nothing listens there any more
        dead_url = dead.url
        llm = OpenAIChatLLM([dead_url, live.url], model="test-model", park_after=1, park_s=60, backoff_s=0.01)
        plans = [await llm.structured(MSGS, Plan, step="plan") for _ in range(3)]
        stats = {e["url"]: e for e in llm.stats()["endpoints"]}
        await llm.aclose()
    assert all(p.activity == "bake bread" for p in plans)
    assert stats[dead_url]["requests"] == 1 and stats[dead_url]["parked"]
    assert live.requests == 3


async def test_when_every_endpoint_is_parked_the_one_failing_least_is_tried_not_the_dead_one():
    """tests/test_secrets_run.py failed once with "LLM outage: 20 requests in a row failed on every endpoint": the
    live endpoint, parked after one 500, had its parking end after the dead one's, so every request went to the
    dead one (its failures while parked do not extend its parking) until the outage count was reached."""
    with FakeOpenAIServer(plan_handler, script=["500"]) as flaky:
        dead = FakeOpenAIServer().start()
        dead.stop()  # connection refused
        llm = OpenAIChatLLM([dead.url, flaky.url], model="test-model", park_after=1, park_s=60, backoff_s=0,
                            outage_after=20, retries=3)
        # 1st attempt: the dead one (parked); 2nd: the flaky one's 500 (parked, till after the dead one);
        # 3rd: both parked with one failure each, the dead one ends first; 4th: the flaky one (fewer failures)
        plans = [await llm.structured(MSGS, Plan, step="plan", fallback=Plan(activity="idle", minutes=5))
                 for _ in range(10)]
        stats = {e["url"]: e for e in llm.stats()["endpoints"]}
        await llm.aclose()
    assert all(p.activity == "bake bread" for p in plans)
    assert stats[dead.url]["failures"] == 2 and stats[flaky.url]["failures"] == 1
    assert stats[flaky.url]["ok"] == 10 and llm.pool.failed_in_a_row == 0


async def test_a_dead_endpoints_failures_are_no_outage_while_the_other_ones_last_request_was_answered():
    """The outage count runs only while every endpoint's latest request failed: here the live one is busy (slow)
    and never parked, so every other request goes to the dead one, which is never parked either."""
    with FakeOpenAIServer(plan_handler, delay_s=2.0) as slow:
        dead = FakeOpenAIServer().start()
        dead.stop()  # connection refused
        llm = OpenAIChatLLM([slow.url, dead.url], model="test-model", park_after=100, backoff_s=0, outage_after=5,
                            retries=9)
        fallback = Plan(activity="idle", minutes=5)
        # the first goes to the slow one (a tie); the second's ten attempts all fail on the dead one meanwhile
        first, second = await asyncio.gather(llm.structured(MSGS, Plan, step="plan", fallback=fallback),
                                             llm.structured(MSGS, Plan, step="plan", fallback=fallback))
        third = await llm.structured(MSGS, Plan, step="plan")
        stats = {e["url"]: e for e in llm.stats()["endpoints"]}
        await llm.aclose()
    assert first.activity == "bake bread" and second is fallback and third.activity == "bake bread"
    assert stats[dead.url]["failures"] >= 10 and stats[slow.url]["ok"] >= 2


def _server_processes(n: int, delay_s: float) -> list[tuple[subprocess.Popen, str]]:
    """``n`` test server processes on loopback (started together), each with its base URL."""
    procs = [subprocess.Popen([sys.executable, "-m", "agents.testing", "--delay", str(delay_s)],
                              stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    out = []
    for proc in procs:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("listening "):
            for p in procs:
                p.kill()
            raise RuntimeError(f"test server process did not start: {line!r}")
        out.append((proc, line.split()[1]))
    return out


async def test_pool_of_server_processes_survives_one_killed_mid_flight():
    """Two real server processes on loopback; one is SIGKILLed while requests are in flight."""
    (a, a_url), (b, b_url) = _server_processes(2, 0.4)
    try:
        llm = OpenAIChatLLM([a_url, b_url], model="test-model", backoff_s=0.01, timeout_s=5.0,
                            park_after=1, park_s=60, retries=2, concurrency=8)
        first = await asyncio.gather(*(llm.structured(MSGS, Plan, step="plan") for _ in range(8)))
        spread = {e["url"]: e["ok"] for e in llm.stats()["endpoints"]}
        assert spread[a_url] > 0 and spread[b_url] > 0 and sum(spread.values()) == 8

        async def kill_a_soon() -> None:
            while not next(e for e in llm.stats()["endpoints"] if e["url"] == a_url)["in_flight"]:
                await asyncio.sleep(0.01)  # until the gateway has sent requests to a
            a.send_signal(signal.SIGKILL)

        second = await asyncio.gather(kill_a_soon(), *(llm.structured(MSGS, Plan, step="plan") for _ in range(8)))
        third = [await llm.structured(MSGS, Plan, step="plan") for _ in range(3)]
        stats = {e["url"]: e for e in llm.stats()["endpoints"]}
        records = llm.drain_records()
        await llm.aclose()
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait(5)
    answers = [*first, *second[1:], *third]
    assert len(answers) == 19 and all(p.minutes == 5 for p in answers)  # every request was answered
    assert not any(r.fallback for r in records)
    assert stats[a_url]["parked"] and stats[a_url]["failures"] >= 1
    assert stats[a_url]["ok"] >= spread[a_url]
    # every answer came from one of the two, the killed server's in-flight ones retried on the live one
    assert stats[a_url]["ok"] + stats[b_url]["ok"] == 19
    assert stats[b_url]["ok"] >= spread[b_url] + 3  # after the kill, only b answers


# -- accounting ---------------------------------------------------------------------------------
async def test_accounting_by_agent_and_step():
    with FakeOpenAIServer(plan_handler) as srv:
        llm = make_llm(srv)
        await llm.structured(MSGS, Plan, step="plan", agent="Klaus")
        await llm.structured(MSGS, Plan, step="plan", agent="Maria")
        await llm.text(MSGS, step="converse", agent="Klaus")
        await llm.aclose()
    acc = llm.accounting.summary()
    assert acc["total"]["calls"] == 3
    assert acc["by_agent"]["Klaus"]["calls"] == 2 and acc["by_agent"]["Maria"]["calls"] == 1
    assert acc["by_step"]["plan"]["calls"] == 2 and acc["by_step"]["converse"]["calls"] == 1
    assert acc["by_step"]["plan"]["completion_tokens"] > 0
    assert [r.step for r in llm.drain_records("Klaus")] == ["plan", "converse"]
    assert [r.agent for r in llm.drain_records()] == ["Maria"]


# -- cache --------------------------------------------------------------------------------------
async def test_cache_hit_on_identical_call_and_miss_with_other_seed(tmp_path: Path):
    counter = iter(range(1000))

    def changing(body: dict) -> dict:
        return {"activity": f"task {next(counter)}", "minutes": 10}

    with FakeOpenAIServer(changing) as srv:
        cache = ResponseCache(tmp_path / "c.sqlite")
        llm = make_llm(srv, seed=7, cache=cache)
        first = await llm.structured(MSGS, Plan, step="plan", agent="Klaus")
        again = await llm.structured(MSGS, Plan, step="plan", agent="Klaus")
        assert srv.requests == 1 and again == first
        assert llm.drain_records()[1].cached is True
        llm.seed = 8
        other = await llm.structured(MSGS, Plan, step="plan")
        assert srv.requests == 2 and other != first
        assert (cache.hits, cache.misses) == (1, 2)
        await llm.aclose()

        # a second "run": same seed, same cache file -> the same answers, no request
        replay = make_llm(srv, seed=7, cache=ResponseCache(tmp_path / "c.sqlite"))
        assert await replay.structured(MSGS, Plan, step="plan", agent="Klaus") == first
        assert replay.accounting.total.cache_hits == 1
        await replay.aclose()
    assert srv.requests == 2


async def test_unseeded_requests_bypass_the_cache(tmp_path: Path):
    with FakeOpenAIServer(plan_handler, script=["garbage"]) as srv:
        cache = ResponseCache(tmp_path / "c.sqlite")
        llm = make_llm(srv, cache=cache)
        plan = await llm.structured(MSGS, Plan, step="plan")  # the retry must not get the garbage back
        await llm.aclose()
    assert plan.activity == "bake bread" and srv.requests == 2 and len(ResponseCache(tmp_path / "c.sqlite")) == 0


def test_cache_key_covers_every_parameter():
    base = dict(model="m", messages=MSGS, response_format=None, temperature=0.5, max_tokens=10, seed=1)
    k = request_key(**base)
    assert request_key(**base) == k
    for change in (
        {"model": "n"},
        {"messages": MSGS[:1]},
        {"response_format": {"type": "json_object"}},
        {"temperature": 0.6},
        {"max_tokens": 11},
        {"seed": 2},
        {"seed": None},
    ):
        assert request_key(**{**base, **change}) != k, change


def test_cache_refuses_a_file_that_is_not_sqlite(tmp_path: Path):
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RuntimeError, match="cache.sqlite"):
        ResponseCache(bad).get("k")


# -- concurrency --------------------------------------------------------------------------------
async def test_concurrent_calls_overlap():
    with FakeOpenAIServer(plan_handler, delay_s=0.3) as srv:
        llm = make_llm(srv, concurrency=8)
        plans = await asyncio.gather(*(llm.structured(MSGS, Plan, step="plan", agent=f"a{i}") for i in range(8)))
        await llm.aclose()
    assert len(plans) == 8 and srv.requests == 8
    assert srv.max_in_flight > 1  # they overlapped at the server (sequential would be 1)


async def test_concurrency_limit_is_respected():
    with FakeOpenAIServer(plan_handler, delay_s=0.1) as srv:
        llm = make_llm(srv, concurrency=2)
        await asyncio.gather(*(llm.structured(MSGS, Plan, step="plan") for _ in range(6)))
        await llm.aclose()
    assert srv.requests == 6 and 1 <= srv.max_in_flight <= 2  # never more than the limit at the server


# -- settings and open_llm ----------------------------------------------------------------------
def test_settings_read_openai_env_pool_and_toml(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a:1/v1/, http://b:2/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    s = AgentSettings()
    assert s.base_urls == ["http://a:1/v1", "http://b:2/v1"] and s.api_key == "sk-test" and not s.embedded
    monkeypatch.setenv("TOWN_BASE_URLS", "http://c:3/v1")
    assert AgentSettings().base_urls == ["http://c:3/v1"]
    monkeypatch.delenv("TOWN_BASE_URLS")
    monkeypatch.delenv("OPENAI_BASE_URL")
    (tmp_path / "town.toml").write_text('[llm]\nconcurrency = 3\ncache_path = "x.sqlite"\nembedded_model = "0.5b"\n')
    s = AgentSettings()
    assert s.concurrency == 3 and s.cache_path == Path("x.sqlite") and s.embedded_model == "0.5b" and s.embedded
    monkeypatch.setenv("TOWN_CONCURRENCY", "5")  # the environment beats the file
    assert AgentSettings().concurrency == 5


def test_settings_errors_name_the_problem(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="must start with http"):
        AgentSettings(base_urls="ftp://x")
    with pytest.raises(ValidationError, match="tokens per slot"):
        AgentSettings(embedded_ctx=4096, embedded_parallel=4)
    with pytest.raises(ValidationError, match="embedded_model"):
        AgentSettings(embedded_model="7b")
    monkeypatch.setenv("TOWN_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        AgentSettings()
    bad = tmp_path / "bad.toml"
    bad.write_text("[llm\nconcurrency = 3\n")
    monkeypatch.setenv("TOWN_CONFIG", str(bad))
    with pytest.raises(ValueError, match="bad.toml"):
        AgentSettings()


async def test_open_llm_uses_the_pool_and_discovers_the_model(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer(plan_handler, model="served-model") as a, FakeOpenAIServer(plan_handler) as b:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{a.url},{b.url}")
        monkeypatch.setenv("TOWN_CACHE_PATH", str(tmp_path / "cache.sqlite"))
        llm = await open_llm(seed=3)
        assert isinstance(llm, OpenAIChatLLM) and llm.model_name == "served-model"
        assert [e.url for e in llm.endpoints] == [a.url, b.url]
        await llm.structured(MSGS, Plan, step="plan")
        await llm.aclose()
    assert (a.bodies + b.bodies)[0]["seed"] == 3 and (a.bodies + b.bodies)[0]["model"] == "served-model"
    assert len(ResponseCache(tmp_path / "cache.sqlite")) == 1


def test_run_sync_for_cli_one_offs(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer(plan_handler) as srv:
        settings = AgentSettings(base_urls=[srv.url], model="test-model")
        plan = run_sync(lambda llm: llm.structured(MSGS, Plan, step="interview"), settings, seed=9)
    assert plan.activity == "bake bread" and srv.bodies[0]["seed"] == 9


def test_example_for_schema_handles_refs_and_optionals():
    class Inner(BaseModel):
        tags: list[str] = Field(min_length=2)

    class Outer(BaseModel):
        inner: Inner
        mood: str | None
        kind: str = Field(json_schema_extra={"enum": ["a", "b"]})

    value = example_for_schema(Outer.model_json_schema())
    Outer.model_validate(value)
    assert value["inner"]["tags"] == ["x", "x"] and value["kind"] == "a"
