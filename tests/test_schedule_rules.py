"""The day's schedule by rule (``[mind] schedule_rule``): the plan's items spread between wake-up and bed time."""

from __future__ import annotations

from agents.context import CognitionSettings
from agents.steps.plan import PlanState, plan_day
from agents.steps.schedule_rules import GETTING_READY, spread_items, stated_start
from agents.testing import ScriptedLLM
from tests._cognition_fixtures import FakeMemory, T0, make_ctx, town_script


def _spans(items: list[str], wake: int, bed: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    blocks, dropped = spread_items(T0.date(), items, wake, bed)
    return [(f"{b.start:%H:%M}", f"{b.end:%H:%M}", b.activity) for b in blocks], dropped


def test_a_stated_start_is_at_around_or_from_an_hour_of_the_clock_or_noon():
    assert stated_start("Open the cafe at 8am") == 480 and stated_start("lunch around noon") == 720
    assert stated_start("stream games from 8:30 pm") == 20 * 60 + 30 and stated_start("close at 12am") == 0
    assert stated_start("dinner at 7 p.m. with Maria") == 19 * 60 and stated_start("meet at 12pm") == 720
    for said in ("work until 5pm", "finish the paper by 5pm", "study for 2 hours", "at 13pm", "room 8am", "at 0am"):
        assert stated_start(said) is None, said


def test_the_items_share_the_day_and_a_stated_start_splits_it():
    items = ["Prepare decorations", "Arrange seating", "Check customers", "Open the cafe at 8am", "Serve customers",
             "Invite all people", "Close the cafe and enjoy the evening"]
    spans, dropped = _spans(items, 6, 23)
    assert spans == [("06:00", "06:40", "Prepare decorations"), ("06:40", "07:20", "Arrange seating"),
                     ("07:20", "08:00", "Check customers"), ("08:00", "11:45", "Open the cafe at 8am"),
                     ("11:45", "15:30", "Serve customers"), ("15:30", "19:15", "Invite all people"),
                     ("19:15", "23:00", "Close the cafe and enjoy the evening")]
    assert dropped == []


def test_sleep_and_wake_items_are_left_to_those_hours_and_a_late_first_start_gets_the_wake_item_before_it():
    spans, dropped = _spans(["open the cafe at 8am", "go to bed around 11pm", "wake up around 6am"], 6, 23)
    assert spans == [("06:00", "08:00", "wake up around 6am"), ("08:00", "23:00", "open the cafe at 8am")]
    assert dropped == ["go to bed around 11pm", "wake up around 6am"]
    spans, _ = _spans(["Open Hobbs Cafe at 8am", "Serve customers", "Invite everyone"], 6, 22)
    assert spans == [("06:00", "08:00", GETTING_READY), ("08:00", "12:40", "Open Hobbs Cafe at 8am"),
                     ("12:40", "17:20", "Serve customers"), ("17:20", "22:00", "Invite everyone")]


def test_a_stated_start_out_of_order_or_too_tight_is_ignored():
    spans, _ = _spans(["read the news", "lunch at noon", "meet Klaus at 10am", "write"], 7, 21)
    assert spans == [("07:00", "12:00", "read the news"), ("12:00", "15:00", "lunch at noon"),
                     ("15:00", "18:00", "meet Klaus at 10am"), ("18:00", "21:00", "write")]
    # 7:10 would leave the first item 10 minutes; 8:50pm would leave the last two 10 minutes together
    spans, _ = _spans(["coffee", "read at 7:10am", "talk at 8:50pm", "walk"], 7, 21)
    assert [s for s, _, _ in spans] == ["07:00", "10:30", "14:00", "17:30"]
    spans, _ = _spans(["wake up early at 7:10am to study physics", "lunch"], 7, 21)  # 10 minutes before it: none
    assert spans == [("07:00", "14:00", "wake up early at 7:10am to study physics"), ("14:00", "21:00", "lunch")]


def test_a_plan_of_only_sleep_items_is_kept_and_too_many_items_are_cut_to_a_quarter_hour_each():
    spans, dropped = _spans(["sleep", "wake up", "go to bed"], 7, 22)
    assert [a for _, _, a in spans] == ["sleep", "wake up", "go to bed"] and dropped == []
    spans, _ = _spans([f"task {i}" for i in range(8)], 12, 13)
    assert spans == [("12:00", "12:20", "task 0"), ("12:20", "12:40", "task 1"), ("12:40", "13:00", "task 2")]


async def test_plan_day_with_the_schedule_rule_makes_no_schedule_call() -> None:
    llm = ScriptedLLM(town_script)
    mem = FakeMemory()
    ctx = make_ctx(llm, memory=mem, settings=CognitionSettings(schedule_rule=True))
    st = PlanState()
    await plan_day(ctx, st, T0)
    assert [r["step"] for r in llm.requests] == ["plan_daily"]
    assert [(f"{b.start:%H:%M}", f"{b.end:%H:%M}", b.activity) for b in st.blocks] == [
        ("07:00", "12:00", "study at the library"), ("12:00", "17:00", "lunch at the cafe"),
        ("17:00", "22:00", "write the paper at home")]
    assert ctx.counters["schedule_rule_saved_calls"] == 1 and "schedule_fallback" not in ctx.counters
    note = [n for n in ctx.take_notes() if n.kind == "schedule"][0]
    assert note.data["rule"] is True and note.data["fallback"] is False and "dropped" not in note.data
    assert "12:00-17:00 lunch at the cafe" in list(mem.records.values())[1].text
