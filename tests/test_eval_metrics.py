"""`town eval` metrics on hand-made event logs and probes whose answers are known."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from town.app.eval.metrics import (cost, diffusion_curve, fact_conversation_share, held, hallucination_rate,
                               metric_info, network_density, odd_sleep_minutes, on_schedule_share,
                               repeated_line_share, run_metrics, spread, trespass_minutes, unstarted_plan_share,
                               long_block_share)
from town.world.events import Event

T0 = datetime(2023, 2, 13, 7, 0)
CAFE, LIBRARY = "Hobbs Cafe:cafe", "Oak Hill College:library"
PARTY = {"id": "party", "text": "a party", "known_by": ["Isabella"], "keywords": ["valentine", "party"],
         "question": "Is there a party?"}


def ev(minute: float, type_: str, agent: str | None = None, **data) -> Event:
    return Event(tick=int(minute), time=T0 + timedelta(minutes=minute), type=type_, agent=agent, data=data)


def start() -> Event:
    return ev(0, "run_start", agents=["Isabella", "Klaus", "Maria"], seconds_per_tick=60, seed=1, map="the_ville.json", scenario="s", start=T0.isoformat())


def chat(minute: float, conv: str, speaker: str, listener: str, text: str) -> Event:
    return ev(minute, "chat", conversation=conv, speaker=speaker, listeners=[listener], text=text)


def states(minute: float, **where: str) -> Event:
    return ev(minute, "agents", states={a: {"tile": [0, 0], "address": addr, "activity": "x"} for a, addr in where.items()})


def test_diffusion_curve_counts_who_held_the_fact_by_each_point():
    first = {"Isabella": T0, "Klaus": T0 + timedelta(minutes=30), "Maria": None}
    assert diffusion_curve(first, T0, T0 + timedelta(minutes=60), points=3) == [(0.0, 1), (30.0, 2), (60.0, 2)]


def test_spread_and_held_leave_out_the_seeded_agents_and_unjudged_answers():
    answers = [{"fact": "party", "agent": "Isabella", "knows": True}, {"fact": "party", "agent": "Klaus", "knows": True},
               {"fact": "party", "agent": "Maria", "knows": None}, {"fact": "crush", "agent": "Maria", "knows": True}]
    assert spread(answers, "party", ["Isabella"]) == 1
    assert held({"Isabella": T0, "Klaus": None, "Maria": T0}, ["Isabella"]) == 1


def test_conversation_metrics_from_chat_lines():
    events = [start(),
              chat(1, "c1", "Isabella", "Klaus", "Come to my Valentine's party!"),
              chat(2, "c1", "Klaus", "Isabella", "Hello there!"),
              chat(5, "c2", "Klaus", "Maria", "hello there"),
              chat(6, "c2", "Maria", "Klaus", "How is the paper going?")]
    assert fact_conversation_share(events, [PARTY]) == 0.5
    assert repeated_line_share(events) == 0.25  # "hello there" parrots Klaus's earlier line
    m = run_metrics(events, {"facts": [PARTY], "agents": ["Isabella", "Klaus", "Maria"]})["values"]
    assert m["conversations"] == 2 and m["lines_per_conversation"] == 2
    assert fact_conversation_share([start()], [PARTY]) is None


def test_network_density_is_the_share_of_judged_pairs_who_know_each_other():
    rows = [{"agent": "a", "other": "b", "knows": True}, {"agent": "b", "other": "a", "knows": False},
            {"agent": "a", "other": "c", "knows": True}, {"agent": "c", "other": "a", "knows": None}]
    assert network_density(rows) == pytest.approx(2 / 3)
    assert network_density([]) is None


def test_on_schedule_share_follows_the_task_timeline_and_skips_sleep():
    tasks = [{"description": "coffee", "duration_min": 10, "address": CAFE},
             {"description": "read", "duration_min": 10, "address": LIBRARY}]
    events = [start(), ev(0, "decompose", "Klaus", activity="morning", minutes=20, tasks=tasks)]
    events += [states(m, Klaus=CAFE) for m in range(20)]  # in the cafe all along: half of it on plan
    assert on_schedule_share(events) == 0.5
    # a plan-cache hit replays the same decomposition; asleep ticks do not count
    later = [ev(30, "plan_cache_hit", "Klaus", activity="morning", minutes=20)]
    later += [states(m, Klaus=LIBRARY) for m in range(30, 50)]
    later += [ev(40, "action", "Klaus", kind="sleep", description="nap", duration_min=10), ev(60, "tick")]
    assert on_schedule_share(events + later) == pytest.approx((10 + 0) / (20 + 10))


def test_trespass_counts_minutes_in_other_peoples_homes_and_bedrooms():
    places = {"private_sectors": ["Rodriguez apartment"], "private_arenas": ["Dorm:Maria's room"],
              "homes": {"Isabella": "Rodriguez apartment:bedroom", "Klaus": "Dorm:Klaus's room", "Maria": "Dorm:Maria's room"}}
    events = [start()] + [states(m, Isabella="Rodriguez apartment:kitchen", Klaus="Rodriguez apartment:kitchen",
                                 Maria="Dorm:Maria's room") for m in range(3)]
    events += [states(3, Isabella=CAFE, Klaus="Dorm:Maria's room", Maria="Dorm:common room")]
    assert trespass_minutes(events, places, 1.0) == 4  # Klaus: 3 minutes in Isabella's home, 1 in Maria's room


def test_odd_sleep_counts_only_the_daytime_part_of_sleep():
    events = [start(),
              ev(60, "action", "Klaus", kind="sleep", description="sleep", duration_min=180),    # 08:00-11:00: 60 min
              ev(360, "action", "Klaus", kind="wait", description="study", duration_min=60),
              ev(900, "action", "Klaus", kind="sleep", description="sleep", duration_min=480),   # 22:00-06:00: none
              ev(1500, "tick")]
    assert odd_sleep_minutes(events) == 60


def test_unstarted_plan_items_are_ended_blocks_never_decomposed():
    blocks = [{"start": "07:00", "end": "08:00", "activity": "study"},
              {"start": "08:00", "end": "09:00", "activity": "lunch"},
              {"start": "09:00", "end": "23:00", "activity": "write"}]
    events = [start(), ev(0, "schedule", "Klaus", blocks=blocks), ev(0, "decompose", "Klaus", activity="study", minutes=60),
              ev(150, "tick")]  # 09:30: two blocks over, "lunch" never started
    assert unstarted_plan_share(events) == 0.5
    assert unstarted_plan_share([start()]) is None


def test_hallucination_rate_over_judged_answers():
    rows = [{"supported": True}, {"supported": False}, {"supported": None}, {"supported": True}]
    assert hallucination_rate(rows) == pytest.approx(1 / 3)


def test_cost_per_agent_per_game_day_with_retries_and_fallbacks_by_step():
    events = [start(),
              ev(1, "llm_call", "Klaus", step="plan_daily", prompt_tokens=100, completion_tokens=10, attempts=2),
              ev(2, "llm_call", "Maria", step="act_react", prompt_tokens=300, completion_tokens=30, attempts=1),
              ev(3, "fallback", "Maria", step="act_react", reason="loop cap")]
    c = cost(events, n_agents=2, game_days=0.5)
    assert c["calls_per_agent_day"] == 2 and c["prompt_tokens_per_agent_day"] == 400
    assert c["completion_tokens_per_agent_day"] == 40
    assert c["retries_by_step"] == {"plan_daily": 1} and c["fallbacks_by_step"] == {"act_react": 1}
    assert c["calls_by_step"] == {"act_react": {"calls": 1, "prompt_tokens": 300, "completion_tokens": 30},
                                  "plan_daily": {"calls": 1, "prompt_tokens": 100, "completion_tokens": 10}}


def test_held_sources_count_the_memories_that_name_every_keyword_by_kind(tmp_path):
    """The probe's record of where an agent got a fact, over a real memory stream: only memories holding every
    keyword count, by kind, and the first (oldest) is kept; the run's total sums the agents."""
    from types import SimpleNamespace

    from agents.memory.stream import MemoryStore
    from town.app.eval.metrics import held_by_kind
    from town.app.eval.probe import all_memories, first_held, held_sources

    stream = MemoryStore.persistent(tmp_path / "memory").stream("Klaus")
    stream.add("chat", "Isabella: come to my Valentine's party!", created=T0 + timedelta(minutes=30), importance=5)
    stream.add("thought", "Isabella told me: a Valentine party at Hobbs Cafe", created=T0 + timedelta(minutes=9),
               importance=5)
    stream.add("observation", "Isabella is planning a party", created=T0, importance=2)  # no "valentine"
    klaus = SimpleNamespace(ctx=SimpleNamespace(memory=stream))
    got = held_sources(all_memories(klaus), PARTY["keywords"])
    assert got == {"kinds": {"chat": 1, "thought": 1}, "first": "Isabella told me: a Valentine party at Hobbs Cafe"}
    assert first_held(all_memories(klaus), PARTY["keywords"], False, T0) == (T0 + timedelta(minutes=9)).isoformat()
    nobody = SimpleNamespace(ctx=SimpleNamespace(memory=MemoryStore.persistent(tmp_path / "m2").stream("Maria")))
    assert held_sources(all_memories(nobody), PARTY["keywords"]) == {"kinds": {}, "first": None}
    probe = {"held_sources": {"party": {"Klaus": got, "Maria": {"kinds": {"chat": 2}, "first": "x"}},
                              "crush": {"Klaus": {"kinds": {}, "first": None}}}}
    assert held_by_kind(probe) == {"party": {"chat": 3, "thought": 1}, "crush": {}}
    assert held_by_kind({}) == {}  # a probe made before it was recorded


def test_run_metrics_reads_the_probe_and_names_per_fact_metrics():
    probe = {"agents": ["Isabella", "Klaus", "Maria"], "facts": [PARTY],
             "answers": [{"fact": "party", "agent": "Klaus", "knows": True, "supported": False}],
             "knows": [{"agent": "Klaus", "other": "Maria", "knows": False, "supported": True}],
             "first_held": {"party": {"Isabella": T0.isoformat(), "Klaus": (T0 + timedelta(minutes=5)).isoformat(),
                                      "Maria": None}}}
    out = run_metrics([start(), ev(10, "tick")], probe)
    v = out["values"]
    assert v["spread.party"] == 1 and v["spread"] == 1 and v["held"] == 1
    assert v["network_density"] == 0 and v["hallucination_rate"] == 0.5
    assert out["curves"]["party"][0] == (0.0, 1) and out["curves"]["party"][-1] == (10.0, 2)
    assert out["held_by_kind"] == {}  # this probe has no held_sources
    assert metric_info("spread.party").label == "information spread of 'party'"


def test_long_block_share_is_the_scheduled_time_in_blocks_over_four_hours():
    klaus = [{"start": "07:00", "end": "08:00", "activity": "write a paper"},
             {"start": "08:00", "end": "23:00", "activity": "sleep"}]               # 15 h of 16 in a long block
    maria = [{"start": "09:00", "end": "13:00", "activity": "study"},                # 4 h: not over four
             {"start": "22:00", "end": "03:00", "activity": "stream games"}]        # 5 h past midnight: long
    events = [start(), ev(0, "schedule", "Klaus", blocks=klaus), ev(0, "schedule", "Maria", blocks=maria)]
    assert long_block_share(events) == pytest.approx((15 + 5) / (16 + 9))
    assert long_block_share([start()]) is None
    assert run_metrics([*events, ev(60, "tick")], {"agents": ["Klaus", "Maria"]})["values"]["long_block_share"] \
        == pytest.approx(20 / 25)
