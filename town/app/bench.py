"""`python -m town bench ...`: speed and cost figures, printed (targets live here, not in timed tests).

- engine:      wall time per tick and per agent-tick, at 10/100/1000 agents, with (a) scripted walking minds
               (world + perception + log only) and (b) the real minds over a scripted LLM (memory, retrieval,
               planning code paths; no model time)
- retrieval:   memory retrieval latency at 1k/10k memories per agent, embedded chromadb and a Chroma server
- calls:       LLM calls and tokens per agent per game hour by cognitive step, from a run's event log
- concurrency: speed-up of concurrent over sequential agent steps against a loopback OpenAI-compatible
               test server that answers after a fixed delay
- server:      the model server's own prompt and generation throughput (:mod:`town.app.bench_server`; not
               part of ``all``: it runs the configured model)
- frames:      viewer frame time (mean / p95 ms) with 25 people walking on the smallville map (a generated
               140x100 town while that scenario is missing), drawn off-screen under SDL's dummy video driver

Uses ``agents`` only through its public API.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from town.world.event_types import LLMCall
from town.world.events import EventLog, read_events
from town.world.maps import load_map
from town.world.protocol import Action, Observation, Persona
from town.world.scenario import load_scenario
from town.world.state import World

# piped into a file or a CI log, rich would fold the tables to 80 columns
console = Console() if sys.stdout.isatty() else Console(width=160)


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cpu = " ".join(part for part in (platform.machine(), _cpu_model()) if part)
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


# -- engine ---------------------------------------------------------------------------------------
class _Walker:
    """A mind with no LLM: walks to a random arena whenever it arrives (exercises world + perception)."""

    def __init__(self, name: str, addresses: list[str], rng: random.Random) -> None:
        self.name = name
        self._addresses = addresses
        self._rng = rng

    async def decide(self, obs: Observation) -> Action:
        if obs.arrived or obs.tick == 0:
            return Action(agent=self.name, kind="move_to", target=self._rng.choice(self._addresses), description="walking")
        return Action(agent=self.name, kind="continue")

    def checkpoint(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None

    async def answer(self, question: str) -> str:
        return ""

    def add_thought(self, text: str, importance: int = 5) -> None:
        return None


def _world(n: int, seed: int) -> tuple[World, list[Persona]]:
    """The valentines town with ``n`` agents: copies of its personas living in every arena in turn
    (spread over the map as a real town of that size would be, not piled into three homes)."""
    scenario = load_scenario("valentines")
    town_map = load_map(scenario.map_path)
    homes = sorted(town_map.arenas)
    people = []
    for i in range(n):
        src = scenario.personas[i % len(scenario.personas)]
        people.append(src.model_copy(update={"name": f"{src.name} {i:04d}", "living_area": homes[i % len(homes)], "spawn": None}))
    crowd = scenario.model_copy(update={"personas": people})
    return World.create(town_map, crowd, seed=seed), people


async def _time_ticks(sim: Any, ticks: int) -> list[float]:
    out = []
    for _ in range(ticks):
        t0 = time.perf_counter()
        await sim.step()
        out.append(time.perf_counter() - t0)
    return out


async def bench_engine(sizes: list[int], ticks: int, full_sizes: list[int]) -> list[dict[str, Any]]:
    import agents  # public API
    from agents.testing import ScriptedLLM, schema_example_script  # a bench harness, not the run path
    from town.world.engine import Simulation

    rows = []
    for n in sizes:
        world, people = _world(n, seed=1)
        addresses = sorted(world.map.arenas)
        rng = random.Random(1)
        minds = {p.name: _Walker(p.name, addresses, rng) for p in people}
        with tempfile.TemporaryDirectory() as tmp:
            sim = Simulation(world, minds, EventLog(Path(tmp) / "events.jsonl"), concurrency=64)
            times = await _time_ticks(sim, ticks)
        rows.append(_tick_row("scripted walkers", n, times))
    for n in full_sizes:
        world, people = _world(n, seed=1)
        with tempfile.TemporaryDirectory() as tmp:
            llm = ScriptedLLM(schema_example_script(world), seed=1)
            runtime = await agents.MindRuntime.open(Path(tmp), seed=1, llm=llm)
            factory = runtime.factory()
            minds = {p.name: factory(p, world) for p in people}
            sim = Simulation(world, minds, EventLog(Path(tmp) / "events.jsonl"), concurrency=64)
            times = await _time_ticks(sim, ticks)
            calls = llm.accounting.total.calls
            await runtime.aclose()
        row = _tick_row("real minds, scripted LLM", n, times)
        row["llm_calls"] = calls
        rows.append(row)
    return rows


def _tick_row(kind: str, n: int, times: list[float]) -> dict[str, Any]:
    steady = times[1:] or times  # the first tick plans the day; report it apart
    mean = statistics.fmean(steady)
    return {
        "minds": kind,
        "agents": n,
        "ticks": len(times),
        "first_tick_s": round(times[0], 4),
        "tick_ms_mean": round(mean * 1000, 2),
        "tick_ms_p95": round(sorted(steady)[int(0.95 * (len(steady) - 1))] * 1000, 2),
        "ms_per_agent_tick": round(mean * 1000 / n, 4),
    }


# -- retrieval ------------------------------------------------------------------------------------
def bench_retrieval(sizes: list[int], queries: int, server: bool) -> list[dict[str, Any]]:
    from agents import MemoryStore, bench_retrieval as run_bench, start_chroma_server

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore.persistent(Path(tmp) / "embedded")
        for n in sizes:
            rows.append(run_bench(store, n, queries))
        if server:
            with start_chroma_server(Path(tmp) / "server") as srv:
                hstore = MemoryStore.http(srv.host, srv.port, namespace="bench")
                for n in sizes:
                    rows.append(run_bench(hstore, n, queries))
    return rows


# -- calls per agent per game hour ------------------------------------------------------------------
def calls_per_agent_hour(run_dir: Path) -> dict[str, Any]:
    events = list(read_events(run_dir / "events.jsonl"))
    if not events:
        raise ValueError(f"{run_dir}/events.jsonl is empty")
    agents_ = {e.agent for e in events if e.agent} or {"-"}
    span_h = (events[-1].time - events[0].time).total_seconds() / 3600 or 1 / 60
    by_step: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    calls = [cast(LLMCall, e.data) for e in events if e.type == "llm_call"]
    for c in calls:
        s = by_step[c.step or "?"]
        s["calls"] += 1
        s["cached"] += int(c.cached)
        s["prompt_tokens"] += c.prompt_tokens
        s["completion_tokens"] += c.completion_tokens
    n = len(agents_)
    per = {
        step: {k: round(v / n / span_h, 2) for k, v in vals.items()} for step, vals in sorted(by_step.items())
    }
    model = next((c.model for c in calls), None)
    return {"run": str(run_dir), "agents": n, "game_hours": round(span_h, 2), "model": model, "per_agent_hour": per}


async def scripted_calls_run(hours: float) -> Path:
    """A fresh valentines run over the scripted LLM (counts calls per step; token counts are word counts)."""
    from agents.testing import ScriptedLLM, schema_example_script  # a bench harness, not the run path
    from town.app.session import Session, run_session, ticks_for_hours

    run_dir = Path(tempfile.mkdtemp(prefix="town-bench-calls-"))
    scenario = load_scenario("valentines")
    world_probe = World.create(load_map(scenario.map_path), scenario)
    llm = ScriptedLLM(schema_example_script(world_probe), seed=0)
    from town.app.session import RunConfig

    cfg = RunConfig(scenario="valentines", hours=hours, seed=0, run_dir=run_dir)
    session = await Session.open(run_dir, resume=False, cfg=cfg, llm=llm)
    await run_session(session, ticks_for_hours(hours, session.world.clock.seconds_per_tick))
    return run_dir


# -- concurrency ----------------------------------------------------------------------------------
class _Answer(BaseModel):
    activity: str = Field(max_length=60)


class _AskingMind(_Walker):
    """Asks the LLM once per tick (one cognitive step's worth of waiting), then continues."""

    def __init__(self, name: str, llm: Any) -> None:
        self.name = name
        self._llm = llm

    async def decide(self, obs: Observation) -> Action:
        ans = await self._llm.structured(
            [{"role": "user", "content": f"{self.name} at {obs.time:%H:%M}: what now?"}], _Answer, step="bench", agent=self.name
        )
        return Action(agent=self.name, kind="continue", description=ans.activity)


async def bench_concurrency(agent_counts: list[int], limits: list[int], delay_s: float, ticks: int) -> list[dict[str, Any]]:
    from agents import OpenAIChatLLM
    from agents.testing import FakeOpenAIServer
    from town.world.engine import Simulation

    rows = []
    with FakeOpenAIServer(delay_s=delay_s) as server:
        for n in agent_counts:
            base = None
            for limit in [1, *limits]:
                world, people = _world(n, seed=1)
                llm = OpenAIChatLLM([server.url], model=server.model, concurrency=limit, retries=0)
                minds = {p.name: _AskingMind(p.name, llm) for p in people}
                server.max_in_flight = 0
                with tempfile.TemporaryDirectory() as tmp:
                    sim = Simulation(world, minds, EventLog(Path(tmp) / "e.jsonl"), concurrency=limit)
                    t0 = time.perf_counter()
                    for _ in range(ticks):
                        await sim.step()
                    wall = time.perf_counter() - t0
                await llm.aclose()
                base = base or wall
                rows.append({
                    "agents": n, "concurrency": limit, "delay_s": delay_s, "ticks": ticks, "wall_s": round(wall, 3),
                    "speedup": round(base / wall, 2), "ideal": min(n, limit), "max_in_flight": server.max_in_flight,
                })
    return rows


def bench_frames(ticks: int, people: int = 25) -> list[dict[str, Any]]:
    """Frame time at ``people`` walkers on the smallville map, else on a generated 140x100 town."""
    from town.world.scenario import available_scenarios
    from town.viewer.framebench import frame_times, generated_town  # pygame only for this benchmark

    if "smallville" in available_scenarios():
        scenario = load_scenario("smallville")
        names = [p.name for p in scenario.personas][:people]
        return frame_times(scenario.map_path, names, ticks=ticks)
    with tempfile.TemporaryDirectory() as tmp:
        return frame_times(generated_town(Path(tmp)), [f"Person {i:02d}" for i in range(people)], ticks=ticks)


# -- printing -------------------------------------------------------------------------------------
def _table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(title=title)
    cols = list(rows[0])
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    console.print(table)


def main(which: str, *, quick: bool = False, out: Path | None = None, run: Path | None = None) -> dict[str, Any]:
    valid = {"engine", "retrieval", "calls", "concurrency", "frames", "server", "all"}
    if which not in valid:
        raise ValueError(f"unknown benchmark {which!r}; choose one of {', '.join(sorted(valid))}")
    figures: dict[str, Any] = {"machine": machine(), "when": datetime.now().isoformat(timespec="seconds"), "quick": quick}
    console.print(f"[bold]town bench[/] on {figures['machine']}")
    if which in ("engine", "all"):
        sizes = [10, 100] if quick else [10, 100, 1000]
        full = [10] if quick else [10, 100]
        figures["engine"] = asyncio.run(bench_engine(sizes, ticks=5 if quick else 20, full_sizes=full))
        _table("engine: wall time per tick", figures["engine"])
    if which in ("retrieval", "all"):
        sizes = [1000] if quick else [1000, 10000]
        figures["retrieval"] = bench_retrieval(sizes, queries=20 if quick else 100, server=True)
        _table("memory retrieval latency per agent stream", figures["retrieval"])
    if which in ("calls", "all"):
        run_dir = run or asyncio.run(scripted_calls_run(0.5 if quick else 1.0))
        figures["calls"] = calls_per_agent_hour(run_dir)
        rows = [{"step": s, **v} for s, v in figures["calls"]["per_agent_hour"].items()]
        console.print(f"calls per agent per game hour from {figures['calls']['run']} (model {figures['calls']['model']})")
        _table("LLM calls and tokens per agent per game hour", rows)
    if which in ("concurrency", "all"):
        figures["concurrency"] = asyncio.run(
            bench_concurrency([8] if quick else [8, 32], [4, 8] if quick else [4, 8, 32], delay_s=0.2, ticks=3 if quick else 5)
        )
        _table("concurrent vs sequential agent steps (test server, fixed delay)", figures["concurrency"])
    if which in ("frames", "all"):
        figures["frames"] = bench_frames(ticks=8 if quick else 30)
        _table("viewer frame time, off-screen (dummy video driver)", figures["frames"])
    if which == "server":
        from town.app.bench_server import bench_server

        figures["server"] = asyncio.run(bench_server())
        srv = figures["server"]
        kind = f"embedded, speculative decoding: {srv['speculative']}" if srv["embedded"] else "configured endpoint"
        console.print(f"model {srv['model']} ({kind}), {srv['parallel']} requests at once in the third test")
        _table("model server throughput (server's own timings; '-': the server gave none)",
               [{k: "-" if v is None else v for k, v in r.items()} for r in srv["rows"]])
    if out is not None:
        out.write_text(json.dumps(figures, indent=1, default=str))
        console.print(f"figures written to {out}")
    return figures
