"""World.apply for every action kind (and its refusals), walking, perception, conversations, state."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from town.world.clock import SimClock
from town.world.pathfinding import Pathfinder
from town.world.protocol import Action, WorldView
from town.world.state import World, WorldError
from tests._town_fixtures import START, tiny_world

A, B, C = "Ann", "Bob", "Cy"


def act(agent: str, kind: str, **kw) -> Action:
    return Action(agent=agent, kind=kind, **kw)


def types(events):
    return [e["type"] for e in events]


# -- clock ----------------------------------------------------------------------------------------
def test_clock():
    c = SimClock(START, 90)
    assert c.now == START and c.minutes_per_tick == 1.5
    assert c.advance() == START + timedelta(seconds=90) and c.tick == 1
    assert SimClock.from_state(json.loads(json.dumps(c.to_state()))) == c
    with pytest.raises(ValueError, match="seconds_per_tick"):
        SimClock(START, 0)


# -- moving ---------------------------------------------------------------------------------------
def test_move_to_walks_tiles_per_tick_and_arrives(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)}, tiles_per_tick=4)
    ev = w.apply(act(A, "move_to", target="Cafe:cafe:counter", description="going for coffee", emoji="☕"))
    assert types(ev) == ["action"] and ev[0]["data"]["target"] == "Cafe:cafe:counter"
    a = w.agents[A]
    assert a.activity == "going for coffee" and a.emoji == "☕" and not a.arrived
    total = len(a.path)
    assert total == len(w.paths.path((2, 2), (11, 1))) - 1  # the counter's own tile (objects do not block)
    tiles = []
    for _ in range(10):
        ev = w.advance_tick()
        if not ev:
            break
        assert types(ev) == ["move"]
        tiles.append(tuple(ev[0]["data"]["to"]))
    assert len(tiles) == -(-total // 4)
    assert tiles[-1] == (11, 1) == a.tile and a.arrived
    obs = w.observe(A)
    assert obs.arrived and obs.address == "Cafe:cafe" and obs.tick == len(tiles) + 1  # + the idle tick


def test_move_to_unknown_address_is_refused_and_old_action_kept(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    w.apply(act(A, "wait", description="reading a book", duration_min=30))
    ev = w.apply(act(A, "move_to", target="Atlantis"))
    assert types(ev) == ["invalid_action"]
    assert "unknown address 'Atlantis'" in ev[0]["data"]["reason"]
    assert ev[0]["data"]["action"]["target"] == "Atlantis"
    a = w.agents[A]
    assert a.activity == "reading a book" and a.kind == "wait" and a.path == []
    assert a.action_ends_at == START + timedelta(minutes=30)
    w.advance_tick()
    refused = [p for p in w.observe(A).perceived if p.predicate == "could not"]
    assert len(refused) == 1 and "Atlantis" in refused[0].description
    w.advance_tick()
    assert not [p for p in w.observe(A).perceived if p.predicate == "could not"]  # told once


def test_unreachable_is_refused(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    w.map.blocked.add((3, 5))  # lock the house door
    w.paths = Pathfinder(w.map)
    ev = w.apply(act(A, "move_to", target="Cafe:cafe"))
    assert types(ev) == ["invalid_action"] and "cannot be reached" in ev[0]["data"]["reason"]


def test_unknown_agent_action_raises(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    with pytest.raises(WorldError, match="unknown agent 'Zed'"):
        w.apply(act("Zed", "wait"))


# -- objects ----------------------------------------------------------------------------------------
def test_use_object_next_to_it_sets_state_and_releases_on_next_action(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    ev = w.apply(act(A, "use_object", target="House:room:bed", object_state="being slept in", description="napping"))
    assert types(ev) == ["action", "object_state"]
    assert ev[1]["data"] == {"address": "House:room:bed", "state": "being slept in", "by": A}
    assert w.object_states["House:room:bed"] == "being slept in"
    assert types(w.apply(act(A, "wait", description="dozing"))) == ["action"]  # staying put keeps the bed
    assert w.object_states["House:room:bed"] == "being slept in"
    ev = w.apply(act(A, "move_to", target="Cafe:cafe"))  # walking away releases it
    assert types(ev) == ["object_state", "action"] and ev[0]["data"]["state"] == "idle"
    assert w.object_states["House:room:bed"] == "idle"


def test_use_object_far_away_walks_there_first(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)}, tiles_per_tick=5)
    ev = w.apply(act(A, "use_object", target="Cafe:cafe:counter", object_state="serving coffee"))
    assert types(ev) == ["action"] and w.object_states["Cafe:cafe:counter"] == "idle"
    seen = []
    for _ in range(10):
        seen += w.advance_tick()
    states = [e for e in seen if e["type"] == "object_state"]
    assert len(states) == 1 and states[0]["data"]["state"] == "serving coffee"
    assert seen.index(states[0]) == len(seen) - 1  # on arrival, after the last move
    assert w.agents[A].tile == (11, 1) and w.agents[A].activity == "using the counter"


def test_use_unknown_object_refused(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    ev = w.apply(act(A, "use_object", target="House:room"))  # an arena, not an object
    assert types(ev) == ["invalid_action"] and "unknown object" in ev[0]["data"]["reason"]


def test_wait_stops_walking_and_sleep(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)}, tiles_per_tick=1)
    w.apply(act(A, "move_to", target="Cafe:cafe"))
    w.advance_tick()
    tile = w.agents[A].tile
    ev = w.apply(act(A, "wait", duration_min=10))
    assert ev[0]["data"]["description"] == "waiting"
    assert w.advance_tick() == [] and w.agents[A].tile == tile and not w.agents[A].arrived
    w.apply(act(A, "sleep", emoji="😴"))
    assert (w.agents[A].activity, w.agents[A].emoji, w.agents[A].kind) == ("sleeping", "😴", "sleep")


def test_continue_changes_nothing(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    w.apply(act(A, "wait", description="drinking tea"))
    before = w.to_state()
    assert w.apply(act(A, "continue", description="ignored")) == []
    assert w.to_state() == before


# -- perception -------------------------------------------------------------------------------------
def test_perception_radius_arena_and_attention(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (4, 3), C: (8, 8), "Dee": (7, 6)}, vision_radius=3, attention_limit=2)
    w.apply(act(B, "wait", description="reading"))
    w.apply(act("Dee", "wait", description="jogging"))
    obs = w.observe(A)
    assert [n.name for n in obs.nearby] == [B]  # Dee is within 5 tiles but outside the house; Cy too far
    assert obs.perceived[0].description == "Bob is reading" and obs.perceived[0].kind == "agent"
    # outdoors: Cy sees Dee (within 3 tiles) but not Ann/Bob inside the house
    assert [n.name for n in w.observe(C).nearby] == ["Dee"]
    # objects in use are seen in the same arena; attention keeps the nearest two
    w.apply(act(B, "use_object", target="House:room:lamp", object_state="on"))
    w.apply(act(A, "use_object", target="House:room:bed", object_state="unmade"))
    obs = w.observe(A)
    assert len(obs.perceived) == 2
    assert [p.distance for p in obs.perceived] == sorted(p.distance for p in obs.perceived)
    assert {p.description for p in obs.perceived} == {"bed is unmade", "Bob is using the lamp"}
    assert [p.description for p in w.look_around(B)] == ["lamp is on", "Ann is using the bed"]
    assert "lamp is on" not in {p.description for p in w.observe(C).perceived}


def test_look_around_also_lists_the_idle_objects_of_the_arena(tmp_path):
    w = tiny_world(tmp_path, {A: (12, 2), B: (13, 3), C: (2, 2)}, attention_limit=1)
    w.apply(act(B, "wait", description="reading"))
    seen = w.look_around(A)
    assert [p.description for p in seen] == ["Bob is reading", "counter is idle"]  # idle after the attended few
    assert seen[1].address == "Cafe:cafe:counter" and seen[1].kind == "object"
    assert all(p.object != "idle" for p in w.observe(A).perceived)  # perception still leaves idle objects out
    # in the house, nearest first; an object in use is reported once, as perceived
    assert [p.description for p in w.look_around(C)] == ["bed is idle", "lamp is idle"]
    w.object_states["House:room:lamp"] = "on"
    assert [p.description for p in w.look_around(C)] == ["lamp is on", "bed is idle"]
    w.agents[A].tile = (8, 8)  # outdoors: no arena, no objects
    assert all(p.kind != "object" for p in w.look_around(A))


def test_world_events_and_whispers(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (12, 2), C: (1, 8)})
    w.inject_event("the cafe's stove is on fire", "Cafe:cafe", minutes=2)
    w.inject_event("it starts to snow", "")
    w.inject_event("roses bloom", "Garden")
    w.whisper(A, "you feel like baking")
    seen = {n: {p.description for p in w.observe(n).perceived} for n in (A, B, C)}
    assert seen[A] == {"it starts to snow"}
    assert seen[B] == {"it starts to snow", "the cafe's stove is on fire"}
    assert seen[C] == {"it starts to snow", "roses bloom"}
    assert w.observe(A).injected == ["you feel like baking"] and w.observe(B).injected == []
    w.advance_tick()
    assert w.observe(A).injected == []  # delivered once
    w.advance_tick()
    assert {p.description for p in w.observe(B).perceived} == {"it starts to snow"}  # the fire expired
    with pytest.raises(WorldError, match="unknown address 'Mars'"):
        w.inject_event("x", "Mars")
    with pytest.raises(WorldError, match="no agent 'Zed'"):
        w.whisper("Zed", "hi")


# -- conversations ----------------------------------------------------------------------------------
def talk(agent, target, text, end=False):
    return act(agent, "talk", target=target, utterance=text, end_conversation=end)


def test_conversation_turn_taking_and_end_delivered_once(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w.apply(act(B, "wait", description="sweeping", emoji="🧹"))
    ev = w.apply(talk(A, B, "Hi Bob!"))
    assert types(ev) == ["action", "chat"]
    assert ev[1]["data"] == {"conversation": "c1", "speaker": A, "listeners": [B], "text": "Hi Bob!"}
    assert w.agents[B].activity == f"talking with {A}"
    ev = w.apply(talk(A, B, "Are you there?"))
    assert types(ev) == ["invalid_action"] and "Bob's turn" in ev[0]["data"]["reason"]
    w.advance_tick()
    obs = w.observe(B)
    assert obs.conversation is not None and obs.conversation.turn_of == B
    assert [(line.speaker, line.text) for line in obs.conversation.lines] == [(A, "Hi Bob!")]
    assert obs.nearby[0].in_conversation
    assert types(w.apply(talk(B, A, "Hello Ann."))) == ["chat"]
    w.advance_tick()
    ev = w.apply(talk(A, B, "Bye!", end=True))
    assert types(ev) == ["chat", "conversation_end"]
    end = ev[1]["data"]
    assert end["ended_by"] == A and end["participants"] == [A, B] and len(end["lines"]) == 3
    assert w.agents[B].activity == "sweeping" and w.agents[B].emoji == "🧹"  # back to what Bob was doing
    assert w.agents[A].conversation is None
    w.advance_tick()
    for name in (A, B):
        obs = w.observe(name)
        assert obs.conversation is None
        assert [c.id for c in obs.finished_conversations] == ["c1"] and obs.finished_conversations[0].ended
    w.advance_tick()
    assert w.observe(A).finished_conversations == [] and w.observe(B).finished_conversations == []


def test_conversation_turn_cap_and_cooldown(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)}, max_conversation_turns=3, conversation_cooldown_min=5)
    w.apply(talk(A, B, "1"))
    w.advance_tick()
    w.apply(talk(B, A, "2"))
    w.advance_tick()
    ev = w.apply(talk(A, B, "3"))
    assert types(ev) == ["chat", "conversation_end"] and ev[1]["data"]["ended_by"] is None
    assert ev[1]["data"]["reason"] == "turn cap"
    w.advance_tick()
    ev = w.apply(talk(B, A, "again?"))
    assert types(ev) == ["invalid_action"] and "recently" in ev[0]["data"]["reason"]
    for _ in range(5):
        w.advance_tick()
    assert types(w.apply(talk(B, A, "again!"))) == ["action", "chat"]


def test_talk_refusals(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3), C: (5, 4), "Dee": (12, 2)}, talk_radius=4, approach_ticks=0)
    assert "too far" in w.apply(talk(A, "Dee", "hey"))[0]["data"]["reason"]
    assert "no agent 'Eve'" in w.apply(talk(A, "Eve", "hey"))[0]["data"]["reason"]
    assert "oneself" in w.apply(talk(A, A, "hey"))[0]["data"]["reason"]
    assert "needs an utterance" in w.apply(talk(A, B, "  "))[0]["data"]["reason"]
    assert "no conversation" in w.apply(talk(A, B, "x", end=True))[0]["data"]["reason"]
    w.apply(talk(A, B, "hi"))
    assert "Bob is busy talking with Ann" in w.apply(talk(C, B, "hey"))[0]["data"]["reason"]
    assert "already talking with Bob" in w.apply(talk(A, C, "hey"))[0]["data"]["reason"]
    w.apply(act(C, "sleep"))
    w2 = tiny_world(tmp_path, {A: (2, 2), C: (3, 3)})
    w2.apply(act(C, "sleep"))
    assert "asleep" in w2.apply(talk(A, C, "wake up"))[0]["data"]["reason"]


def test_both_start_talking_same_tick_becomes_one_conversation(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w.apply(talk(A, B, "Hi Bob"))
    ev = w.apply(talk(B, A, "Hi Ann"))  # decided without knowing; applied as Bob's reply
    assert types(ev) == ["chat"] and ev[0]["data"]["conversation"] == "c1"


def test_silence_and_walking_away_end_conversations(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)}, conversation_timeout_ticks=2)
    w.apply(talk(A, B, "hello?"))  # tick 0; Bob may answer in ticks 1 and 2
    assert w.advance_tick() == [] and w.advance_tick() == []
    ev = w.advance_tick()
    assert types(ev) == ["conversation_end"] and ev[0]["data"]["reason"] == "silence"
    w2 = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w2.apply(talk(A, B, "hello"))
    w2.advance_tick()  # Bob has heard the line: a move now leaves
    ev = w2.apply(act(B, "move_to", target="Cafe:cafe"))
    assert types(ev) == ["conversation_end", "action"] and ev[0]["data"]["ended_by"] == B
    assert ev[0]["data"]["reason"] == "left"


def test_an_action_decided_before_an_opening_line_waits_for_the_conversation_whatever_the_name_order(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w.apply(talk(A, B, "wait a moment"))  # Ann's action applied first this tick; Bob decided without hearing it
    ev = w.apply(act(B, "move_to", target="Cafe:cafe", description="going for coffee"))
    assert types(ev) == ["action"] and w.agents[B].conversation == "c1"
    assert (w.agents[B].kind, w.agents[B].activity) == ("talk", f"talking with {A}")
    assert w.advance_tick() == [] and w.agents[B].tile == (3, 3)  # as when Bob's move came first in the tick
    assert w.observe(B).conversation.turn_of == B
    w.apply(talk(B, A, "Sure.", end=True))
    assert w.agents[B].activity == "going for coffee"
    assert "move" in types(w.advance_tick()) and w.agents[B].tile != (3, 3)  # the walk goes on after it


def test_an_object_use_or_wait_decided_before_an_opening_line_waits_too_but_sleep_still_leaves(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3), C: (4, 2)})
    w.apply(talk(A, B, "hi Bob"))
    w.apply(talk(C, A, "hi Ann"))  # refused: Ann is busy
    assert types(w.apply(act(B, "use_object", target="House:room:bed", description="making the bed"))) == ["action"]
    assert w.agents[B].conversation == "c1" and w.agents[B].kind == "talk"
    assert w.agents[B].before_talk[1] == "making the bed"
    w2 = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w2.apply(talk(A, B, "hi Bob"))
    w2.apply(act(B, "wait", description="reading"))
    assert (w2.agents[B].kind, w2.agents[B].before_talk[1]) == ("talk", "reading")
    w3 = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w3.apply(talk(A, B, "hi Bob"))
    ev = w3.apply(act(B, "sleep"))
    assert types(ev)[0] == "conversation_end" and ev[0]["data"]["reason"] == "left"


def test_without_opening_line_heard_a_move_after_the_line_leaves_in_the_same_tick(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)}, opening_line_heard=False)
    w.apply(talk(A, B, "hello"))
    ev = w.apply(act(B, "move_to", target="Cafe:cafe"))
    assert types(ev) == ["conversation_end", "action"] and ev[0]["data"]["reason"] == "left"
    assert len(ev[0]["data"]["lines"]) == 1


def test_a_checkpoint_saved_before_opening_line_heard_resumes_without_it(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    state = json.loads(json.dumps(w.to_state()))
    assert World.from_state(w.map, state).settings.opening_line_heard
    del state["settings"]["opening_line_heard"]
    assert not World.from_state(w.map, state).settings.opening_line_heard


def test_agents_in_conversation_do_not_walk(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), B: (3, 3)})
    w.apply(act(B, "move_to", target="Cafe:cafe"))
    w.apply(talk(A, B, "wait a moment"))
    assert w.advance_tick() == [] and w.agents[B].tile == (3, 3)


# -- WorldView and state -----------------------------------------------------------------------------
def test_world_view(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)}, tiles_per_tick=6)
    w.add_news("the cafe has a new menu")
    assert isinstance(w, WorldView)
    cafe = w.place("Cafe")
    assert cafe.kind == "sector" and cafe.opening_hours == "8am-8pm" and cafe.objects == ["Cafe:cafe"]
    assert w.place("Cafe:cafe").objects == ["Cafe:cafe:counter"] and w.place("Cafe:cafe").opening_hours == "8am-8pm"
    assert w.place("House:room:bed").state == "idle" and w.place("Nowhere") is None
    assert len(w.places()) == 3 + 2 + 3
    # (2,2) -> house door (3,5): 4 steps, round the walls to the cafe door (12,5): 11, in to (12,4): 1
    assert w.travel_minutes(A, "Cafe:cafe") == round(16 / 6, 1)
    assert w.travel_minutes(A, "House:room") == 0.0
    assert w.travel_minutes(A, "Nowhere") is None and w.travel_minutes("Zed", "Cafe") is None
    assert w.agent_names() == [A] and w.news() == ["the cafe has a new menu"] and w.now() == START


def test_state_round_trip_continues_identically(tmp_path):
    def script(world: World, tick: int) -> list:
        out = []
        if tick == 0:
            out += world.apply(act(A, "move_to", target="Cafe:cafe"))
            out += world.apply(act(B, "use_object", target="House:room:lamp", object_state="on"))
            out += world.apply(talk(C, "Dee", "nice weather"))
        if tick == 3:
            out += world.apply(act(B, "move_to", target="Garden"))
            out += world.apply(talk("Dee", C, "indeed"))
        return out + world.advance_tick()

    def fresh():
        return tiny_world(tmp_path, {A: (2, 2), B: (4, 4), C: (8, 8), "Dee": (9, 8)}, seed=5, tiles_per_tick=2)

    w1 = fresh()
    w1.whisper(A, "remember the keys")
    w1.inject_event("a parade", "", minutes=10)
    log1 = [script(w1, t) for t in range(2)]
    saved = json.loads(json.dumps(w1.to_state()))
    restored = World.from_state(w1.map, saved)
    assert restored.to_state() == w1.to_state()
    rest1 = [script(w1, t) for t in range(2, 8)]
    rest2 = [script(restored, t) for t in range(2, 8)]
    assert rest1 == rest2 and any(rest1)
    assert w1.observe(A) == restored.observe(A) and w1.to_state() == restored.to_state()
    w3 = fresh()
    w3.whisper(A, "remember the keys")
    w3.inject_event("a parade", "", minutes=10)
    assert [script(w3, t) for t in range(8)] == log1 + rest1


def test_from_state_rejects_foreign_state(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    state = w.to_state()
    with pytest.raises(WorldError, match="version"):
        World.from_state(w.map, {**state, "version": 7})
    with pytest.raises(WorldError, match="objects not in"):
        World.from_state(w.map, {**state, "object_states": {"Mars:base:rover": "idle"}})


def test_add_agent_errors(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2)})
    with pytest.raises(WorldError, match="already exists"):
        w.add_agent(A, living_area="House:room")
    with pytest.raises(WorldError, match="living_area 'House:attic'"):
        w.add_agent(B, living_area="House:attic")
    with pytest.raises(WorldError, match="spawn 'roof'"):
        w.add_agent(B, living_area="House:room", spawn="roof")
    assert w.add_agent(B, living_area="House:room", spawn="Cafe:cafe").tile == (12, 2)
