"""End to end with the real embedded model (0.5B) and a real embedded chromadb.

One short run of the valentines scenario is made with the real LLM and an SQLite response cache; a second
run with the same seed and the same cache must produce the identical event stream (determinism), answering
every LLM call from the cache. A third session resumes the first run from its checkpoint. The model's answers to
the real templates must validate: each step's fallback rate stays under MAX_FALLBACK_RATE, every retry is counted,
and the day's plan is the model's own, not the fallback's.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from town.app.session import RunConfig, Session, run_session
from tests._run_helpers import comparable_events
from town.world.events import read_events

# ~21 min wall (7.6 min CPU) on a loaded 2-core machine: left out of the default run; the default run's short
# check of the same property is tests/test_real_model_plan.py. Run with `pytest -m slow tests/test_integration_real.py`.
pytestmark = [pytest.mark.real_model, pytest.mark.slow]

TICKS = int(os.environ.get("TOWN_TEST_TICKS", "12"))
# At most this share of one step's calls may end in a fallback (the 0.5B model under constrained decoding;
# measured 0 of N on the first run, see the commit message). A template or schema change that the model can no
# longer answer pushes a step far above it.
MAX_FALLBACK_RATE = 0.25


async def _run(run_dir: Path, ticks: int) -> dict:
    cfg = RunConfig(scenario="valentines", hours=1, seed=11, run_dir=run_dir)
    session = await Session.open(run_dir, resume=False, cfg=cfg)
    return await run_session(session, ticks)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("real")
    cache = base / "llm_cache.sqlite"
    with pytest.MonkeyPatch.context() as mp:  # no settings leak into other test modules
        mp.setenv("TOWN_EMBEDDED_MODEL", "0.5b")
        mp.setenv("TOWN_CACHE_PATH", str(cache))
        first = asyncio.run(_run(base / "first", TICKS))
        second = asyncio.run(_run(base / "second", TICKS))
        yield base, first, second


def test_real_model_drives_the_town(real_runs):
    base, first, _ = real_runs
    events = list(read_events(base / "first" / "events.jsonl"))
    types = {e.type for e in events}
    calls = [e for e in events if e.type == "llm_call"]
    assert calls, "the minds made no LLM call"
    assert not all(e.data.get("cached") for e in calls), "a fresh cache cannot answer everything"
    assert sum(e.data["completion_tokens"] for e in calls) > 0
    assert "plan" in types or "schedule" in types, types
    assert "action" in types
    # every agent did something in the world (woke and acted, or went to sleep)
    actors = {e.agent for e in events if e.type == "action"}
    assert actors == {"Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"}, actors
    total = first["minds"]["llm"]["total"]
    assert total["calls"] == len(calls)
    # memories were written to the real chromadb in the run folder
    assert any((base / "first" / "memory").iterdir())


def test_real_answers_validate_step_by_step(real_runs):
    """Each step's answers validate: fallbacks per step under the bound, and every retry is counted."""
    base, first, _ = real_runs
    calls = [e.data for e in read_events(base / "first" / "events.jsonl") if e.type == "llm_call"]
    by_step: dict[str, list[dict]] = {}
    for c in calls:
        by_step.setdefault(c["step"], []).append(c)
    rates = {step: sum(c["fallback"] for c in cs) / len(cs) for step, cs in by_step.items()}
    print("\nfallback rate by step:", {s: f"{r:.2f} of {len(by_step[s])}" for s, r in sorted(rates.items())})
    assert {"plan_daily", "plan_schedule"} <= set(by_step), sorted(by_step)
    assert all(r <= MAX_FALLBACK_RATE for r in rates.values()), rates
    total = first["minds"]["llm"]["total"]
    assert total["retries"] == sum(c["attempts"] - 1 for c in calls)
    assert total["fallbacks"] == sum(c["fallback"] for c in calls)
    fallback_notes = [e for e in read_events(base / "first" / "events.jsonl") if e.type == "fallback"]
    assert len(fallback_notes) >= total["fallbacks"]  # each gateway fallback is logged, not silent


def test_the_days_plan_is_the_models_own(real_runs):
    """Every agent's daily plan and schedule came from the model, not from the fallback plan."""
    base, _, _ = real_runs
    events = list(read_events(base / "first" / "events.jsonl"))
    plans = {e.agent: e.data for e in events if e.type == "plan" and not e.data.get("replan")}
    schedules = {e.agent: e.data for e in events if e.type == "schedule"}
    assert plans and set(plans) == set(schedules), (sorted(plans), sorted(schedules))
    for agent, plan in plans.items():
        assert plan["fallback"] is False, (agent, plan)
        assert "fallback" not in plan["reasoning"], (agent, plan)
        assert plan["items"] and all(item.strip() for item in plan["items"]), (agent, plan)
        assert not any(item.startswith("spend the day on:") for item in plan["items"]), (agent, plan)
        assert schedules[agent]["fallback"] is False, (agent, schedules[agent])


def test_same_seed_and_cache_gives_the_same_run(real_runs):
    base, _, second = real_runs
    assert comparable_events(base / "first") == comparable_events(base / "second")
    total = second["minds"]["llm"]["total"]
    assert total["calls"] > 0 and total["cache_hits"] == total["calls"]


def test_resume_continues_from_checkpoint(real_runs):
    base, _, _ = real_runs
    run_dir = base / "first"
    before = json.loads((run_dir / "checkpoint.json").read_text())["tick"]

    async def go():
        session = await Session.open(run_dir, resume=True)
        return await run_session(session, 2)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOWN_EMBEDDED_MODEL", "0.5b")
        summary = asyncio.run(go())
    assert summary["ticks"] == before + 2
    ticks = [e.tick for e in read_events(run_dir / "events.jsonl") if e.type == "tick"]
    assert ticks == sorted(ticks) and len(ticks) == len(set(ticks)), "ticks repeated or out of order after resume"
