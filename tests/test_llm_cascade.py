"""The LLM cascade against two real loopback server processes, a small and a main tier: routed steps go to the
small model, an answer of it that does not validate escalates to the main one (counted, nothing lost), other
steps go to the main model, ``share()`` keeps the routing, and unknown step names in the settings are one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

import agents.llm as llm_module
from agents.llm import OpenAIChatLLM, open_llm
from agents.llm.cache import ResponseCache
from agents.llm.openai_backend import small_tier
from agents.settings import SMALL_EMBEDDED_SLOTS, AgentSettings, SettingsError, agent_settings
from agents.testing import ServerProcess

ROUTED, OTHER = "perceive_importance", "plan_daily"
MSGS = [{"role": "system", "content": "Rate it."}, {"role": "user", "content": "A dog barks."}]


class Importance(BaseModel):
    score: int = Field(ge=1, le=10)


FALLBACK = Importance(score=3)


@pytest.fixture(scope="module")
def tiers():
    with ServerProcess(model="small-model") as small, ServerProcess(model="main-model") as main:
        yield small, main


@pytest.fixture
def servers(tiers):
    small, main = tiers
    for srv in tiers:
        srv.set_script([])
    before = (small.stats()["requests"], main.stats()["requests"])

    def served() -> tuple[int, int]:
        """Requests each tier got since this test began: (small, main)."""
        return small.stats()["requests"] - before[0], main.stats()["requests"] - before[1]

    return small, main, served


def make_llm(small_url: str, main_url: str, *, steps=(ROUTED,), small_retries: int = 0, retries: int = 1,
             seed: int | None = 1, **kw) -> OpenAIChatLLM:
    tier = small_tier([small_url], model="small-model", steps=steps, retries=small_retries, concurrency=4,
                      timeout_s=5.0, backoff_s=0.01, cache=kw.get("cache"))
    return OpenAIChatLLM([main_url], model="main-model", retries=retries, seed=seed, timeout_s=5.0, backoff_s=0.01,
                         small=tier, **kw)


async def test_a_routed_step_is_answered_by_the_small_model(servers):
    small, main, served = servers
    llm = make_llm(small.url, main.url)
    try:
        answer = await llm.structured(MSGS, Importance, step=ROUTED, agent="Ann", fallback=FALLBACK)
    finally:
        await llm.aclose()
    assert answer == Importance(score=1)  # the schema's example answer, not the fallback
    (rec,) = llm.drain_records()
    assert (rec.model, rec.cascade, rec.attempts, rec.fallback) == ("small-model", "small", 1, False)
    assert served() == (1, 0)
    tally = llm.accounting.summary()["by_step"][ROUTED]
    assert tally["cascade_small_answers"] == 1 and tally["cascade_escalations"] == 0


async def test_a_small_answer_that_does_not_validate_escalates_to_the_main_model(servers):
    small, main, served = servers
    small.set_script(["garbage"])
    llm = make_llm(small.url, main.url)
    try:
        answer = await llm.structured(MSGS, Importance, step=ROUTED, agent="Ann", fallback=FALLBACK)
    finally:
        await llm.aclose()
    assert answer == Importance(score=1) and answer is not FALLBACK
    (rec,) = llm.drain_records()
    assert (rec.model, rec.cascade, rec.attempts, rec.fallback) == ("main-model", "escalated", 2, False)
    assert rec.prompt_tokens > 0 and rec.error is None
    assert served() == (1, 1)
    summary = llm.accounting.summary()
    assert summary["by_step"][ROUTED]["cascade_escalations"] == 1 and summary["total"]["cascade_escalations"] == 1
    assert summary["total"]["cascade_small_answers"] == 0 and summary["total"]["fallbacks"] == 0


async def test_small_retries_re_ask_the_small_model_before_escalating(servers):
    small, main, served = servers
    small.set_script(["garbage"])
    llm = make_llm(small.url, main.url, small_retries=1)
    try:
        await llm.structured(MSGS, Importance, step=ROUTED, fallback=FALLBACK)
    finally:
        await llm.aclose()
    (rec,) = llm.drain_records()
    assert (rec.model, rec.cascade, rec.attempts) == ("small-model", "small", 2)
    assert served() == (2, 0)


async def test_when_both_tiers_fail_the_main_fallback_is_used_once_and_counted(servers):
    small, main, served = servers
    small.set_script(["garbage"])
    main.set_script(["garbage", "garbage"])
    llm = make_llm(small.url, main.url, retries=1)
    try:
        answer = await llm.structured(MSGS, Importance, step=ROUTED, fallback=FALLBACK)
    finally:
        await llm.aclose()
    assert answer is FALLBACK
    (rec,) = llm.drain_records()
    assert (rec.cascade, rec.attempts, rec.fallback) == ("escalated", 3, True) and "JSON" in (rec.error or "")
    assert served() == (1, 2)
    assert llm.accounting.total.fallbacks == 1 and llm.accounting.total.cascade_escalations == 1


async def test_a_step_not_routed_goes_to_the_main_model(servers):
    small, main, served = servers
    llm = make_llm(small.url, main.url)
    try:
        await llm.structured(MSGS, Importance, step=OTHER, fallback=FALLBACK)
        await llm.text(MSGS, step=OTHER)
    finally:
        await llm.aclose()
    recs = llm.drain_records()
    assert [(r.model, r.cascade) for r in recs] == [("main-model", None)] * 2
    assert served() == (0, 2)
    assert llm.accounting.total.cascade_small_answers == 0 and llm.accounting.total.cascade_escalations == 0


async def test_share_keeps_the_routing_with_its_own_seed_and_accounting(servers):
    small, main, served = servers
    llm = make_llm(small.url, main.url)
    face = llm.share(seed=42)
    try:
        await face.structured(MSGS, Importance, step=ROUTED, fallback=FALLBACK)
        small.set_script(["garbage"])
        await face.structured(MSGS, Importance, step=ROUTED, fallback=FALLBACK)
        await face.structured(MSGS, Importance, step=OTHER, fallback=FALLBACK)
    finally:
        await face.aclose()
        await llm.aclose()
    assert [(r.model, r.cascade) for r in face.drain_records()] == [
        ("small-model", "small"), ("main-model", "escalated"), ("main-model", None)]
    assert served() == (2, 2)
    assert face.seed == 42 and face.gateway.inner.small.seed == 42  # the small tier asks with the face's seed
    assert llm.accounting.total.calls == 0  # the face counts its own calls


async def test_same_seed_and_cache_replay_both_tiers_and_keys_by_model(servers, tmp_path: Path):
    small, main, served = servers
    answers = []
    for _ in range(2):
        small.set_script(["garbage"])  # the first routed call escalates; a replay must not ask anyone
        cache = ResponseCache(tmp_path / "cache.sqlite")
        llm = make_llm(small.url, main.url, cache=cache, seed=7)
        try:
            answers.append([await llm.structured(MSGS, Importance, step=ROUTED, fallback=FALLBACK),
                            await llm.structured(MSGS[:1], Importance, step=ROUTED, fallback=FALLBACK)])
        finally:
            await llm.aclose()
        recs = llm.drain_records()
    assert answers[0] == answers[1]
    assert served() == (2, 1)  # the second run was answered from the cache alone
    assert [(r.model, r.cascade, r.cached) for r in recs] == [("main-model", "escalated", True),
                                                             ("small-model", "small", True)]
    # the small model's bad answer and the main one's good answer to the same seeded request are two entries
    assert len(ResponseCache(tmp_path / "cache.sqlite")) == 3


async def test_open_llm_builds_the_cascade_from_settings(servers, monkeypatch, tmp_path: Path):
    small, main, served = servers
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOWN_BASE_URLS", main.url)
    monkeypatch.setenv("TOWN_SMALL_BASE_URLS", small.url)
    monkeypatch.setenv("TOWN_SMALL_STEPS", f"{ROUTED}, react_decide")
    llm = await open_llm(seed=3)
    try:
        await llm.structured(MSGS, Importance, step=ROUTED, fallback=FALLBACK)
        await llm.structured(MSGS, Importance, step=OTHER, fallback=FALLBACK)
        stats = llm.stats()
    finally:
        await llm.aclose()
    assert [(r.model, r.cascade) for r in llm.drain_records()] == [("small-model", "small"), ("main-model", None)]
    assert stats["small"]["model"] == "small-model" and stats["small"]["endpoints"][0]["url"] == small.url
    assert served() == (1, 1)


def test_no_small_steps_means_no_cascade(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    s = agent_settings(base_urls=["http://a:1/v1"], small_base_urls=["http://b:2/v1"])
    assert s.small_steps == [] and not s.small_embedded
    llm = OpenAIChatLLM(s.base_urls, model="m")
    assert llm.small is None and type(llm.gateway.inner).__name__ == "RetryLayer"


def test_an_unknown_step_in_the_settings_is_one_line_naming_it(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as err:
        agent_settings(small_steps=[ROUTED, "perceive_importanse"])
    assert "\n" not in str(err.value) and "'perceive_importanse'" in str(err.value)
    assert "argument small_steps" in str(err.value) and ROUTED in str(err.value)  # the known steps are listed
    (tmp_path / "town.toml").write_text('[llm]\nsmall_steps = ["react_decid"]\n')
    with pytest.raises(SettingsError, match=r"town.toml \[llm\]: small_steps: .*'react_decid'"):
        agent_settings()
    monkeypatch.setenv("TOWN_SMALL_STEPS", "react_decide,nope")
    with pytest.raises(SettingsError, match="environment variable TOWN_SMALL_STEPS: small_steps: .*'nope'"):
        agent_settings()
    monkeypatch.setenv("TOWN_SMALL_STEPS", "react_decide, perceive_importance,react_decide")
    assert agent_settings().small_steps == ["react_decide", ROUTED]


def test_town_run_with_an_unknown_small_step_is_one_line_exit_2_and_writes_nothing(tmp_path: Path):
    env = {**os.environ, "COLUMNS": "60", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "TOWN_SMALL_STEPS": "plann"}
    res = subprocess.run([sys.executable, "-m", "town", "run", "--hours", "0.1", "--out", "r"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stdout + res.stderr
    assert "TOWN_SMALL_STEPS" in lines[0] and "'plann'" in lines[0]
    assert list(tmp_path.iterdir()) == []


class _StandIn:
    """Stands in for an embedded llama.cpp server (never started in tests): serves at a test server's URL."""

    def __init__(self, url: str, name: str, stopped: list[str], **config: int) -> None:
        self.base_url, self.model_name, self.model_path, self.config = url, name, Path(name), config
        self._stopped = stopped

    def stop(self) -> None:
        self._stopped.append(self.model_name)


async def test_embedded_tiers_start_two_servers_limit_the_small_one_and_stop_both(servers, monkeypatch,
                                                                                  tmp_path: Path):
    _, main, served = servers
    monkeypatch.chdir(tmp_path)
    started: list[_StandIn] = []
    stopped: list[str] = []
    with ServerProcess(model="small-model", delay_s=0.3) as slow_small:  # slow: the calls overlap at the server

        async def start(size: str, file: Path | None, **config: int) -> _StandIn:
            url = slow_small.url if size == "0.5b" else main.url
            started.append(_StandIn(url, f"{size}.gguf", stopped, **config))
            return started[-1]

        monkeypatch.setattr(llm_module, "_start_server", start)
        settings = AgentSettings(embedded_model="1.5b", embedded_threads=2, small_steps=[ROUTED], concurrency=8)
        llm = await open_llm(settings, seed=1)
        try:
            assert [s.model_name for s in started] == ["0.5b.gguf", "1.5b.gguf"]
            per_slot = settings.embedded_ctx // settings.embedded_parallel
            assert started[0].config == {"ctx": per_slot * SMALL_EMBEDDED_SLOTS, "parallel": SMALL_EMBEDDED_SLOTS,
                                         "threads": 2}
            await asyncio.gather(*(llm.structured([*MSGS, {"role": "user", "content": str(i)}], Importance,
                                                  step=ROUTED, fallback=FALLBACK) for i in range(6)))
            assert stopped == []
        finally:
            await llm.aclose()
        stats = slow_small.stats()
    assert sorted(stopped) == ["0.5b.gguf", "1.5b.gguf"]
    assert [(r.model, r.cascade) for r in llm.drain_records()] == [("0.5b.gguf", "small")] * 6
    assert stats["requests"] == 6 and stats["max_in_flight"] <= SMALL_EMBEDDED_SLOTS and served() == (0, 0)


async def test_a_failing_start_stops_the_server_already_started(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    stopped: list[str] = []

    async def start(size: str, file: Path | None, **config: int) -> _StandIn:
        if size == "1.5b":
            raise RuntimeError("embedded llama.cpp server failed to start")
        return _StandIn("http://127.0.0.1:9/v1", f"{size}.gguf", stopped, **config)

    monkeypatch.setattr(llm_module, "_start_server", start)
    with pytest.raises(RuntimeError, match="failed to start"):
        await open_llm(AgentSettings(embedded_model="1.5b", small_steps=[ROUTED]))
    assert stopped == ["0.5b.gguf"]


def test_the_readme_cascade_examples_load_as_is(monkeypatch, tmp_path: Path):
    import re

    monkeypatch.chdir(tmp_path)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### Small model first (cascade)"):]
    servers, embedded = re.findall(r"```toml\n(.*?)```", section, re.S)[:2]
    (tmp_path / "town.toml").write_text(servers, encoding="utf-8")
    s = agent_settings()
    assert s.small_steps == [ROUTED, "react_decide"] and s.small_base_urls and not s.small_embedded
    (tmp_path / "town.toml").write_text(embedded, encoding="utf-8")
    s = agent_settings()
    assert s.embedded and s.small_embedded and s.small_embedded_model == "0.5b" and s.small_steps
