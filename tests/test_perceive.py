"""Perception: novelty window, attention limit, batched importance scoring, routine rule, whispers."""

from __future__ import annotations

from datetime import timedelta

from agents.context import CognitionSettings
from agents.testing import ScriptedLLM
from agents.steps.perceive import PROVISIONAL_IMPORTANCE, ROUTINE_IMPORTANCE, PerceptionState, perceive, score_pending
from tests._cognition_fixtures import CAFE, T0, FakeMemory, make_ctx, numbered_count, town_script
from town.world.protocol import Observation, PerceivedEvent


def model_scores(**settings: object) -> CognitionSettings:
    """Settings where the model scores people and objects: the rules are the default, these tests are about
    the model's scoring (a test of a rule turns it on itself)."""
    return CognitionSettings(**{"activity_importance": 0, "object_importance": 0, **settings})


def ev(subject: str, desc: str, distance: float = 1.0, kind: str = "agent", obj: str = "busy") -> PerceivedEvent:
    return PerceivedEvent(subject=subject, predicate="is", object=obj, description=desc, address=CAFE,
                          distance=distance, kind=kind)


def obs_at(minutes: int, events: list[PerceivedEvent], injected: list[str] | None = None) -> Observation:
    return Observation(agent="Klaus Mueller", tick=minutes, time=T0 + timedelta(minutes=minutes), tile=(1, 1),
                       address=CAFE, current_action="idle", action_ends_at=None, arrived=True,
                       perceived=events, injected=injected or [])


def scorer(calls: list[int]):
    def script(step, messages, fmt):
        assert step == "perceive_importance"
        n = numbered_count(messages)
        calls.append(n)
        return {"scores": [min(10, i + 2) for i in range(n)]}
    return script


async def test_new_events_are_stored_once_within_the_window_and_again_after_it() -> None:
    calls: list[int] = []
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(scorer(calls)), memory=mem, settings=model_scores(importance_batch=10))
    st = PerceptionState()
    e = ev("Isabella Rodriguez", "Isabella Rodriguez is brewing coffee")
    assert len(await perceive(ctx, obs_at(0, [e]), st)) == 1
    assert await perceive(ctx, obs_at(10, [e]), st) == []  # still in view: not new
    assert mem.count() == 1
    # seen continuously: refreshed, so still not new 35 minutes after first sight
    assert await perceive(ctx, obs_at(35, [e]), st) == []
    # out of view for longer than the window, then seen again: new
    await perceive(ctx, obs_at(50, []), st)
    assert len(await perceive(ctx, obs_at(100, [e]), st)) == 1
    assert mem.count() == 2


async def test_attend_limit_keeps_nearest_and_skips_self() -> None:
    ctx = make_ctx(ScriptedLLM(town_script), settings=model_scores(attend_limit=2, importance_batch=10))
    events = [ev("A", "A is far", 9), ev("Klaus Mueller", "Klaus Mueller is here", 0), ev("B", "B is near", 1),
              ev("C", "C is middle", 5)]
    new = await perceive(ctx, obs_at(0, events), PerceptionState())
    assert [e.subject for e in new] == ["B", "C"]


async def test_importance_is_scored_in_batches() -> None:
    calls: list[int] = []
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(scorer(calls)), memory=mem, settings=model_scores(importance_batch=3))
    st = PerceptionState()
    await perceive(ctx, obs_at(0, [ev("A", "A is reading")]), st)
    await perceive(ctx, obs_at(1, [ev("B", "B is singing")]), st)
    assert calls == [] and len(st.pending) == 2
    assert all(r.importance == PROVISIONAL_IMPORTANCE for r in mem.records.values())
    await perceive(ctx, obs_at(2, [ev("C", "C is dancing")]), st)
    assert calls == [3] and st.pending == []  # one call for three memories
    assert sorted(r.importance for r in mem.records.values()) == [2, 3, 4]
    notes = [n for n in ctx.take_notes() if n.kind == "importance"]
    assert notes[-1].data["scores"] == [2, 3, 4] and not notes[-1].data["fallback"]


async def test_a_quiet_tick_flushes_pending_once_the_oldest_waited_long_enough() -> None:
    calls: list[int] = []
    ctx = make_ctx(ScriptedLLM(scorer(calls)), settings=model_scores(importance_batch=5,
                                                                    importance_max_wait_min=30))
    st = PerceptionState()
    await perceive(ctx, obs_at(0, [ev("A", "A is reading")]), st)
    await perceive(ctx, obs_at(1, [ev("A", "A is reading")]), st)  # nothing new: quiet, but only 1 minute old
    await perceive(ctx, obs_at(20, [ev("B", "B is singing")]), st)  # not quiet
    assert calls == [] and len(st.pending) == 2 and st.pending_since == T0
    await perceive(ctx, obs_at(30, [ev("B", "B is singing")]), st)  # quiet, 30 minutes: both in one call
    assert calls == [2] and st.pending == [] and st.pending_since is None


async def test_with_no_wait_the_first_quiet_tick_flushes() -> None:
    calls: list[int] = []
    ctx = make_ctx(ScriptedLLM(scorer(calls)), settings=model_scores(importance_batch=5,
                                                                    importance_max_wait_min=0))
    st = PerceptionState()
    await perceive(ctx, obs_at(0, [ev("A", "A is reading")]), st)
    assert calls == []
    await perceive(ctx, obs_at(1, [ev("A", "A is reading")]), st)  # nothing new: quiet
    assert calls == [1] and st.pending == []


async def test_routine_events_get_rule_importance_without_a_call_and_are_counted() -> None:
    calls: list[int] = []
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(scorer(calls)), memory=mem)
    st = PerceptionState()
    events = [ev(f"{CAFE}:coffee machine", "the coffee machine is idle", kind="object", obj="idle"),
              ev("Isabella Rodriguez", "Isabella Rodriguez is sleeping")]
    await perceive(ctx, obs_at(0, events), st)
    assert st.pending == [] and calls == []
    assert [r.importance for r in mem.records.values()] == [ROUTINE_IMPORTANCE] * 2
    assert ctx.counters["importance_rule"] == 2
    assert any(n.kind == "importance" and n.data["rule"] for n in ctx.take_notes())


async def test_bad_scores_retry_then_counted_fallback() -> None:
    # wrong number of scores is invalid for the call-specific schema
    llm = ScriptedLLM({"perceive_importance": [{"scores": [5]}, {"scores": [5, 11]}, "nonsense"]}, retries=2)
    mem = FakeMemory()
    ctx = make_ctx(llm, memory=mem)
    st = PerceptionState(pending=[mem.add("observation", t, created=T0, importance=PROVISIONAL_IMPORTANCE).id
                                  for t in ("x happened", "y happened")])
    await score_pending(ctx, st)
    assert len(llm.requests) == 3
    assert ctx.counters["importance_fallback"] == 2
    assert [r.importance for r in mem.records.values()] == [PROVISIONAL_IMPORTANCE] * 2
    assert llm.drain_records(ctx.name)[0].fallback
    assert st.pending == []


async def test_whispers_are_stored_as_thoughts() -> None:
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(town_script), memory=mem, settings=model_scores(importance_batch=1))
    await perceive(ctx, obs_at(0, [], injected=["You should run for mayor"]), PerceptionState())
    (rec,) = mem.records.values()
    assert rec.kind == "thought" and rec.text == "You should run for mayor" and rec.importance == 6


async def test_object_importance_scores_an_object_state_by_rule_and_leaves_people_to_the_model() -> None:
    calls: list[int] = []
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(scorer(calls)), memory=mem,
                   settings=model_scores(importance_batch=1, object_importance=2))
    brewing = ev(f"{CAFE}:coffee machine", "the coffee machine is brewing coffee", kind="object", obj="brewing coffee")
    idle = ev(f"{CAFE}:oven", "the oven is idle", kind="object", obj="idle")
    await perceive(ctx, obs_at(0, [brewing, idle, ev("Maria Lopez", "Maria Lopez is reading")]), PerceptionState())
    assert calls == [1]  # only the person waited for the model
    scored = {r.text: r.importance for r in mem.records.values()}
    assert scored["the coffee machine is brewing coffee"] == 2 and scored["the oven is idle"] == ROUTINE_IMPORTANCE
    assert ctx.counters["importance_rule"] == 2
    (note,) = [n.data for n in ctx.take_notes() if n.kind == "importance" and n.data["rule"]]
    assert note["memories"] == [
        {"rule": "object_state", "text": "the coffee machine is brewing coffee", "importance": 2},
        {"rule": "idle_object", "text": "the oven is idle", "importance": ROUTINE_IMPORTANCE}]


async def test_without_object_importance_the_model_scores_an_object_state() -> None:
    calls: list[int] = []
    ctx = make_ctx(ScriptedLLM(scorer(calls)), settings=model_scores(importance_batch=1))
    brewing = ev(f"{CAFE}:coffee machine", "the coffee machine is brewing coffee", kind="object", obj="brewing coffee")
    await perceive(ctx, obs_at(0, [brewing]), PerceptionState())
    assert calls == [1] and "importance_rule" not in ctx.counters


async def test_activity_importance_scores_a_person_by_rule_and_leaves_world_events_to_the_model() -> None:
    calls: list[int] = []
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(scorer(calls)), memory=mem,
                   settings=model_scores(importance_batch=1, activity_importance=3))
    party = ev("the_ville", "the town hall has a fire alarm going off", kind="world")
    await perceive(ctx, obs_at(0, [ev("Maria Lopez", "Maria Lopez is reading"), party]), PerceptionState())
    assert calls == [1]  # the world event alone waited for the model
    scored = {r.text: r.importance for r in mem.records.values()}
    assert scored["Maria Lopez is reading"] == 3 and scored["the town hall has a fire alarm going off"] != 3
    (note,) = [n.data for n in ctx.take_notes() if n.kind == "importance" and n.data["rule"]]
    assert note["memories"] == [{"rule": "activity", "text": "Maria Lopez is reading", "importance": 3}]
    assert ctx.counters["importance_rule"] == 1


async def test_importance_repeat_gives_a_seen_text_its_last_score_without_a_call() -> None:
    calls: list[int] = []
    mem = FakeMemory()
    ctx = make_ctx(ScriptedLLM(scorer(calls)), memory=mem,
                   settings=model_scores(importance_batch=2, importance_repeat=True))
    st = PerceptionState()
    reading, singing = ev("A", "A is reading"), ev("B", "B is singing")
    await perceive(ctx, obs_at(0, [reading, singing]), st)
    assert calls == [2] and st.scores == {"A is reading": 2, "B is singing": 3}
    ctx.take_notes()
    # both seen again after the novelty window, with one new text: only the new one waits for a score
    await perceive(ctx, obs_at(40, []), st)
    await perceive(ctx, obs_at(80, [reading, singing, ev("C", "C is dancing")]), st)
    assert calls == [2] and len(st.pending) == 1 and ctx.counters["importance_repeat"] == 2
    again = sorted((r.text, r.importance) for r in mem.records.values())
    assert again.count(("A is reading", 2)) == 2 and again.count(("B is singing", 3)) == 2
    notes = [n.data for n in ctx.take_notes() if n.kind == "importance"]
    assert notes == [{"rule": True, "memories": [{"rule": "repeat", "text": "A is reading", "importance": 2},
                                                 {"rule": "repeat", "text": "B is singing", "importance": 3}]}]


async def test_without_importance_repeat_a_seen_text_is_scored_again() -> None:
    calls: list[int] = []
    ctx = make_ctx(ScriptedLLM(scorer(calls)), settings=model_scores(importance_batch=1))
    st = PerceptionState()
    await perceive(ctx, obs_at(0, [ev("A", "A is reading")]), st)
    await perceive(ctx, obs_at(40, []), st)
    await perceive(ctx, obs_at(80, [ev("A", "A is reading")]), st)
    assert calls == [1, 1] and st.scores == {} and "importance_repeat" not in ctx.counters


async def test_remembered_scores_are_bounded_newest_kept_and_a_fallback_is_not_remembered(monkeypatch) -> None:
    from agents.steps import perceive as perceive_module

    monkeypatch.setattr(perceive_module, "REMEMBERED_SCORES", 3)
    calls: list[int] = []
    ctx = make_ctx(ScriptedLLM(scorer(calls)), settings=model_scores(importance_batch=5, importance_repeat=True, attend_limit=5))
    st = PerceptionState()
    await perceive(ctx, obs_at(0, [ev(x, f"{x} is here") for x in "ABCDE"]), st)
    assert list(st.scores) == ["C is here", "D is here", "E is here"]
    bad = make_ctx(ScriptedLLM({"perceive_importance": ["nonsense"] * 3}, retries=2),
                   settings=model_scores(importance_batch=1, importance_repeat=True))
    st2 = PerceptionState()
    await perceive(bad, obs_at(0, [ev("A", "A is reading")]), st2)
    assert st2.scores == {} and bad.counters["importance_fallback"] == 1
