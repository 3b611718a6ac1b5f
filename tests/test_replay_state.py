"""TownState reducer and ReplayIndex seeking over a synthetic event stream (no pygame)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from town.world.events import Event, EventLog
from town.viewer.state import MAX_MEMORIES, ReplayIndex, TownState, note_lines

T0 = datetime(2023, 2, 13, 8, 0)
NAMES = ["Isabella Rodriguez", "Klaus Mueller"]


def _ev(seq: int, tick: int, type: str, agent: str | None = None, **data: object) -> Event:
    return Event(seq=seq, tick=tick, time=T0 + timedelta(seconds=10 * tick), type=type, agent=agent, data=data)


def write_run(path: Path, ticks: int = 12) -> list[Event]:
    """A small but varied run written through the real EventLog; returns the events emitted."""
    log = EventLog(path)
    out: list[Event] = []

    def emit(tick: int, type: str, agent: str | None = None, **data: object) -> None:
        out.append(log.emit(tick, T0 + timedelta(seconds=10 * tick), type, agent, **data))

    emit(0, "run_start", seed=1, map="maps/tiny.json", scenario="s", agents=NAMES, seconds_per_tick=10, start=T0.isoformat())
    for t in range(1, ticks + 1):
        emit(t, "tick")
        emit(t, "move", NAMES[0], **{"from": [t - 1, 2], "to": [t, 2], "destination": "Cafe:cafe"})
        emit(t, "action", NAMES[1], kind="wait", description=f"reading page {t}", emoji="📖",
             target=None, duration_min=5)
        if t % 3 == 0:
            emit(t, "chat", NAMES[0], conversation=f"c{t // 6}", speaker=NAMES[t % 2], listeners=[NAMES[(t + 1) % 2]],
                 text=f"line {t}")
        if t % 4 == 0:
            emit(t, "object_state", address="Cafe:cafe:stove", state=f"on {t}", by=NAMES[0])
            emit(t, "memory", NAMES[1], text=f"saw the stove at {t}")
        if t == 5:
            emit(t, "plan", NAMES[0], plan=["wake up at 6am", {"start": "08:00", "task": "open cafe"}])
            emit(t, "world_event", description="a fire alarm rings", address="Cafe")
        if t == 6:
            emit(t, "conversation_end", conversation="c1", participants=NAMES, ended_by=NAMES[0], lines=[])
        if t == 7:
            emit(t, "tool", NAMES[1], tool="look_around", args={}, observation="a stove")
            emit(t, "reflection", NAMES[1], insights=["Isabella likes parties"])
        emit(t, "agents", states={
            NAMES[0]: {"tile": [t, 2], "address": "Cafe:cafe", "activity": "walking", "emoji": "", "conversation": None},
            NAMES[1]: {"tile": [1, 1], "address": "Cafe:kitchen", "activity": f"reading page {t}", "emoji": "📖",
                       "conversation": None},
        })
        log.flush()
    log.close()
    return out


def sequential(events: list[Event], tick: int) -> TownState:
    state = TownState()
    for ev in events:
        if ev.tick <= tick:
            state.apply(ev)
    return state


def test_seek_equals_sequential_apply(tmp_path: Path) -> None:
    events = write_run(tmp_path / "events.jsonl")
    index = ReplayIndex.load(tmp_path / "events.jsonl", keyframe_every=3)
    assert index.keyframes >= 3  # keyframes are really used
    assert (index.first_tick, index.last_tick) == (0, 12)
    assert index.map_path == "maps/tiny.json"
    for t in [12, 0, 7, 3, 4, 11, 1, 9]:  # out of order: seeking back and forth
        assert index.state_at(t).snapshot() == sequential(events, t).snapshot(), t


def test_state_at_does_not_share_state_with_keyframes(tmp_path: Path) -> None:
    write_run(tmp_path / "events.jsonl")
    index = ReplayIndex.load(tmp_path / "events.jsonl", keyframe_every=2)
    before = index.state_at(4).snapshot()
    s = index.state_at(4)
    s.agents[NAMES[0]].memories.append("tampered")
    s.object_states["x"] = "y"
    assert index.state_at(4).snapshot() == before


def test_advance_continues_a_seek(tmp_path: Path) -> None:
    write_run(tmp_path / "events.jsonl")
    index = ReplayIndex.load(tmp_path / "events.jsonl", keyframe_every=5)
    s = index.state_at(3)
    index.advance(s, 8)
    assert s.snapshot() == index.state_at(8).snapshot()
    foreign = TownState()
    foreign.apply(_ev(999, 0, "tick"))
    with pytest.raises(ValueError, match="not built from this index"):
        index.advance(foreign, 5)


def test_torn_last_line_is_tolerated(tmp_path: Path) -> None:
    events = write_run(tmp_path / "events.jsonl", ticks=6)
    with open(tmp_path / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"seq": 999, "tick": 7, "time": "2023-02-13T08:01:1')  # killed mid-write
    index = ReplayIndex.load(tmp_path / "events.jsonl")
    assert index.last_tick == 6
    assert len(index.events) == len(events)
    assert index.state_at(99).snapshot() == sequential(events, 6).snapshot()


def test_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no event log"):
        ReplayIndex.load(tmp_path / "nope.jsonl")


def test_out_of_order_events_raise() -> None:
    with pytest.raises(ValueError, match="out of order"):
        ReplayIndex([_ev(1, 5, "tick"), _ev(2, 4, "tick")])
    state = TownState()
    state.apply(_ev(1, 5, "tick"))
    with pytest.raises(ValueError, match="back in time"):
        state.apply(_ev(2, 4, "tick"))


def test_reducer_builds_agents_panels_and_world(tmp_path: Path) -> None:
    events = write_run(tmp_path / "events.jsonl", ticks=8)
    s = sequential(events, 8)
    isa, klaus = s.agents[NAMES[0]], s.agents[NAMES[1]]
    assert isa.tile == (8, 2) and isa.prev_tile == (7, 2) and isa.moved_tick == 8
    assert isa.destination == "Cafe:cafe"
    assert klaus.activity == "reading page 8" and klaus.emoji == "📖"
    assert isa.plan == ["wake up at 6am", "08:00 open cafe"]
    assert list(klaus.memories) == ["saw the stove at 4", "saw the stove at 8"]
    assert list(klaus.reflections) == ["Isabella likes parties"]
    assert list(klaus.tools) == ["look_around() -> a stove"]
    assert s.object_states == {"Cafe:cafe:stove": "on 8"}
    assert [e.description for e in s.world_events] == ["a fire alarm rings"]
    assert s.time == T0 + timedelta(seconds=80) and s.tick == 8
    assert s.map_path == "maps/tiny.json"
    # chat lines: c0 has tick 3, c1 has ticks 6; recent_chat filters by age
    assert [(e.tick, e.text) for e in s.chats["c0"]] == [(3, "line 3")]
    assert s.recent_chat(2) == []  # at tick 8, line 6 is 2 ticks old
    assert [e.text for e in s.recent_chat(3)] == ["line 6"]
    s2 = sequential(events, 6)
    assert [e.text for e in s2.recent_chat(1)] == ["line 6"]


def test_prev_tile_is_where_the_tick_started() -> None:
    s = TownState()
    agents = lambda seq, tick, tile: _ev(seq, tick, "agents", states={  # noqa: E731
        "A": {"tile": list(tile), "address": "", "activity": "", "emoji": "", "conversation": None}})
    s.apply(agents(1, 1, (0, 0)))
    a = s.agents["A"]
    assert a.tile == a.prev_tile == (0, 0)
    s.apply(_ev(2, 2, "move", "A", **{"from": [0, 0], "to": [1, 0], "destination": "x"}))
    s.apply(_ev(3, 2, "move", "A", **{"from": [1, 0], "to": [2, 0], "destination": "x"}))
    s.apply(agents(4, 2, (2, 0)))
    assert (a.prev_tile, a.tile, a.moved_tick) == ((0, 0), (2, 0), 2)
    s.apply(agents(5, 3, (2, 0)))  # standing still: no new move
    assert a.moved_tick == 2


def test_memories_are_capped_and_conversations_end() -> None:
    s = TownState()
    for i in range(MAX_MEMORIES + 3):
        s.apply(_ev(i + 1, 1, "memory", "A", text=f"m{i}"))
    assert list(s.agents["A"].memories) == [f"m{i}" for i in range(3, MAX_MEMORIES + 3)]
    s.apply(_ev(50, 2, "chat", conversation="c", speaker="A", listeners=["B"], text="hi"))
    assert s.agents["A"].conversation == s.agents["B"].conversation == "c"
    s.apply(_ev(51, 3, "conversation_end", conversation="c", participants=["A", "B"], ended_by="B", lines=[]))
    assert s.agents["A"].conversation is None and s.agents["B"].conversation is None


def test_bad_input_raises_clearly() -> None:
    s = TownState()
    with pytest.raises(TypeError, match="expects an Event"):
        s.apply({"tick": 1})  # type: ignore[arg-type]
    # a bad shape is refused by the event's model before the state sees it
    with pytest.raises(ValidationError, match="tile"):
        _ev(1, 1, "agents", states={"A": {"tile": "3,4"}})
    with pytest.raises(ValidationError, match="conversation"):
        _ev(3, 1, "chat", text="hi")
    with pytest.raises(ValidationError, match="unknown event type 'brand_new_kind'"):
        _ev(5, 1, "brand_new_kind", "A", x=1)
    with pytest.raises(ValueError, match="names no agent"):
        s.apply(_ev(2, 1, "move", **{"from": [1, 0], "to": [1, 1]}))
    with pytest.raises(ValueError, match="keyframe_every"):
        ReplayIndex([], keyframe_every=0)


def test_free_form_notes_are_tolerated() -> None:
    s = TownState()
    s.apply(_ev(1, 1, "importance", "A", score=7))
    s.apply(_ev(2, 1, "schedule", "A", schedule=[{"time": "9:00", "activity": "work", "duration_min": 60}]))
    s.apply(_ev(3, 1, "decompose", "A", mood="odd", weird=3))
    s.apply(_ev(4, 1, "llm_call", "A", step="plan", prompt_tokens=3))
    a = s.agents["A"]
    assert a.schedule == ["9:00 work (60 min)"]
    assert a.subtasks == ["mood: odd; weird: 3"]
    assert a.llm_calls == 1
    assert s.events_applied == 4 and s.tick == 1
    assert note_lines({"text": "  spaced   out  "}) == ["spaced out"]
    assert note_lines({}) == []


def test_the_notes_real_minds_write_read_as_plain_lines(tmp_path: Path) -> None:
    """Fold the events of a scripted run of the real minds: plans, schedules and tasks are lines, not dicts."""
    import asyncio

    import agents.testing
    from town.app.session import RunConfig, Session, run_session
    from town.world.events import read_events

    run_dir = tmp_path / "run"

    async def go() -> None:
        cfg = RunConfig(scenario="valentines", hours=1, seed=3, run_dir=run_dir)
        session = await Session.open(run_dir, resume=False, cfg=cfg,
                                     llm=agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=3))
        await run_session(session, 3)

    asyncio.run(go())
    events = list(read_events(run_dir / "events.jsonl"))
    kinds = {e.type for e in events}
    assert {"plan", "schedule", "decompose"} <= kinds
    s = TownState()
    for e in events:
        s.apply(e)
    schedule_events = [e for e in events if e.type == "schedule"]
    a = s.agents[schedule_events[-1].agent]
    block = schedule_events[-1].data["blocks"][0]
    assert a.schedule[0] == f"{block['start']}-{block['end']} {block['activity']}"
    assert a.plan
    decomposed = [e for e in events if e.type == "decompose"][-1]
    task = decomposed.data["tasks"][0]
    assert s.agents[decomposed.agent].subtasks[0] == f"{task['description']} ({task['duration_min']} min)"
    for view in s.agents.values():
        for line in [*view.plan, *view.schedule, *view.subtasks]:
            assert "{" not in line and "blocks:" not in line and "fallback:" not in line, line


def test_a_replan_goes_to_the_current_tasks_not_the_day_plan() -> None:
    s = TownState()
    s.apply(_ev(1, 1, "plan", "A", items=["open the cafe", "serve customers", "close up"]))
    s.apply(_ev(2, 1, "plan", "A", replan=True, event="a fire", new_activity="call for help",
                tasks=[{"description": "call for help", "duration_min": 10, "address": "Cafe:cafe"}]))
    a = s.agents["A"]
    assert a.plan == ["open the cafe", "serve customers", "close up"]
    assert a.subtasks == ["call for help (10 min)"]
