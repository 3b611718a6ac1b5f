"""Reflection: importance trigger, insights citing evidence ids that exist, bad citations, failures."""

from __future__ import annotations

from datetime import timedelta

from agents.context import CognitionSettings
from agents.testing import ScriptedLLM
from agents.steps.reflect import ReflectionState, importance_since_last, maybe_reflect, reflect
from tests._cognition_fixtures import T0, FakeMemory, make_ctx, numbered_count, user_text

FACTS = ["Klaus read about rent increases", "Klaus interviewed a tenant", "Klaus bought coffee",
         "Klaus wrote two pages of the paper", "Klaus talked with Maria about the paper"]


def memory_with_facts(importance: int = 8) -> FakeMemory:
    mem = FakeMemory()
    for i, text in enumerate(FACTS):
        mem.add("observation", text, created=T0 + timedelta(minutes=i), importance=importance)
    return mem


def script(cite: list[int]):
    def answer(step, messages, fmt):
        if step == "reflect_questions":
            return {"questions": ["What is Klaus's paper about?"]}
        assert step == "reflect_insights"
        return {"reasoning": "r", "insights": [{"text": "Klaus cares about tenants", "evidence": cite}]}
    return answer


async def test_trigger_sums_scored_importance_since_last_reflection() -> None:
    mem = memory_with_facts(importance=8)  # 5 * 8 = 40
    llm = ScriptedLLM(script([1]))
    ctx = make_ctx(llm, memory=mem, settings=CognitionSettings(reflection_threshold=40))
    st = ReflectionState()
    pending = {next(iter(mem.records))}
    assert importance_since_last(ctx, st, pending) == 32  # pending memories do not count yet
    assert await maybe_reflect(ctx, st, T0 + timedelta(hours=1), pending) == []
    assert llm.requests == []
    assert await maybe_reflect(ctx, st, T0 + timedelta(hours=1), set())
    assert st.last == T0 + timedelta(hours=1)
    assert importance_since_last(ctx, st, set()) == 0  # reset; the insight itself does not count


async def test_insights_cite_existing_memory_ids() -> None:
    mem = memory_with_facts()
    llm = ScriptedLLM(script([2, 1, 2]))
    ctx = make_ctx(llm, memory=mem, settings=CognitionSettings(retrieve_k=4))
    stored = await reflect(ctx, ReflectionState(), T0 + timedelta(hours=1))
    assert len(stored) == 1
    insight = stored[0]
    assert insight.kind == "reflection" and insight.text == "Klaus cares about tenants"
    # the numbers map back to the memories shown in that order (1-based), deduplicated
    req = llm.requests[-1]
    shown = [line.split("<<<")[1].rstrip(">") for line in user_text(req["messages"]).splitlines() if "<<<" in line]
    by_text = {r.text: r.id for r in mem.records.values()}
    assert list(insight.evidence) == [by_text[shown[1]], by_text[shown[0]]]
    assert all(e in mem.records for e in insight.evidence)
    assert numbered_count(req["messages"]) == 4
    (note,) = [n for n in ctx.take_notes() if n.kind == "reflection"]
    assert note.data["evidence"] == list(insight.evidence) and note.data["question"] == "What is Klaus's paper about?"
    assert ctx.counters["reflections"] == 1


async def test_citation_out_of_range_is_retried() -> None:
    mem = memory_with_facts()
    answers = {
        "reflect_questions": [{"questions": ["What is Klaus's paper about?"]}],
        "reflect_insights": [
            {"reasoning": "", "insights": [{"text": "made up", "evidence": [9]}]},
            {"reasoning": "", "insights": [{"text": "Klaus cares about tenants", "evidence": [1]}]},
        ],
    }
    llm = ScriptedLLM(answers, retries=2)
    ctx = make_ctx(llm, memory=mem, settings=CognitionSettings(retrieve_k=5))
    stored = await reflect(ctx, ReflectionState(), T0 + timedelta(hours=1))
    assert [s.text for s in stored] == ["Klaus cares about tenants"]
    schema = llm.requests[-1]["response_format"]["json_schema"]["schema"]
    assert '"maximum": 5' in str(schema).replace("'", '"')
    assert llm.drain_records(ctx.name)[-1].attempts == 2


async def test_a_topic_is_not_an_insight_and_is_retried() -> None:
    answers = {
        "reflect_questions": [{"questions": ["What does Klaus care about?"]}],
        "reflect_insights": [
            {"reasoning": "", "insights": [{"text": "social justice", "evidence": [1]}]},
            {"reasoning": "", "insights": [{"text": "Klaus cares about social justice", "evidence": [1]}]},
        ],
    }
    llm = ScriptedLLM(answers, retries=2)
    ctx = make_ctx(llm, memory=memory_with_facts(), settings=CognitionSettings(retrieve_k=5))
    stored = await reflect(ctx, ReflectionState(), T0 + timedelta(hours=1))
    assert [s.text for s in stored] == ["Klaus cares about social justice"]
    assert llm.drain_records(ctx.name)[-1].attempts == 2


async def test_failed_steps_are_noted_counted_and_skipped() -> None:
    mem = memory_with_facts()
    llm = ScriptedLLM({"reflect_questions": ["no", "no", "no"]}, retries=2)
    ctx = make_ctx(llm, memory=mem)
    st = ReflectionState()
    stored = await reflect(ctx, st, T0 + timedelta(hours=1))
    assert stored == [] and ctx.counters["reflection_failed"] == 1
    assert st.last == T0 + timedelta(hours=1)  # not retried on every tick
    assert any(n.kind == "fallback" and n.data["step"] == "reflect_questions" for n in ctx.take_notes())
    assert all(r.kind != "reflection" for r in mem.records.values())


async def test_questions_see_the_newest_memories_that_fit_the_character_budget() -> None:
    from agents.steps.reflect import RECENT_CHARS_FOR_QUESTIONS

    mem = FakeMemory()
    long = 780  # five of these (790 characters each) fit 4,000 characters, not six
    for i in range(12):
        mem.add("observation", f"memory {i:02d} " + "x" * long, created=T0 + timedelta(minutes=i), importance=8)
    llm = ScriptedLLM(script([1]))
    ctx = make_ctx(llm, memory=mem)
    await reflect(ctx, ReflectionState(), T0 + timedelta(hours=1))
    asked = user_text(llm.requests[0]["messages"])
    shown = [i for i in range(12) if f"memory {i:02d} " in asked]
    assert shown == [7, 8, 9, 10, 11] and 5 * (long + 10) <= RECENT_CHARS_FOR_QUESTIONS < 6 * (long + 10)


async def test_an_insight_citing_a_private_memory_is_private_and_one_citing_none_is_not() -> None:
    mem = memory_with_facts()
    secret = "Klaus is secretly afraid his paper is not good enough"
    mem.add("thought", secret, created=T0, importance=8, private=True)

    def answer(step, messages, fmt):
        if step == "reflect_questions":
            return {"questions": ["What is Klaus's paper about?"]}
        shown = [line.split("<<<")[1].rstrip(">") for line in user_text(messages).splitlines() if "<<<" in line]
        mine = shown.index(secret) + 1
        other = next(n for n in range(1, len(shown) + 1) if n != mine)
        return {"reasoning": "r", "insights": [{"text": "Klaus doubts his own paper a lot", "evidence": [other, mine]},
                                               {"text": "Klaus cares about tenants", "evidence": [other]}]}

    ctx = make_ctx(ScriptedLLM(answer), memory=mem, settings=CognitionSettings(retrieve_k=8, insights_per_question=2))
    doubts, tenants = await reflect(ctx, ReflectionState(), T0 + timedelta(hours=1))
    assert (doubts.text, doubts.private) == ("Klaus doubts his own paper a lot", True)
    assert (tenants.text, tenants.private) == ("Klaus cares about tenants", False)
