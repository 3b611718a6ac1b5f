"""Walking up to someone to talk: the world holds the opening line until the speaker is within talk range."""

from __future__ import annotations

import json

from town.world.protocol import Action
from town.world.state import World
from tests._town_fixtures import tiny_world

A, B, D = "Ann", "Bob", "Dee"


def talk(agent: str, target: str, text: str) -> Action:
    return Action(agent=agent, kind="talk", target=target, utterance=text, description=f"talking with {target}")


def types(events):
    return [e["type"] for e in events]


def refusals(w: World, name: str) -> list[str]:
    return [p.description for p in w.observe(name).perceived if p.predicate == "could not"]


def test_out_of_range_talk_walks_up_then_says_the_line(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, tiles_per_tick=4)
    w.apply(Action(agent=A, kind="wait", description="reading", duration_min=30))
    ev = w.apply(talk(A, D, "Dee, the party is on Friday!"))
    assert types(ev) == ["action"] and ev[0]["data"]["description"] == "going to talk with Dee"
    a = w.agents[A]
    assert a.approach is not None and a.conversation is None and a.path
    obs = w.observe(A)
    assert obs.approaching == D and obs.current_action == "going to talk with Dee" and obs.conversation is None
    chats = []
    for _ in range(10):
        ev = w.advance_tick()
        chats += [e for e in ev if e["type"] == "chat"]
        if chats:
            break
        assert w.observe(A).approaching == D
    assert [c["data"]["text"] for c in chats] == ["Dee, the party is on Friday!"]
    assert w.map.arena_at(a.tile) == w.map.arena_at(w.agents[D].tile) and a.approach is None
    conv = w.observe(D).conversation
    assert conv is not None and conv.turn_of == D and w.observe(A).approaching is None
    # after the conversation the speaker goes back to what it did before walking up
    w.apply(Action(agent=D, kind="talk", target=A, utterance="Thanks, see you!", end_conversation=True))
    assert (a.kind, a.activity) == ("wait", "reading")


def test_beyond_reach_is_refused_at_once(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, tiles_per_tick=2, approach_ticks=1)
    ev = w.apply(talk(A, D, "hey"))
    assert types(ev) == ["invalid_action"] and "too far away to talk to" in ev[0]["data"]["reason"]
    assert w.agents[A].approach is None and w.agents[A].path == []
    w0 = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, approach_ticks=0)  # 0: the old refusal
    assert types(w0.apply(talk(A, D, "hey"))) == ["invalid_action"]


def test_target_falling_asleep_ends_the_walk_with_a_refusal_the_speaker_is_told(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, tiles_per_tick=2, approach_ticks=10)
    w.apply(Action(agent=A, kind="wait", description="reading", duration_min=30))
    w.apply(talk(A, D, "hey"))
    w.apply(Action(agent=D, kind="sleep", description="napping", duration_min=60))
    ev = w.advance_tick()
    refused = [e for e in ev if e["type"] == "invalid_action"]
    assert len(refused) == 1 and refused[0]["agent"] == A and "Dee is asleep" in refused[0]["data"]["reason"]
    a = w.agents[A]
    assert a.approach is None and a.path == [] and (a.kind, a.activity) == ("wait", "reading")
    assert any("Dee is asleep" in r for r in refusals(w, A)) and w.observe(A).approaching is None
    assert not [e for e in w.advance_tick() if e["type"] in ("chat", "invalid_action")]


def test_gives_up_when_not_in_range_in_time(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=1, tiles_per_tick=6, approach_ticks=3)
    w.apply(talk(A, D, "hey"))
    # Dee keeps walking between the cafe and the house: Ann follows, and gives up after three ticks
    ev = []
    for i in range(4):
        w.apply(Action(agent=D, kind="move_to", target="House:room" if i % 2 == 0 else "Cafe:cafe"))
        ev += w.advance_tick()
        if any(e["type"] == "invalid_action" for e in ev):
            break
    assert not [e for e in ev if e["type"] == "chat"]
    given_up = [e for e in ev if e["type"] == "invalid_action"]
    assert len(given_up) == 1 and "could not reach Dee in time" in given_up[0]["data"]["reason"]
    assert w.clock.tick == 3 and w.agents[A].approach is None


def test_walking_up_to_each_other_makes_one_conversation_with_both_lines(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, tiles_per_tick=2, approach_ticks=10)
    w.apply(talk(A, D, "Hi Dee!"))
    w.apply(talk(D, A, "Ann, have you heard the news?"))
    chats = []
    for _ in range(10):
        chats += [e for e in w.advance_tick() if e["type"] == "chat"]
        if chats:
            break
    assert [(c["data"]["speaker"], c["data"]["text"]) for c in chats] == [
        (A, "Hi Dee!"), (D, "Ann, have you heard the news?")]
    assert w.agents[A].conversation == w.agents[D].conversation is not None
    assert w.agents[A].approach is None and w.agents[D].approach is None
    assert w.observe(A).conversation.turn_of == A


def test_a_new_action_ends_the_walk_up(tmp_path):
    w = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, tiles_per_tick=2, approach_ticks=10)
    w.apply(talk(A, D, "hey"))
    w.apply(Action(agent=A, kind="move_to", target="Garden", description="gardening"))
    a = w.agents[A]
    assert a.approach is None and a.before_talk is None and a.activity == "gardening"
    for _ in range(12):
        assert not [e for e in w.advance_tick() if e["type"] in ("chat", "invalid_action")]


def test_a_walk_up_survives_a_checkpoint(tmp_path):
    w1 = tiny_world(tmp_path, {A: (2, 2), D: (12, 2)}, talk_radius=4, tiles_per_tick=2, approach_ticks=10)
    w1.apply(talk(A, D, "Dee, the party is on Friday!"))
    w1.advance_tick()
    saved = json.loads(json.dumps(w1.to_state()))
    w2 = World.from_state(w1.map, saved, settings=w1.settings)
    assert w2.to_state() == w1.to_state() and w2.observe(A) == w1.observe(A)
    seen = []
    for _ in range(10):
        e1, e2 = w1.advance_tick(), w2.advance_tick()
        assert e1 == e2
        seen += e2
    assert [e["data"]["text"] for e in seen if e["type"] == "chat"] == ["Dee, the party is on Friday!"]
