"""Planning: daily plan + schedule, decomposition at real places, plan cache, fallbacks, re-planning."""

from __future__ import annotations

import re
from datetime import timedelta

from agents.context import CognitionSettings
from agents.testing import ScriptedLLM
from agents.steps.plan import PlanState, build_blocks, decompose, fit_durations, next_task, plan_day, replan
from agents.steps.plan import named_place, only_sleep_or_wake
from agents.schemas import HourlySchedule, PlannedTask, ScheduleBlock
from tests._cognition_fixtures import CAFE, HOME, LIBRARY, T0, FakeMemory, make_ctx, town_script, user_text


async def test_plan_day_builds_blocks_and_stores_plan_memories() -> None:
    llm = ScriptedLLM(town_script)
    mem = FakeMemory()
    ctx = make_ctx(llm, memory=mem)
    st = PlanState()
    await plan_day(ctx, st, T0)
    assert st.day == T0.date() and (st.wake_hour, st.bed_hour) == (7, 22)
    assert [(b.start.hour, b.end.hour, b.activity) for b in st.blocks] == [
        (7, 11, "studying at the library"), (11, 13, "lunch and coffee at the cafe"), (13, 22, "writing the paper at home")]
    assert [r.kind for r in mem.records.values()] == ["plan", "plan"]
    assert "study at the library" in list(mem.records.values())[0].text
    kinds = [n.kind for n in ctx.take_notes()]
    assert kinds == ["plan", "schedule"]
    assert [r["step"] for r in llm.requests] == ["plan_daily", "plan_schedule"]
    # the schedule request carries the plan items and the wake/bed hours the model chose
    assert "study at the library" in user_text(llm.requests[1]["messages"])
    schema = llm.requests[1]["response_format"]["json_schema"]["schema"]
    block_def = next(iter(schema["$defs"].values()))
    assert block_def["properties"]["start_hour"]["minimum"] == 7
    assert block_def["properties"]["start_hour"]["maximum"] == 21


async def test_plan_day_fallbacks_are_counted() -> None:
    llm = ScriptedLLM({"plan_daily": ["x"] * 3, "plan_schedule": ["y"] * 3}, retries=2)
    ctx = make_ctx(llm, settings=CognitionSettings(wake_hour_default=8))
    st = PlanState()
    await plan_day(ctx, st, T0)
    assert ctx.counters["plan_fallback"] == 1 and ctx.counters["schedule_fallback"] == 1
    assert st.wake_hour == 8 and st.blocks[0].start.hour == 8 and st.blocks[-1].end.hour == st.bed_hour
    assert llm.accounting.total.fallbacks == 2


def test_build_blocks_rules() -> None:
    sched = HourlySchedule(reasoning="", blocks=[
        ScheduleBlock(start_hour=12, minutes=60, activity="lunch"),
        ScheduleBlock(start_hour=8, minutes=60, activity="work"),
        ScheduleBlock(start_hour=12, minutes=60, activity="duplicate lunch"),
    ])
    blocks = build_blocks(T0.date(), sched, wake_hour=7, bed_hour=21)
    assert [(b.start.hour, b.end.hour, b.activity) for b in blocks] == [(7, 12, "work"), (12, 21, "lunch")]


async def test_decompose_uses_world_places_and_cache_saves_calls() -> None:
    llm = ScriptedLLM(town_script)
    cache: dict = {}
    ctx = make_ctx(llm, plan_cache=cache)
    tasks = await decompose(ctx, "Studying at the library!", 60)
    assert [t.address for t in tasks] == [LIBRARY, LIBRARY] and sum(t.duration_min for t in tasks) == 60
    prompt = user_text(llm.requests[0]["messages"])
    assert CAFE in prompt and LIBRARY in prompt and HOME in prompt
    again = await decompose(ctx, "studying at the  library", 60)  # same task, normalised
    assert again == tasks and len(llm.requests) == 1
    assert ctx.counters["plan_cache_saved_calls"] == 1
    assert any(n.kind == "plan_cache_hit" for n in ctx.take_notes())
    await decompose(ctx, "studying at the library", 30)  # other duration: a new call
    assert len(llm.requests) == 2
    # the cache is shared: another context with the same persona reuses it
    other = make_ctx(llm, plan_cache=cache)
    await decompose(other, "studying at the library", 60)
    assert len(llm.requests) == 2 and other.counters["plan_cache_saved_calls"] == 1


async def test_decompose_unknown_address_retries_then_falls_back_home() -> None:
    bad = {"reasoning": "", "tasks": [{"description": "fly", "duration_min": 10, "address": "Mars:crater"}]}
    llm = ScriptedLLM({"plan_decompose": [bad, bad, bad]}, retries=2)
    ctx = make_ctx(llm)
    tasks = await decompose(ctx, "exploring", 45)
    assert len(llm.requests) == 3
    assert [(t.address, t.duration_min) for t in tasks] == [(HOME, 45)]
    assert ctx.counters["decompose_fallback"] == 1
    assert not ctx.plan_cache  # a fallback is not cached
    assert llm.drain_records(ctx.name)[0].fallback


async def test_next_task_walks_tasks_and_blocks() -> None:
    llm = ScriptedLLM(town_script)
    ctx = make_ctx(llm)
    st = PlanState()
    await plan_day(ctx, st, T0)
    t = await next_task(ctx, st, T0)
    assert t is not None and t.description == "get settled" and t.address == LIBRARY
    assert st.task_end == T0 + timedelta(minutes=30)
    assert await next_task(ctx, st, T0 + timedelta(minutes=10)) is None  # still on it
    t2 = await next_task(ctx, st, T0 + timedelta(minutes=30))
    assert t2 is not None and t2.description == "focus on the work"
    # the next hour of the same block comes from the plan cache: no new call
    n_calls = len(llm.requests)
    t3 = await next_task(ctx, st, T0 + timedelta(minutes=60))
    assert t3 is not None and len(llm.requests) == n_calls and ctx.counters["plan_cache_saved_calls"] == 1
    # a new block: tasks at the cafe
    t4 = await next_task(ctx, st, T0.replace(hour=11))
    assert t4 is not None and t4.address == CAFE and st.block_index == 1


async def test_replan_replaces_the_rest_of_the_block() -> None:
    llm = ScriptedLLM(town_script)
    ctx = make_ctx(llm)
    st = PlanState()
    await plan_day(ctx, st, T0)
    await next_task(ctx, st, T0)
    now = T0 + timedelta(minutes=5)
    await replan(ctx, st, now, event="Isabella invites me for coffee", new_activity="coffee with Isabella at the cafe")
    assert st.task is None and st.tasks and all(t.address == CAFE for t in st.tasks)
    req = llm.requests[-1]
    assert req["step"] == "plan_replan" and "<<<Isabella invites me for coffee>>>" in user_text(req["messages"])
    t = await next_task(ctx, st, now)
    assert t is not None and t.address == CAFE
    assert any(n.kind == "plan" and n.data.get("replan") for n in ctx.take_notes())


def test_fit_durations_fills_the_chunk_proportionally() -> None:
    tasks = [PlannedTask(description=d, duration_min=5, address=CAFE) for d in ("open", "serve", "clean")]
    fitted = fit_durations(tasks, 60)
    assert [t.duration_min for t in fitted] == [20, 20, 20]
    assert [t.description for t in fitted] == ["open", "serve", "clean"]
    uneven = fit_durations([PlannedTask(description="a", duration_min=10, address=CAFE),
                            PlannedTask(description="b", duration_min=30, address=CAFE)], 20)
    assert [t.duration_min for t in uneven] == [5, 15]
    assert fit_durations(tasks, 15) == tasks  # already adds up


def test_lifestyle_hours_are_read_from_the_persona() -> None:
    from agents.steps.plan import lifestyle_hours

    assert lifestyle_hours("Isabella goes to bed around 11pm, wakes up around 6am, opens the cafe at 8am.") == (6, 23)
    assert lifestyle_hours("Maria goes to bed around 2am, wakes up around 9am") == (9, 2)
    assert lifestyle_hours("an early bird") == (None, None)


async def test_wake_hour_outside_the_persona_rhythm_is_retried() -> None:
    day = {"reasoning": "a normal day", "bed_hour": 23, "items": ["study", "lunch", "write"]}
    llm = ScriptedLLM({"plan_daily": [{**day, "wake_hour": 11}, {**day, "wake_hour": 7}],
                       "plan_schedule": [{"reasoning": "r", "blocks": [{"start_hour": 7, "minutes": 60, "activity": "study"}]}]})
    ctx = make_ctx(llm)  # lifestyle: bed around 11pm, wakes up around 7am
    state = PlanState()
    await plan_day(ctx, state, T0)
    assert state.wake_hour == 7
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert (schema["properties"]["wake_hour"]["minimum"], schema["properties"]["wake_hour"]["maximum"]) == (6, 8)
    assert llm.accounting.total.retries == 1 and llm.accounting.total.fallbacks == 0


async def test_max_tasks_asks_for_fewer_tasks_and_the_schema_refuses_more() -> None:
    four = {"reasoning": "", "tasks": [{"description": f"step {i}", "duration_min": 10, "address": LIBRARY}
                                        for i in range(4)]}
    three = {"reasoning": "", "tasks": [{"description": "read", "duration_min": 30, "address": LIBRARY},
                                        {"description": "write", "duration_min": 30, "address": LIBRARY}]}
    llm = ScriptedLLM({"plan_decompose": [four, three], "plan_replan": [three]}, retries=2)
    ctx = make_ctx(llm, settings=CognitionSettings(max_tasks=3))
    tasks = await decompose(ctx, "studying", 60)
    assert [t.description for t in tasks] == ["read", "write"] and len(llm.requests) == 2  # 4 tasks: a retry
    assert "Split this into 2 to 3 tasks of 5 to 30 minutes" in user_text(llm.requests[0]["messages"])
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["tasks"]["maxItems"] == 3
    st = PlanState()
    await plan_day(make_ctx(ScriptedLLM(town_script)), st, T0)
    await replan(ctx, st, T0, event="rain", new_activity="read at home")
    assert "as at most 3 tasks, starting with" in user_text(llm.requests[-1]["messages"])


async def test_by_default_a_block_is_split_into_up_to_six_tasks_as_before() -> None:
    llm = ScriptedLLM(town_script)
    ctx = make_ctx(llm)
    await decompose(ctx, "studying", 60)
    assert "Split this into 2 to 6 tasks of 5 to 30 minutes" in user_text(llm.requests[0]["messages"])
    assert llm.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["tasks"]["maxItems"] == 6
    st = PlanState()
    await plan_day(ctx, st, T0)
    await replan(ctx, st, T0, event="rain", new_activity="read at home")
    assert "as tasks of 5 to 15 minutes, starting with" in user_text(llm.requests[-1]["messages"])


def _place_answer(step: str, messages: list[dict[str, str]], fmt: dict | None) -> str | dict:
    """town_script, with the hour's place picked from the activity (the cafe for coffee, else the library)."""
    if step == "plan_place":
        doing = re.search(r"you are: (.*)\.\n", user_text(messages)).group(1)
        return {"address": CAFE if "cafe" in doing.lower() or "coffee" in doing.lower() else LIBRARY}
    return town_script(step, messages, fmt)


async def test_hour_tasks_make_the_hour_one_task_at_a_picked_place_without_decomposition() -> None:
    llm = ScriptedLLM(_place_answer)
    ctx = make_ctx(llm, settings=CognitionSettings(hour_tasks=True))
    st = PlanState()
    await plan_day(ctx, st, T0)
    t = await next_task(ctx, st, T0)
    assert t is not None and (t.description, t.duration_min, t.address) == ("studying at the library", 60, LIBRARY)
    assert [r["step"] for r in llm.requests] == ["plan_daily", "plan_schedule", "plan_place"]
    schema = llm.requests[-1]["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"address"} and {CAFE, LIBRARY, HOME} <= set(schema["properties"]["address"]["enum"])
    prompt = user_text(llm.requests[-1]["messages"])
    assert "For the next 60 minutes you are: studying at the library." in prompt and "noticed" not in prompt
    assert await next_task(ctx, st, T0 + timedelta(minutes=59)) is None  # the hour is one task
    t2 = await next_task(ctx, st, T0 + timedelta(minutes=60))  # the next hour of the block: the plan cache
    assert t2 == t and len(llm.requests) == 3 and ctx.counters["plan_cache_saved_calls"] == 1
    now = T0 + timedelta(minutes=70)
    await replan(ctx, st, now, event="Isabella invites me for coffee", new_activity="coffee with Isabella")
    assert [(x.description, x.address) for x in st.tasks] == [("coffee with Isabella", CAFE)]
    assert llm.requests[-1]["step"] == "plan_place"
    assert "You noticed: <<<Isabella invites me for coffee>>>" in user_text(llm.requests[-1]["messages"])


async def test_hour_tasks_unknown_place_retries_then_falls_back_home_and_is_not_cached() -> None:
    llm = ScriptedLLM({"plan_place": [{"address": "Mars:crater"}] * 3}, retries=2)
    ctx = make_ctx(llm, settings=CognitionSettings(hour_tasks=True))
    tasks = await decompose(ctx, "exploring", 45)
    assert len(llm.requests) == 3 and [(t.description, t.address, t.duration_min) for t in tasks] == [("exploring", HOME, 45)]
    assert ctx.counters["decompose_fallback"] == 1 and not ctx.plan_cache
    assert llm.drain_records(ctx.name)[0].fallback


def test_only_sleep_or_wake_finds_blocks_that_say_nothing_else():
    for said in ("Go to bed at 11pm", "sleep", "Go to sleep at a reasonable time", "Wake up at 9am", "Sleep at home",
                 "go to bed around 11pm", "Nap", "wake up"):
        assert only_sleep_or_wake(said), said
    for said in ("Wake up early to study physics classes", "close the cafe at 11pm", "Make the bed", "take a nap",
                 "get up and have breakfast", "Get ready for bed", "Open Hobbs Cafe at 8am"):
        assert not only_sleep_or_wake(said), said


def _sleepy_script(blocks: list[tuple[int, str]]):
    def script(step, messages, fmt):
        if step == "plan_schedule":
            said = [{"start_hour": h, "minutes": 60, "activity": a} for h, a in blocks]
            return {"reasoning": "my day", "blocks": said}
        return town_script(step, messages, fmt)
    return script


async def test_without_sleep_blocks_a_midday_go_to_bed_is_dropped_and_the_block_before_lasts_through_it() -> None:
    day = [(7, "wake up at 7am"), (8, "studying at the library"), (12, "go to bed"), (13, "writing the paper")]
    spans = {}
    for keep in (True, False):
        ctx = make_ctx(ScriptedLLM(_sleepy_script(day)), settings=CognitionSettings(sleep_blocks=keep))
        st = PlanState()
        await plan_day(ctx, st, T0)
        spans[keep] = [(b.start.hour, b.end.hour, b.activity) for b in st.blocks]
        note = [n for n in ctx.take_notes() if n.kind == "schedule"][0]
        assert note.data.get("dropped") == (None if keep else ["wake up at 7am", "go to bed"])
        assert ctx.counters.get("schedule_sleep_blocks_dropped", 0) == (0 if keep else 2)
    assert spans[True] == [(7, 8, "wake up at 7am"), (8, 12, "studying at the library"), (12, 13, "go to bed"),
                           (13, 22, "writing the paper")]
    assert spans[False] == [(7, 13, "studying at the library"), (13, 22, "writing the paper")]


async def test_a_schedule_of_only_sleep_blocks_is_kept_as_the_model_wrote_it() -> None:
    ctx = make_ctx(ScriptedLLM(_sleepy_script([(7, "wake up"), (12, "sleep")])),
                   settings=CognitionSettings(sleep_blocks=False))
    st = PlanState()
    await plan_day(ctx, st, T0)
    assert [b.activity for b in st.blocks] == ["wake up", "sleep"]
    assert "schedule_sleep_blocks_dropped" not in ctx.counters


THE_VILLE = ["Hobbs Cafe:cafe", "Oak Hill College:library", "Oak Hill College:classroom", "Johnson Park:park",
             "Oak Hill College dorm:common room", "Oak Hill College dorm:Klaus Mueller's room",
             "Rodriguez apartment:bedroom", "Rodriguez apartment:kitchen", "Lin family home:kitchen"]
KLAUS_ROOM = "Oak Hill College dorm:Klaus Mueller's room"


def test_named_place_finds_the_one_arena_an_activity_names_and_leaves_the_rest_to_the_model():
    def at(activity: str, home: str = KLAUS_ROOM) -> str | None:
        return named_place(activity, THE_VILLE, home)
    assert at("go to the college library for research") == "Oak Hill College:library"  # arena name
    assert at("coffee at Hobbs Cafe") == at("open the cafe") == "Hobbs Cafe:cafe"  # sector, arena, both
    assert at("chat in the Oak Hill College dorm common room") == "Oak Hill College dorm:common room"  # longest sector
    assert at("Go to sleep around 2am") == at("Wake up") == at("work from home") == KLAUS_ROOM
    assert at("cook in the kitchen", home="Rodriguez apartment:bedroom") == "Rodriguez apartment:kitchen"
    assert at("lectures at Oak Hill College") is None  # a sector of two arenas, neither named
    assert at("cook in the kitchen") is None  # two kitchens, neither at home
    assert at("take a short walk in the community") is None and at("Wake up early to study physics") is None
    assert at("coffee at the Hobbs Cafeteria") is None  # whole words only
    assert named_place("sleep", THE_VILLE, "Lin family home:bedroom") is None  # a home it may not enter


async def test_place_rule_places_a_named_place_without_the_call_and_asks_for_the_rest() -> None:
    llm = ScriptedLLM(_place_answer)
    ctx = make_ctx(llm, settings=CognitionSettings(hour_tasks=True, place_rule=True))
    tasks = await decompose(ctx, "reading in the library", 60)
    assert [(t.description, t.address) for t in tasks] == [("reading in the library", LIBRARY)] and not llm.requests
    assert ctx.counters["place_rule_saved_calls"] == 1 and "decompose_fallback" not in ctx.counters
    notes = [n for n in ctx.take_notes() if n.kind == "place_rule"]
    assert [(n.data["activity"], n.data["address"]) for n in notes] == [("reading in the library", LIBRARY)]
    tasks = await decompose(ctx, "a coffee break", 60)  # names no place: the call, as without the rule
    assert [t.address for t in tasks] == [CAFE] and [r["step"] for r in llm.requests] == ["plan_place"]
    off = make_ctx(ScriptedLLM(_place_answer), settings=CognitionSettings(hour_tasks=True))
    await decompose(off, "reading in the library", 60)
    assert [r["step"] for r in off.llm.requests] == ["plan_place"] and "place_rule_saved_calls" not in off.counters
