"""ReAct tools: descriptions from signatures, argument validation, each tool against a fake world."""

from __future__ import annotations

import pytest

from agents.tools import TOOLS, ToolError, describe_tools, search_directory, tokenize
from tests._tools_fixtures import T0, FakeWorld, make_ctx
from town.world.protocol import Action, PerceivedEvent


def ctx_(**kw):
    return make_ctx(None, prompts="(no prompts needed)", **kw)


def test_descriptions_come_from_signature_and_docstring():
    text = describe_tools()
    assert "move_to(address: str) - Walk to a place" in text
    assert "use_object(address: str, state: str)" in text
    assert "wait(minutes: int)" in text
    assert "look_around() - See who and what is near you" in text
    assert "ctx" not in text
    assert {n for n, t in TOOLS.items() if t.terminal} == {"move_to", "use_object", "talk_to", "wait"}
    assert {n for n, t in TOOLS.items() if not t.terminal} == {"look_around", "recall", "town_directory", "check_time"}


def test_move_to_valid_and_unknown_address():
    ctx = ctx_()
    act = TOOLS["move_to"].run(ctx, {"address": "Hobbs Cafe:cafe"})
    assert act == Action(agent="Klaus Mueller", kind="move_to", target="Hobbs Cafe:cafe")
    with pytest.raises(ToolError) as err:
        TOOLS["move_to"].run(ctx, {"address": "Hobs cafe"})
    assert "Hobbs Cafe" in str(err.value)  # suggests the closest known address


@pytest.mark.parametrize("address,allowed", [
    ("Dorm:Klaus's room", True), ("Dorm:Klaus's room:bed", True), ("Dorm:common room", True), ("Dorm", True),
    ("Dorm:Maria's room", False), ("Dorm:Maria's room:bed", False),
    ("Lin home", False), ("Lin home:kitchen", False), ("Lin home:kitchen:stove", False),
    ("Hobbs Cafe:cafe", True), ("Nowhere:void", True),  # an unknown address is the caller's error to report
])
def test_may_enter_only_own_home_and_own_room(address, allowed):
    assert ctx_().may_enter(address) is allowed


def test_tools_refuse_another_persons_home_or_room():
    ctx = ctx_()
    with pytest.raises(ToolError, match="someone else's home or room"):
        TOOLS["move_to"].run(ctx, {"address": "Lin home:kitchen"})
    with pytest.raises(ToolError, match="someone else's home or room"):
        TOOLS["use_object"].run(ctx, {"address": "Dorm:Maria's room:bed", "state": "sat on"})
    assert TOOLS["use_object"].run(ctx, {"address": "Dorm:Klaus's room:bed", "state": "asleep"}).kind == "use_object"


def test_planning_offers_only_the_places_the_agent_may_go():
    from agents.steps.plan import arena_places

    places = arena_places(ctx_())
    assert {"Dorm:Klaus's room", "Dorm:common room", "Hobbs Cafe:cafe", "Oak Hill College:library"} <= set(places)
    assert not {"Dorm:Maria's room", "Lin home:kitchen"} & set(places)
    maria = ctx_()
    maria.persona = maria.persona.model_copy(update={"name": "Maria Lopez", "living_area": "Dorm:Maria's room"})
    theirs = arena_places(maria)
    assert "Dorm:Maria's room" in theirs and "Dorm:Klaus's room" not in theirs and "Dorm:common room" in theirs


@pytest.mark.parametrize(
    "args",
    [{}, {"address": ""}, {"address": "Hobbs Cafe", "speed": 3}, {"address": ["Hobbs Cafe"]}, {"address": "x" * 500}],
)
def test_bad_args_raise_tool_error(args):
    with pytest.raises(ToolError, match="bad arguments for move_to"):
        TOOLS["move_to"].run(ctx_(), args)


def test_use_object_requires_an_object():
    ctx = ctx_()
    act = TOOLS["use_object"].run(ctx, {"address": "Hobbs Cafe:cafe:coffee machine", "state": "brewing coffee"})
    assert (act.kind, act.target, act.object_state) == ("use_object", "Hobbs Cafe:cafe:coffee machine", "brewing coffee")
    with pytest.raises(ToolError, match="not an object; its objects: coffee machine, counter"):
        TOOLS["use_object"].run(ctx, {"address": "Hobbs Cafe:cafe", "state": "x"})


def test_talk_to_known_person_only():
    ctx = ctx_()
    act = TOOLS["talk_to"].run(ctx, {"name": "isabella rodriguez", "opening_line": "Hi Isabella!"})
    assert (act.kind, act.target, act.utterance) == ("talk", "Isabella Rodriguez", "Hi Isabella!")
    with pytest.raises(ToolError, match="people in town: Isabella Rodriguez, Maria Lopez"):
        TOOLS["talk_to"].run(ctx, {"name": "Bob", "opening_line": "hey"})
    with pytest.raises(ToolError, match="'Klaus Mueller' is not someone you can talk to"):
        TOOLS["talk_to"].run(ctx, {"name": "Klaus Mueller", "opening_line": "talking to myself"})


def test_wait_validates_range_and_coerces_numeric_strings():
    ctx = ctx_()
    assert TOOLS["wait"].run(ctx, {"minutes": "15"}).duration_min == 15
    with pytest.raises(ToolError, match=r"bad arguments for wait\(minutes: int\)"):
        TOOLS["wait"].run(ctx, {"minutes": 0})
    with pytest.raises(ToolError, match=r"bad arguments for wait\(minutes: int\)"):
        TOOLS["wait"].run(ctx, {"minutes": "soon"})


def test_look_around_reports_nearest_first():
    world = FakeWorld(seen=[
        PerceivedEvent(subject="Maria Lopez", predicate="is", object="reading", description="Maria Lopez is reading",
                       address="Hobbs Cafe:cafe", distance=4),
        PerceivedEvent(subject="Isabella Rodriguez", predicate="is", object="brewing", description="Isabella is brewing coffee",
                       address="Hobbs Cafe:cafe:coffee machine", distance=1),
    ])
    out = TOOLS["look_around"].run(ctx_(world=world), {})
    assert out.index("Isabella is brewing") < out.index("Maria Lopez is reading")
    assert ("look_around", "Klaus Mueller") in world.calls
    assert TOOLS["look_around"].run(ctx_(), {}) == "Nothing notable nearby."


def test_recall_returns_top_memories():
    ctx = ctx_()
    for i in range(8):
        ctx.memory.add("observation", f"coffee note {i}", created=T0, importance=3)
    ctx.memory.add("thought", "Isabella is planning a party", created=T0, importance=7)
    out = TOOLS["recall"].run(ctx, {"query": "party"})
    assert out == "Isabella is planning a party"
    assert TOOLS["recall"].run(ctx, {"query": "coffee"}).count("coffee note") == 5
    # the real stream always ranks what it holds (recency and importance count too): only an empty one is silent
    assert TOOLS["recall"].run(ctx_(), {"query": "zebra"}) == "You remember nothing about that."


def test_town_directory_finds_places_hours_and_news():
    ctx = ctx_()
    out = TOOLS["town_directory"].run(ctx, {"query": "where can I get espresso?"})
    assert out.startswith("Hobbs Cafe:cafe:coffee machine (object)")
    hours = TOOLS["town_directory"].run(ctx, {"query": "library opening hours"})
    assert "Oak Hill College" in hours and "7am-10pm" in hours
    assert "Valentine" in TOOLS["town_directory"].run(ctx, {"query": "party"})
    assert TOOLS["town_directory"].run(ctx, {"query": "zebra"}).startswith("No directory entry matches")


def test_directory_ranking_prefers_specific_match():
    hits = search_directory(ctx_(), "study desk")
    assert hits[0].address == "Oak Hill College:library:desk"
    assert all(h.address for h in search_directory(ctx_(), "cafe", include_news=False))


def test_tokenize_folds_plurals_and_stopwords():
    assert tokenize("The cafes of the Town") == ["cafe", "town"]
    assert tokenize("glass") == ["glass"]


def test_check_time():
    assert TOOLS["check_time"].run(ctx_(), {}) == "Monday February 13, 09:30"


def _seen(address: str) -> PerceivedEvent:
    return PerceivedEvent(subject=address, predicate="is", object="idle", description=f"{address} is idle",
                          address=address, distance=1.0)


def test_a_short_name_of_one_known_address_stands_for_it_only_with_the_setting():
    with pytest.raises(ToolError, match="unknown address 'coffee machine'"):
        TOOLS["use_object"].run(ctx_(), {"address": "coffee machine", "state": "brewing"})  # off by default
    ctx = ctx_(react_short_addresses=True)
    act = TOOLS["use_object"].run(ctx, {"address": " Coffee Machine", "state": "brewing"})
    assert (act.kind, act.target) == ("use_object", "Hobbs Cafe:cafe:coffee machine")
    assert TOOLS["move_to"].run(ctx, {"address": "library"}).target == "Oak Hill College:library"
    assert TOOLS["move_to"].run(ctx, {"address": "Hobbs Cafe:cafe"}).target == "Hobbs Cafe:cafe"  # full: as given
    assert ctx.counters["react_short_addresses"] == 2
    with pytest.raises(ToolError, match="someone else's home"):  # resolved, still private
        TOOLS["move_to"].run(ctx, {"address": "stove"})
    with pytest.raises(ToolError, match="unknown address 'able 1'"):  # a whole name, not a piece of one
        TOOLS["move_to"].run(ctx, {"address": "able 1"})


def test_a_short_name_of_several_addresses_is_the_one_near_the_agent_or_refused():
    ctx = ctx_(react_short_addresses=True)  # two beds: Klaus's and Maria's
    with pytest.raises(ToolError, match="unknown address 'bed'"):
        TOOLS["move_to"].run(ctx, {"address": "bed"})
    ctx.world.seen = [_seen("Dorm:Klaus's room:bed")]
    assert TOOLS["move_to"].run(ctx, {"address": "bed"}).target == "Dorm:Klaus's room:bed"
    ctx.world.seen = [_seen("Dorm:Klaus's room:bed"), _seen("Dorm:Maria's room:bed")]
    with pytest.raises(ToolError, match="unknown address 'bed'"):
        TOOLS["move_to"].run(ctx, {"address": "bed"})
