"""[llm] affinity_slack: each agent's requests stay on one endpoint of a pool, where its prompt prefix is cached,
unless that endpoint is busier than the least busy one by the slack. Two loopback servers that keep their last
prompt as a one-slot prefix cache and say in llama.cpp's ``timings`` how much of each prompt they reused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.llm.base import ChatRequest
from agents.llm.pool import EndpointPool
from agents.testing import FakeOpenAIServer
from town.app.cli import app as cli

PERSONA = {name: f"You are {name}. " + " ".join(f"{name.split()[0].lower()}-fact-{i}" for i in range(200))
           for name in ("Klaus Mueller", "Maria Lopez", "Isabella Rodriguez", "Tom Moreno")}


def request(agent: str, question: str = "What now?") -> ChatRequest:
    messages = [{"role": "system", "content": PERSONA[agent]}, {"role": "user", "content": question}]
    return ChatRequest(messages, None, 0.5, 20, None, step="act_react", agent=agent)


async def reused_share(urls: list[str], slack: int, order: list[str]) -> tuple[float, dict, EndpointPool]:
    pool = EndpointPool(urls, model="test-model", affinity_slack=slack)
    where: dict[str, set[str]] = {}
    reused = total = 0
    try:
        for i, agent in enumerate(order):  # one at a time: nothing is busy, only the routing differs
            before = {e.url: e.stats.requests for e in pool.endpoints}
            answer = await pool.complete(request(agent, f"question {i}"))
            (url,) = [e.url for e in pool.endpoints if e.stats.requests > before[e.url]]
            where.setdefault(agent, set()).add(url)
            reused += answer.server.cache_n
            total += answer.prompt_tokens
    finally:
        await pool.aclose()
    return reused / total, where, pool


async def test_agents_stay_home_and_their_prefix_is_reused():
    order = ["Klaus Mueller", "Klaus Mueller", "Maria Lopez", "Maria Lopez"] * 4
    with FakeOpenAIServer(timings=(1.0, 5.0)) as a, FakeOpenAIServer(timings=(1.0, 5.0)) as b:
        off, spread, _ = await reused_share([a.url, b.url], 0, order)
    with FakeOpenAIServer(timings=(1.0, 5.0)) as a, FakeOpenAIServer(timings=(1.0, 5.0)) as b:
        on, homes, pool = await reused_share([a.url, b.url], 2, order)
    assert all(len(urls) == 2 for urls in spread.values())  # least-busy routing sends each agent everywhere
    assert all(len(urls) == 1 for urls in homes.values())  # affinity keeps each on one endpoint
    assert on > off + 0.2, (on, off)
    assert pool.affinity == {"home": len(order), "spilled": 0} and pool.stats()["affinity"]["home"] == len(order)


async def test_a_busy_home_spills_to_the_least_busy_endpoint():
    with FakeOpenAIServer(delay_s=0.3) as a, FakeOpenAIServer(delay_s=0.3) as b:
        pool = EndpointPool([a.url, b.url], model="test-model", affinity_slack=2)
        try:
            await asyncio.gather(*(pool.complete(request("Klaus Mueller", f"q{i}")) for i in range(6)))
        finally:
            await pool.aclose()
        # home takes requests until it has 2 more in flight than the other endpoint, then they spill
        assert sorted((a.max_in_flight, b.max_in_flight)) == [2, 4]
        assert pool.affinity == {"home": 4, "spilled": 2}


async def test_homes_are_stable_when_an_endpoint_parks_and_off_means_least_busy():
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b, FakeOpenAIServer() as c:
        pool = EndpointPool([a.url, b.url, c.url], model="test-model", affinity_slack=1)
        homes = {agent: pool._pick(agent).url for agent in PERSONA}
        parked = next(e for e in pool.endpoints if e.url == homes["Klaus Mueller"])
        parked.parked_until = float("inf")
        after = {agent: pool._pick(agent).url for agent in PERSONA}
        assert after["Klaus Mueller"] != homes["Klaus Mueller"]
        assert all(after[n] == homes[n] for n in PERSONA if homes[n] != parked.url)  # the others keep theirs
        await pool.aclose()
        with pytest.raises(ValueError, match="affinity_slack"):
            EndpointPool([a.url], model="test-model", affinity_slack=-1)
        plain = EndpointPool([a.url, b.url], model="test-model")
        assert "affinity" not in plain.stats()
        await plain.aclose()


def test_a_run_over_two_servers_counts_where_affinity_sent_its_requests(tmp_path: Path, monkeypatch, root_logging):
    with FakeOpenAIServer(model="m", timings=(1.0, 5.0)) as a, FakeOpenAIServer(model="m", timings=(1.0, 5.0)) as b:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{a.url},{b.url}")
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("TOWN_MODEL", "m")
        monkeypatch.setenv("TOWN_AFFINITY_SLACK", "3")
        res = CliRunner().invoke(cli, ["run", "--headless", "--hours", "0.05", "--seed", "3", "--out", str(tmp_path / "r")])
        served = a.requests + b.requests
    assert res.exit_code == 0, res.output
    minds = json.loads((tmp_path / "r" / "summary.json").read_text())["minds"]
    affinity = minds["llm_affinity"]
    assert affinity["home"] > 0 and affinity["home"] + affinity["spilled"] == served
