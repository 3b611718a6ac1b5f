"""The benchmark code runs and measures what it says (no timing assertions: figures are printed, not tested)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from town.app import bench
from town.world.events import EventLog


def test_engine_bench_rows(tmp_path):
    rows = asyncio.run(bench.bench_engine([3], ticks=3, full_sizes=[3]))
    assert [(r["minds"], r["agents"], r["ticks"]) for r in rows] == [
        ("scripted walkers", 3, 3), ("real minds, scripted LLM", 3, 3)]
    assert rows[1]["llm_calls"] > 0  # the real minds really asked the (scripted) model
    assert all(r["ms_per_agent_tick"] > 0 for r in rows)


def test_concurrency_bench_reaches_the_limit_at_the_server():
    rows = asyncio.run(bench.bench_concurrency([6], [3, 6], delay_s=0.05, ticks=2))
    assert [r["concurrency"] for r in rows] == [1, 3, 6]
    assert rows[0]["max_in_flight"] == 1 and rows[0]["speedup"] == 1.0
    # never more in flight than the limit; with a limit above one the calls really overlapped somewhere
    assert all(1 <= r["max_in_flight"] <= r["concurrency"] for r in rows), rows
    assert max(r["max_in_flight"] for r in rows[1:]) > 1, rows


def test_calls_per_agent_hour_from_a_log(tmp_path):
    t0 = datetime(2023, 2, 13, 7, 0)
    log = EventLog(tmp_path / "events.jsonl")
    log.emit(0, t0, "run_start", seed=1, map="m.json", scenario="s", agents=["A", "B"], seconds_per_tick=60,
             start=t0.isoformat())
    for i, agent in enumerate(["A", "B", "A", "B"]):
        log.emit(i, t0 + timedelta(minutes=15 * i), "llm_call", agent=agent, step="plan", prompt_tokens=100,
                 completion_tokens=10, cached=i == 3, model="m")
    log.emit(4, t0 + timedelta(hours=2), "tick")
    log.close()
    got = bench.calls_per_agent_hour(tmp_path)
    assert got["agents"] == 2 and got["game_hours"] == 2.0 and got["model"] == "m"
    assert got["per_agent_hour"]["plan"] == {"calls": 1.0, "cached": 0.25, "prompt_tokens": 100.0, "completion_tokens": 10.0}


def test_unknown_benchmark_is_an_error():
    with pytest.raises(ValueError, match="unknown benchmark 'speed'"):
        bench.main("speed")
