"""The ReAct loop in agents/act.py with a scripted model: skips, cache, tool observations, errors, cap."""

from __future__ import annotations

import dataclasses

import pytest

from agents.steps.act import at_address, choose_action, normalise_task, object_by_name
from agents.testing import ScriptedLLM
from agents.schemas import PlannedTask
from agents.tools import TOOLS
from tests._tools_fixtures import T0, make_ctx
from town.world.protocol import Observation, PerceivedEvent

STEP = "act_react"


def obs_at(address: str) -> Observation:
    return Observation(agent="Klaus Mueller", tick=1, time=T0, tile=(1, 1), address=address,
                       current_action="idle", action_ends_at=None, arrived=True)


def task(description: str = "get an espresso", address: str = "Hobbs Cafe:cafe", minutes: int = 15) -> PlannedTask:
    return PlannedTask(description=description, duration_min=minutes, address=address)


def step(tool: str, args: dict | None = None, thought: str = "thinking", emoji: str = "") -> dict:
    return {"thought": thought, "tool": tool, "args": args or {}, "emoji": emoji}


def user_prompt(llm: ScriptedLLM, i: int) -> str:
    return llm.requests[i]["messages"][-1]["content"]


def test_helpers():
    assert normalise_task("  Brewing coffee. ") == normalise_task("brewing   COFFEE")
    assert at_address("Hobbs Cafe:cafe", "Hobbs Cafe:cafe:coffee machine")
    assert at_address("Hobbs Cafe:cafe", "Hobbs Cafe")
    assert not at_address("Hobbs Cafe:cafe", "Hobbs Cafe:kitchen")
    assert not at_address("", "Hobbs Cafe")


async def test_at_object_address_skips_the_model():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm)
    act = await choose_action(ctx, task("brew coffee", "Hobbs Cafe:cafe:coffee machine", 10), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target, act.object_state) == ("use_object", "Hobbs Cafe:cafe:coffee machine", "brew coffee")
    assert (act.description, act.duration_min) == ("brew coffee", 10)
    assert llm.requests == [] and ctx.counters["react_skipped"] == 1


async def test_not_there_yet_walks_without_the_model():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm)
    act = await choose_action(ctx, task("get a coffee", "Hobbs Cafe:cafe", 20), obs_at("Oak Hill College:library"))
    assert (act.kind, act.target, act.description, act.duration_min) == ("move_to", "Hobbs Cafe:cafe", "get a coffee", 20)
    assert llm.requests == [] and ctx.counters["react_skipped_move"] == 1


async def test_at_arena_without_objects_stays_without_model():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm)
    ctx.world.places_ = [p.model_copy(update={"objects": []}) if p.address == "Hobbs Cafe:cafe" else p
                         for p in ctx.world.places_]
    act = await choose_action(ctx, task("read a book", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.description, act.duration_min) == ("wait", "read a book", 15)
    assert llm.requests == []


async def test_in_an_arena_with_objects_the_model_chooses_one():
    llm = ScriptedLLM({STEP: [step("use_object", {"address": "Hobbs Cafe:cafe:coffee machine", "state": "brewing"})]})
    ctx = make_ctx(llm)
    act = await choose_action(ctx, task("start the morning shift", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target, act.object_state) == ("use_object", "Hobbs Cafe:cafe:coffee machine", "brewing")
    prompt = user_prompt(llm, 0)
    assert "Objects here" in prompt and "- Hobbs Cafe:cafe:coffee machine" in prompt and "- Hobbs Cafe:cafe:counter" in prompt


async def test_a_task_naming_one_object_uses_it_without_the_model():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm, object_rules=True)
    act = await choose_action(ctx, task("make a coffee with the machine", "Hobbs Cafe:cafe", 12), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target, act.object_state) == ("use_object", "Hobbs Cafe:cafe:coffee machine",
                                                        "make a coffee with the machine")
    assert act.duration_min == 12 and llm.requests == [] and ctx.counters["react_skipped_object"] == 1


async def test_object_rules_off_or_a_tie_leaves_the_choice_to_the_model():
    answer = step("use_object", {"address": "Hobbs Cafe:cafe:counter", "state": "serving"})
    off = make_ctx(ScriptedLLM({STEP: [answer]}))  # object_rules is off by default
    act = await choose_action(off, task("make a coffee", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert act.target == "Hobbs Cafe:cafe:counter" and len(off.llm.requests) == 1
    assert object_by_name(task("tidy the cafe"), ["X:cafe:table", "X:cafe:chair"]) is None  # no word shared
    assert object_by_name(task("sit at a table by the window"), ["X:y:window table", "X:y:table"]) == "X:y:window table"
    assert object_by_name(task("read books"), ["X:y:book shelf", "X:y:books pile"]) is None  # a tie: the model picks


async def test_task_naming_someone_uses_the_model_even_in_place():
    llm = ScriptedLLM({STEP: [step("talk_to", {"name": "Isabella Rodriguez", "opening_line": "Hi Isabella!"}, emoji="☕")]})
    ctx = make_ctx(llm)
    act = await choose_action(ctx, task("chat with Isabella about the party"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target, act.utterance, act.emoji) == ("talk", "Isabella Rodriguez", "Hi Isabella!", "☕")
    assert len(llm.requests) == 1 and "react_skipped" not in ctx.counters
    assert "talk_to(name: str, opening_line: str)" in llm.requests[0]["messages"][0]["content"]


async def test_observation_is_fed_back_then_terminal_action_is_returned_and_cached():
    llm = ScriptedLLM({STEP: [step("town_directory", {"query": "espresso"}, "where is coffee?"),
                              step("use_object", {"address": "Hobbs Cafe:cafe:coffee machine", "state": "brewing"},
                                   "use it", "☕")]})
    ctx = make_ctx(llm)
    act = await choose_action(ctx, task("get an espresso", minutes=20), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target, act.description, act.duration_min, act.emoji) == (
        "use_object", "Hobbs Cafe:cafe:coffee machine", "get an espresso", 20, "☕")
    second = user_prompt(llm, 1)
    assert "<<<Hobbs Cafe:cafe:coffee machine (object): makes espresso" in second
    assert "called town_directory" in second
    assert "town_directory" not in user_prompt(llm, 0)
    tools = [n.data for n in ctx.notes if n.kind == "tool"]
    assert [t["tool"] for t in tools] == ["town_directory", "use_object"]
    assert tools[0]["thought"] == "where is coffee?" and "coffee machine" in tools[0]["observation"]

    again = await choose_action(ctx, task("Get an espresso!", minutes=5), obs_at("Hobbs Cafe:cafe"))
    assert (again.kind, again.target, again.duration_min) == ("use_object", "Hobbs Cafe:cafe:coffee machine", 5)
    assert len(llm.requests) == 2 and ctx.counters["react_cache_hits"] == 1


async def test_stale_cache_entry_is_dropped():
    llm = ScriptedLLM({STEP: [step("use_object", {"address": "Oak Hill College:library:desk", "state": "studying"}),
                              step("wait", {"minutes": 30})]})
    ctx = make_ctx(llm)
    here = obs_at("Oak Hill College:library")
    await choose_action(ctx, task("study", "Oak Hill College:library"), here)
    ctx.world.places_ = [p for p in ctx.world.places_ if p.address != "Oak Hill College:library:desk"]
    act = await choose_action(ctx, task("study", "Oak Hill College:library"), here)
    assert (act.kind, act.duration_min) == ("wait", 30)  # a wait keeps its own minutes
    assert "react_cache_hits" not in ctx.counters and len(llm.requests) == 2


async def test_an_unknown_tool_is_a_retry_and_bad_args_an_observation():
    llm = ScriptedLLM({STEP: [step("fly", {"to": "moon"}),
                              step("move_to", {"place": "Hobbs Cafe"}),
                              step("use_object", {"address": "Hobbs Cafe:cafe:counter", "state": "ordering"})]})
    ctx = make_ctx(llm, react_max_steps=4)
    act = await choose_action(ctx, task(), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target) == ("use_object", "Hobbs Cafe:cafe:counter")
    assert user_prompt(llm, 1) == user_prompt(llm, 0)  # "fly" does not fit the answer schema: the same step again
    assert llm.accounting.total.retries == 1
    assert "bad arguments for move_to(address: str)" in user_prompt(llm, 2)
    assert "react_fallbacks" not in ctx.counters


def test_the_answer_schema_names_the_tools_and_their_argument_shapes():
    from agents.steps.act import ActStep
    from agents.llm.base import response_format_for

    schema = response_format_for(ActStep)["json_schema"]["schema"]
    assert schema["properties"]["tool"]["enum"] == list(TOOLS)
    shapes = [(sorted(v["properties"]), sorted(v.get("required", []))) for v in schema["properties"]["args"]["anyOf"]]
    assert (["address", "state"], ["address", "state"]) in shapes  # use_object
    assert ([], []) in shapes  # look_around, check_time: no arguments
    assert (["query"], ["query"]) in shapes and shapes.count((["query"], ["query"])) == 1  # recall, town_directory
    assert all(v["additionalProperties"] is False for v in schema["properties"]["args"]["anyOf"])


def test_the_per_tool_answer_schema_pairs_each_tool_with_its_own_arguments():
    from agents.steps.act import ToolActStep
    from agents.llm.base import response_format_for

    schema = response_format_for(ToolActStep)["json_schema"]["schema"]
    shapes = {v["properties"]["tool"]["const"]: v for v in schema["anyOf"]}
    assert list(shapes) == list(TOOLS)
    args = {name: (sorted(v["properties"]["args"]["properties"]), sorted(v["properties"]["args"].get("required", [])))
            for name, v in shapes.items()}
    assert args["use_object"] == (["address", "state"], ["address", "state"])
    assert args["look_around"] == ([], []) and args["check_time"] == ([], [])  # a query here is not decodable
    assert args["recall"] == (["query"], ["query"]) == args["town_directory"]
    assert all(v["additionalProperties"] is False and v["properties"]["args"]["additionalProperties"] is False
               for v in shapes.values())
    assert all(list(v["properties"])[0] == "thought" for v in shapes.values())  # the thought still comes first
    assert schema["description"].startswith("One ReAct step")  # the prompt text of json_object mode


async def test_with_the_setting_the_loop_sends_the_per_tool_schema_and_its_last_step_only_terminal_tools():
    ask_again = step("town_directory", {"query": "customers"})
    llm = ScriptedLLM({STEP: [ask_again, ask_again, step("wait", {"minutes": 10})]})
    ctx = make_ctx(llm, react_max_steps=4, react_per_tool_schema=True)
    act = await choose_action(ctx, task("check for customers", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert act.kind == "wait" and len(llm.requests) == 3
    first, last = (llm.requests[i]["response_format"]["json_schema"]["schema"]["anyOf"] for i in (0, 2))
    assert [v["properties"]["tool"]["const"] for v in first] == list(TOOLS)
    assert [v["properties"]["tool"]["const"] for v in last] == [n for n, t in TOOLS.items() if t.terminal]
    plain = make_ctx(ScriptedLLM({STEP: [step("wait", {"minutes": 10})]}), react_max_steps=4)
    await choose_action(plain, task("check for customers", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert "anyOf" not in plain.llm.requests[0]["response_format"]["json_schema"]["schema"]  # off by default


async def test_a_repeated_information_call_makes_the_next_step_the_last_one():
    ask_again = step("town_directory", {"query": "customers"})
    llm = ScriptedLLM({STEP: [ask_again, ask_again, step("wait", {"minutes": 10})]})
    ctx = make_ctx(llm, react_max_steps=4)
    act = await choose_action(ctx, task("check for customers", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert len(llm.requests) == 3 and act.kind == "wait" and act.description == "check for customers"
    assert ctx.counters["react_repeats_forced"] == 1 and "react_fallbacks" not in ctx.counters
    assert "This is your last step" in user_prompt(llm, 2) and "This is your last step" not in user_prompt(llm, 1)
    enum = llm.requests[2]["response_format"]["json_schema"]["schema"]["properties"]["tool"]["enum"]
    assert enum == [n for n, t in TOOLS.items() if t.terminal] and "town_directory" not in enum


async def test_a_forced_last_step_that_still_does_not_act_is_a_counted_fallback():
    ask_again = step("town_directory", {"query": "customers"})
    llm = ScriptedLLM({STEP: [ask_again] * 6})  # the last step's schema refuses it: retries, then the fallback
    ctx = make_ctx(llm, react_max_steps=4)
    act = await choose_action(ctx, task("check for customers", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.description) == ("wait", "check for customers")
    assert "no valid ReAct step" in [n.data for n in ctx.notes if n.kind == "fallback"][0]["reason"]
    assert ctx.counters["react_fallbacks"] == 1


async def test_a_repeated_refused_call_ends_the_loop_early():
    bad = step("move_to", {"address": "Hobbs Cafe:bedroom"})
    llm = ScriptedLLM({STEP: [bad, bad, bad, bad]})
    ctx = make_ctx(llm, react_max_steps=4)
    act = await choose_action(ctx, task("get an espresso", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert len(llm.requests) == 2  # not 4: the second identical refusal stops it
    assert (act.kind, act.description) == ("wait", "get an espresso")
    assert "repeated a refused call" in [n.data for n in ctx.notes if n.kind == "fallback"][0]["reason"]
    assert ctx.counters["react_fallbacks"] == 1


async def test_step_cap_gives_counted_fallback():
    llm = ScriptedLLM({STEP: [step("look_around"), step("check_time"), step("check_time"), step("check_time")]})
    ctx = make_ctx(llm, react_max_steps=2)
    act = await choose_action(ctx, task("get an espresso", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.description) == ("wait", "get an espresso")  # in place: stay and do it
    assert ctx.counters["react_fallbacks"] == 1
    fb = [n.data for n in ctx.notes if n.kind == "fallback"]
    assert fb and "no valid ReAct step" in fb[0]["reason"]  # the last step's schema admits only tools that act
    assert "This is your last step" in user_prompt(llm, 1) and "This is your last step" not in user_prompt(llm, 0)
    assert "<<<Nothing notable nearby.>>>" in user_prompt(llm, 1)
    assert len(llm.requests) == 4  # the last step and its two retries


async def test_a_refused_action_on_the_last_step_gives_a_counted_fallback():
    bad = step("move_to", {"address": "Hobbs Cafe:bedroom"})
    llm = ScriptedLLM({STEP: [step("look_around"), bad]})
    ctx = make_ctx(llm, react_max_steps=2)
    act = await choose_action(ctx, task("get an espresso", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.description) == ("wait", "get an espresso") and len(llm.requests) == 2
    assert "no accepted action within 2 steps" in [n.data for n in ctx.notes if n.kind == "fallback"][0]["reason"]


async def test_fallback_without_known_address_continues():
    llm = ScriptedLLM({STEP: ["not json", "still not json", "{}"]})
    ctx = make_ctx(llm)
    act = await choose_action(ctx, task("daydream", "Nowhere:void"), obs_at("Dorm:Klaus's room"))
    assert (act.kind, act.description) == ("continue", "daydream")
    assert ctx.counters["react_fallbacks"] == 1 and llm.accounting.total.fallbacks == 1
    assert "no valid ReAct step" in [n.data for n in ctx.notes if n.kind == "fallback"][0]["reason"]


async def test_a_bug_in_a_tool_raises(monkeypatch):
    def broken(ctx):
        return len(None)

    monkeypatch.setitem(TOOLS, "check_time", dataclasses.replace(TOOLS["check_time"], fn=broken))
    ctx = make_ctx(ScriptedLLM({STEP: [step("check_time")]}))
    with pytest.raises(TypeError, match="NoneType"):
        await choose_action(ctx, task(), obs_at("Hobbs Cafe:cafe"))


async def test_look_first_puts_what_is_near_in_the_first_prompt_without_a_call():
    llm = ScriptedLLM({STEP: [step("look_around"), step("wait", {"minutes": 10})]})
    ctx = make_ctx(llm, react_look_first=True, react_max_steps=4)
    ctx.world.seen = [PerceivedEvent(subject="Hobbs Cafe:cafe:counter", predicate="is", object="busy",
                                     description="counter is busy", address="Hobbs Cafe:cafe:counter", distance=1.0)]
    act = await choose_action(ctx, task("check for customers", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    first = user_prompt(llm, 0)
    assert "called look_around {} and saw" in first and "counter is busy (at Hobbs Cafe:cafe:counter)" in first
    # the model's own look_around repeats the one already made: its next step is the last
    assert act.kind == "wait" and len(llm.requests) == 2 and "This is your last step" in user_prompt(llm, 1)
    assert ctx.counters["react_looked_first"] == 1 and ctx.counters["react_repeats_forced"] == 1
    assert [n.data["tool"] for n in ctx.notes if n.kind == "tool"] == ["look_around", "wait"]  # only the model's


async def test_without_look_first_the_first_prompt_has_no_step():
    llm = ScriptedLLM({STEP: [step("wait", {"minutes": 10})]})
    ctx = make_ctx(llm)
    await choose_action(ctx, task("check for customers", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert "Step 1" not in user_prompt(llm, 0) and "react_looked_first" not in ctx.counters


# -- [mind] object_pick: one short call instead of the loop ------------------------------------------------------
PICK = "act_pick"


async def test_object_pick_is_one_call_naming_an_object_of_the_room():
    llm = ScriptedLLM({PICK: [{"object": "counter", "emoji": "☕"}]})
    ctx = make_ctx(llm, object_pick=True)
    act = await choose_action(ctx, task("serve the morning customers", "Hobbs Cafe:cafe", 20), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.target, act.object_state) == ("use_object", "Hobbs Cafe:cafe:counter",
                                                        "serve the morning customers")
    assert (act.description, act.duration_min, act.emoji) == ("serve the morning customers", 20, "☕")
    assert [r["step"] for r in llm.requests] == [PICK] and ctx.counters["react_picked"] == 1
    prompt = user_prompt(llm, 0)
    assert "Objects here: coffee machine, counter." in prompt and "serve the morning customers (20 min)" in prompt
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["object"]["enum"] == ["coffee machine", "counter", "none"]
    assert [n.data["tool"] for n in ctx.notes if n.kind == "tool"] == ["pick_object"]


async def test_object_pick_none_does_the_task_in_the_room_and_a_second_time_comes_from_the_cache():
    llm = ScriptedLLM({PICK: [{"object": "none"}, {"object": "coffee machine"}, {"object": "coffee machine"}]})
    ctx = make_ctx(llm, object_pick=True)
    act = await choose_action(ctx, task("think about the party", "Hobbs Cafe:cafe", 10), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.duration_min, act.description) == ("wait", 10, "think about the party")
    brew = task("brew a pot", "Hobbs Cafe:cafe", 10)
    first = await choose_action(ctx, brew, obs_at("Hobbs Cafe:cafe"))
    again = await choose_action(ctx, brew, obs_at("Hobbs Cafe:cafe"))
    assert first.target == again.target == "Hobbs Cafe:cafe:coffee machine"
    assert len(llm.requests) == 2 and ctx.counters["react_cache_hits"] == 1  # a wait is not kept: nothing to reuse


async def test_an_object_pick_outside_the_room_is_a_retry_then_a_counted_fallback():
    llm = ScriptedLLM({PICK: [{"object": "piano"}, {"object": "sofa"}, "not json"]})
    ctx = make_ctx(llm, object_pick=True)
    act = await choose_action(ctx, task("play a tune", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert (act.kind, act.description) == ("wait", "play a tune") and len(llm.requests) == 3
    assert ctx.counters["react_fallbacks"] == 1 and "react_picked" not in ctx.counters
    assert "no valid object pick" in [n.data for n in ctx.notes if n.kind == "fallback"][0]["reason"]


async def test_object_pick_leaves_tasks_naming_someone_and_odd_rooms_to_the_loop():
    talk = step("talk_to", {"name": "Isabella Rodriguez", "opening_line": "Hi Isabella!"})
    llm = ScriptedLLM({STEP: [talk, step("wait", {"minutes": 5})]})
    ctx = make_ctx(llm, object_pick=True)
    act = await choose_action(ctx, task("chat with Isabella", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert act.kind == "talk"
    # a map whose room holds an object called "none" cannot be told apart from the answer "none": the loop decides
    ctx.world.places_ = [p.model_copy(update={"objects": [*p.objects, "none"]}) if p.address == "Hobbs Cafe:cafe"
                         else p for p in ctx.world.places_]
    act = await choose_action(ctx, task("tidy up", "Hobbs Cafe:cafe"), obs_at("Hobbs Cafe:cafe"))
    assert act.kind == "wait" and [r["step"] for r in llm.requests] == [STEP, STEP]


def test_a_pick_schema_needs_different_names_none_of_them_none():
    from agents.schemas import pick_schema

    for bad in ((), ("desk", "desk"), ("desk", "none")):
        with pytest.raises(ValueError):
            pick_schema(bad)
    with pytest.raises(ValueError):
        pick_schema(("desk", "bed")).model_validate({"object": "sofa"})
