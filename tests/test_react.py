"""Reaction decisions: the no-model skips, the pair cooldown, and the model's answer handling."""

from __future__ import annotations

import json
from datetime import timedelta

from agents.testing import ScriptedLLM
from agents.steps.react import chat_log, company, decide_reaction, is_asleep, last_chat, record_chat
from tests._tools_fixtures import T0, make_ctx
from town.world.protocol import ChatLine, ConversationView, NearbyAgent, Observation, PerceivedEvent

STEP = "react_decide"


def seen(subject: str, what: str = "is making coffee", distance: float = 2.0, kind: str = "agent") -> PerceivedEvent:
    return PerceivedEvent(subject=subject, predicate="is", object=what, description=f"{subject} {what}",
                          address="Hobbs Cafe:cafe", distance=distance, kind=kind)


def near(name: str, activity: str = "making coffee", in_conversation: bool = False) -> NearbyAgent:
    return NearbyAgent(name=name, tile=(2, 2), address="Hobbs Cafe:cafe", activity=activity, in_conversation=in_conversation)


def observation(*nearby: NearbyAgent, current: str = "drinking coffee", conversation: ConversationView | None = None) -> Observation:
    return Observation(agent="Klaus Mueller", tick=3, time=T0, tile=(1, 1), address="Hobbs Cafe:cafe",
                       current_action=current, action_ends_at=None, arrived=True, nearby=list(nearby),
                       conversation=conversation)


def answer(kind: str, **kw) -> dict:
    return {"reasoning": "because", "kind": kind, **kw}


async def test_no_other_agent_means_no_model_call():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm)
    events = [seen("Hobbs Cafe:cafe:coffee machine", "is brewing", kind="object"), seen("Klaus Mueller"), seen("A Stranger")]
    r = await decide_reaction(ctx, observation(), events)
    assert r.kind == "ignore" and "no agent" in r.reasoning
    assert llm.requests == []
    assert ctx.counters == {"reaction_skipped": 1, "reaction_skip_no_agent": 1}


async def test_busy_or_asleep_me_skips():
    conv = ConversationView(id="c1", participants=["Klaus Mueller", "Maria Lopez"],
                            lines=[ChatLine(speaker="Maria Lopez", text="hi", time=T0)], turn_of="Klaus Mueller", max_turns=8)
    llm = ScriptedLLM({})
    ctx = make_ctx(llm)
    assert (await decide_reaction(ctx, observation(conversation=conv), [seen("Isabella Rodriguez")])).kind == "ignore"
    assert (await decide_reaction(ctx, observation(current="sleeping"), [seen("Isabella Rodriguez")])).kind == "ignore"
    assert ctx.counters["reaction_skip_in_conversation"] == 1 and ctx.counters["reaction_skip_asleep"] == 1
    assert llm.requests == []


async def test_other_asleep_or_in_conversation_skips():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm)
    await decide_reaction(ctx, observation(near("Isabella Rodriguez", "sleeping")), [seen("Isabella Rodriguez")])
    await decide_reaction(ctx, observation(near("Isabella Rodriguez", in_conversation=True)), [seen("Isabella Rodriguez")])
    assert ctx.counters["reaction_skip_other_asleep"] == 1
    assert ctx.counters["reaction_skip_other_in_conversation"] == 1
    assert llm.requests == []


async def test_pair_cooldown():
    llm = ScriptedLLM({STEP: [answer("ignore")]})
    ctx = make_ctx(llm, conversation_cooldown_min=60)
    record_chat(ctx, "Isabella Rodriguez", T0 - timedelta(minutes=30))
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert r.kind == "ignore" and ctx.counters["reaction_skip_cooldown"] == 1 and llm.requests == []
    record_chat(ctx, "Isabella Rodriguez", T0 - timedelta(minutes=61))
    await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert len(llm.requests) == 1
    # the pair key is symmetric and the log is JSON-able (checkpointable)
    other = make_ctx(llm, name="Isabella Rodriguez")
    other.plan_cache = ctx.plan_cache
    assert last_chat(other, "Klaus Mueller") == T0 - timedelta(minutes=61)
    assert json.loads(json.dumps(chat_log(ctx))) == chat_log(ctx)


async def test_talk_targets_the_nearest_approachable_agent_with_memories_in_prompt():
    llm = ScriptedLLM({STEP: [answer("talk", target="Maria")]})
    ctx = make_ctx(llm)
    ctx.memory.add("observation", "Maria Lopez loves physics", created=T0, importance=3)
    obs = observation(near("Isabella Rodriguez", "asleep on the couch"), near("Maria Lopez", "reading a book"))
    events = [seen("Maria Lopez", "is reading a book", distance=5), seen("Isabella Rodriguez", "is asleep", distance=1)]
    r = await decide_reaction(ctx, obs, events)
    assert (r.kind, r.target) == ("talk", "Maria Lopez")
    prompt = llm.requests[0]["messages"][-1]["content"]
    assert "You notice Maria Lopez: <<<reading a book>>>" in prompt
    assert "<<<Maria Lopez loves physics>>>" in prompt
    assert [n.data["decision"] for n in ctx.notes if n.kind == "react"] == ["talk"]


async def test_react_without_new_activity_is_retried():
    llm = ScriptedLLM({STEP: [answer("react"), answer("react", new_activity="help Isabella decorate")]})
    ctx = make_ctx(llm)
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert (r.kind, r.new_activity) == ("react", "help Isabella decorate")
    assert llm.accounting.total.retries == 1


async def test_bad_answers_give_a_counted_fallback():
    llm = ScriptedLLM({STEP: ["nope", answer("dance"), "{"]})
    ctx = make_ctx(llm)
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert r.kind == "ignore" and r.reasoning.startswith("fallback")
    assert ctx.counters["reaction_fallbacks"] == 1 and llm.accounting.total.fallbacks == 1
    assert [n.kind for n in ctx.notes] == ["fallback"]


def test_is_asleep():
    assert is_asleep("Sleeping in bed") and is_asleep("asleep") and not is_asleep("sleepwalking? no: reading")


async def test_someone_just_ignored_is_not_asked_about_again_for_a_while():
    llm = ScriptedLLM({STEP: [answer("ignore"), answer("talk")]})
    ctx = make_ctx(llm, ignore_cooldown_min=10)
    isabella = observation(near("Isabella Rodriguez"))
    assert (await decide_reaction(ctx, isabella, [seen("Isabella Rodriguez")])).kind == "ignore"
    soon = isabella.model_copy(update={"time": T0 + timedelta(minutes=9)})
    r = await decide_reaction(ctx, soon, [seen("Isabella Rodriguez", "is wiping the counter")])
    assert r.kind == "ignore" and ctx.counters["reaction_skip_ignored_recently"] == 1 and len(llm.requests) == 1
    later = isabella.model_copy(update={"time": T0 + timedelta(minutes=10)})
    r = await decide_reaction(ctx, later, [seen("Isabella Rodriguez", "is closing the cafe")])
    assert r.kind == "talk" and len(llm.requests) == 2
    # directed (Klaus ignoring Isabella says nothing of her) and JSON-able (checkpointed with the plan cache)
    assert list(ctx.plan_cache["last_ignored"]) == ["Klaus Mueller>Isabella Rodriguez"]
    assert json.loads(json.dumps(ctx.plan_cache["last_ignored"])) == ctx.plan_cache["last_ignored"]


def observation_at(minutes: int, *nearby: NearbyAgent, perceived: list[PerceivedEvent]) -> Observation:
    return observation(*nearby).model_copy(update={"time": T0 + timedelta(minutes=minutes), "perceived": perceived})


def test_company_is_off_by_default_and_outdoors():
    ctx = make_ctx(ScriptedLLM({}))
    obs = observation_at(0, near("Maria Lopez", "reading a book"), perceived=[seen("Maria Lopez", "is reading a book")])
    assert company(ctx, obs, []) == []
    on = make_ctx(ScriptedLLM({}), company_min=30)
    assert company(on, obs.model_copy(update={"address": ""}), []) == []
    assert [e.subject for e in company(on, obs, [])] == ["Maria Lopez"]


def test_company_offers_people_awake_in_my_room_not_new_and_not_asked_about_lately():
    ctx = make_ctx(ScriptedLLM({}), company_min=30)
    people = (near("Maria Lopez", "reading a book"), near("Isabella Rodriguez", "asleep on the couch"),
              NearbyAgent(name="Tom Moreno", tile=(9, 9), address="Hobbs Cafe:kitchen", activity="cooking"))
    sights = [seen("Maria Lopez", "is reading a book", distance=3), seen("Isabella Rodriguez", "is asleep", distance=1),
              seen("Tom Moreno", "is cooking", distance=2), seen("Hobbs Cafe:cafe:piano", "is idle", kind="object")]
    obs = observation_at(0, *people, perceived=sights)
    assert [e.subject for e in company(ctx, obs, [])] == ["Maria Lopez"]  # not asleep, not another room, not a thing
    assert company(ctx, obs, [seen("Maria Lopez", "is reading a book")]) == []  # new: the usual path asks
    ctx.plan_cache["last_asked"] = {"Klaus Mueller>Maria Lopez": T0.isoformat()}
    assert company(ctx, observation_at(29, *people, perceived=sights), []) == []
    assert [e.subject for e in company(ctx, observation_at(30, *people, perceived=sights), [])] == ["Maria Lopez"]


async def test_a_person_around_a_while_is_asked_about_again_after_company_min_and_counted():
    llm = ScriptedLLM({STEP: [answer("ignore"), answer("talk", target="Maria Lopez")]})
    ctx = make_ctx(llm, company_min=30)
    maria = near("Maria Lopez", "reading a book")
    sight = seen("Maria Lopez", "is reading a book")
    first = observation_at(0, maria, perceived=[sight])
    assert (await decide_reaction(ctx, first, [sight], company(ctx, first, [sight]))).kind == "ignore"
    assert "reaction_company" not in ctx.counters  # a new sighting, asked the usual way
    for minutes in (10, 29):  # she has not changed: nothing new, and not yet asked again
        obs = observation_at(minutes, maria, perceived=[sight])
        assert company(ctx, obs, []) == []
    later = observation_at(30, maria, perceived=[sight])
    r = await decide_reaction(ctx, later, [], company(ctx, later, []))
    assert (r.kind, r.target) == ("talk", "Maria Lopez") and len(llm.requests) == 2
    assert ctx.counters["reaction_company"] == 1
    assert ctx.plan_cache["last_asked"] == {"Klaus Mueller>Maria Lopez": later.time.isoformat()}


async def test_company_keeps_the_rules_a_recent_chat_costs_no_call():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm, company_min=30)
    record_chat(ctx, "Maria Lopez", T0)
    obs = observation_at(40, near("Maria Lopez", "reading a book"), perceived=[seen("Maria Lopez", "is reading a book")])
    again = company(ctx, obs, [])
    assert [e.subject for e in again] == ["Maria Lopez"]  # never asked about, but we talked 40 minutes ago
    r = await decide_reaction(ctx, obs, [], again)
    assert r.kind == "ignore" and ctx.counters["reaction_skip_cooldown"] == 1 and llm.requests == []


async def test_greet_first_talks_at_the_first_meeting_of_the_day_without_a_call():
    llm = ScriptedLLM({STEP: [answer("ignore")]})
    ctx = make_ctx(llm, greet_first=True)
    maria = near("Maria Lopez", "reading a book")
    sight = seen("Maria Lopez", "is reading a book")
    r = await decide_reaction(ctx, observation_at(0, maria, perceived=[sight]), [sight])
    assert (r.kind, r.target) == ("talk", "Maria Lopez") and "not talked with Maria today" in r.reasoning
    assert llm.requests == [] and ctx.counters == {"reaction_greet": 1}
    record_chat(ctx, "Maria Lopez", T0)  # the conversation it starts records the chat
    later = observation_at(90, maria, perceived=[sight])  # past the cooldown, the same day: the model decides
    assert (await decide_reaction(ctx, later, [sight])).kind == "ignore" and len(llm.requests) == 1


async def test_greet_first_keeps_the_rules_and_greets_again_the_next_day():
    llm = ScriptedLLM({})
    ctx = make_ctx(llm, greet_first=True)
    asleep = seen("Maria Lopez", "is asleep")
    r = await decide_reaction(ctx, observation_at(0, near("Maria Lopez", "asleep"), perceived=[asleep]), [asleep])
    assert r.kind == "ignore" and ctx.counters["reaction_skip_other_asleep"] == 1
    record_chat(ctx, "Maria Lopez", T0 - timedelta(days=1))
    sight = seen("Maria Lopez", "is reading a book")
    r = await decide_reaction(ctx, observation_at(0, near("Maria Lopez", "reading a book"), perceived=[sight]), [sight])
    assert (r.kind, r.target) == ("talk", "Maria Lopez") and llm.requests == []


async def test_greet_first_is_off_by_default_and_never_greets_someone_offered_again():
    llm = ScriptedLLM({STEP: [answer("ignore"), answer("ignore")]})
    ctx = make_ctx(llm)
    sight = seen("Maria Lopez", "is reading a book")
    first = observation_at(0, near("Maria Lopez"), perceived=[sight])
    assert (await decide_reaction(ctx, first, [sight])).kind == "ignore"
    on = make_ctx(llm, greet_first=True, company_min=30)
    obs = observation_at(0, near("Maria Lopez", "reading a book"), perceived=[sight])
    assert (await decide_reaction(on, obs, [], company(on, obs, []))).kind == "ignore"  # not new: asked, not greeted
    assert len(llm.requests) == 2 and "reaction_greet" not in on.counters


async def test_greet_first_two_who_meet_do_not_both_open_the_one_whose_name_sorts_first_does():
    llm = ScriptedLLM({})
    klaus, isabella = make_ctx(llm, greet_first=True), make_ctx(llm, name="Isabella Rodriguez", greet_first=True)
    sees_isabella = seen("Isabella Rodriguez", "is serving coffee")
    r = await decide_reaction(klaus, observation_at(0, near("Isabella Rodriguez", "serving coffee"),
                                                    perceived=[sees_isabella]), [sees_isabella])
    assert r.kind == "ignore" and klaus.counters == {"reaction_skipped": 1, "reaction_skip_greet_theirs": 1}
    sees_klaus = seen("Klaus Mueller", "is drinking coffee")
    obs = observation_at(0, near("Klaus Mueller", "drinking coffee"), perceived=[sees_klaus])
    r = await decide_reaction(isabella, obs.model_copy(update={"agent": "Isabella Rodriguez"}), [sees_klaus])
    assert (r.kind, r.target) == ("talk", "Klaus Mueller") and isabella.counters == {"reaction_greet": 1}
    assert llm.requests == []
