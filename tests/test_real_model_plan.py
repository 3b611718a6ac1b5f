"""The day's plan comes from the real embedded 0.5B model, not from the fallback (the default run's short check;
the full multi-tick run is ``tests/test_integration_real.py``, marked slow).

Real templates, real model, real retry/fallback logic; only the town view and memory are the shared fakes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.llm import AgentSettings, open_llm
from agents.steps.plan import PlanState, plan_day
from tests._cognition_fixtures import T0, FakeMemory, make_ctx

pytestmark = pytest.mark.real_model


async def test_real_model_makes_the_day_plan_and_schedule(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no town.toml from the working folder
    monkeypatch.setenv("TOWN_EMBEDDED_MODEL", "0.5b")
    monkeypatch.setenv("TOWN_CACHE_PATH", str(tmp_path / "cache.sqlite"))
    llm = await open_llm(AgentSettings(), seed=11)
    memory = FakeMemory()
    try:
        ctx = make_ctx(llm, memory=memory)  # type: ignore[arg-type]
        state = PlanState()
        await plan_day(ctx, state, T0 - timedelta(hours=1))
    finally:
        await llm.aclose()
    notes = {n.kind: n.data for n in ctx.take_notes()}
    records = llm.drain_records()
    assert {r.step for r in records} == {"plan_daily", "plan_schedule"}
    assert not any(r.fallback for r in records), [(r.step, r.error) for r in records]
    retries = sum(r.attempts - 1 for r in records)
    assert llm.accounting.total.retries == retries <= 2, records  # retries are counted, and rare
    plan = notes["plan"]
    assert plan["fallback"] is False and notes["schedule"]["fallback"] is False
    assert "plan_fallback" not in ctx.counters and "schedule_fallback" not in ctx.counters
    assert state.items == plan["items"] and all(i.strip() for i in state.items)
    assert not any(i.startswith("spend the day on:") for i in state.items)  # the fallback's own wording
    # the plan stored in memory is the model's
    stored = [r.text for r in memory.records.values() if r.kind == "plan"]
    assert len(stored) == 2 and all(item in stored[0] for item in plan["items"])
    assert state.blocks and state.wake_hour == plan["wake_hour"]
