"""[mind] reasoning = false: planning and reaction answers are asked without their reasoning sentence.

The lever must drop the field from the JSON schema the server constrains to (so no tokens are generated for
it), drop the prompt's request for it, keep every other bound of the call-specific schema, and refuse an
answer that still carries one (a retry, then the counted fallback) rather than quietly accept it."""

from __future__ import annotations

from agents.schemas import Reaction, TaskDecomposition, decomposition_schema, without_reasoning
from agents.steps.plan import decompose
from agents.steps.react import decide_reaction
from agents.testing import ScriptedLLM
from tests._tools_fixtures import make_ctx
from tests.test_react import near, observation, seen

REACT = "react_decide"


def schema_properties(request: dict) -> set[str]:
    return set(request["response_format"]["json_schema"]["schema"]["properties"])


def prompt_text(request: dict) -> str:
    return "\n".join(m["content"] for m in request["messages"])


async def test_default_asks_for_reasoning_first() -> None:
    llm = ScriptedLLM({REACT: [{"reasoning": "old friend", "kind": "talk", "target": "Isabella Rodriguez"}]})
    ctx = make_ctx(llm)
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert (r.kind, r.reasoning) == ("talk", "old friend")
    request = llm.requests[0]
    assert "reasoning" in schema_properties(request) and '"reasoning"' in prompt_text(request)


async def test_off_drops_the_field_from_schema_and_prompt() -> None:
    llm = ScriptedLLM({REACT: [{"kind": "talk", "target": "Isabella Rodriguez"}]})
    ctx = make_ctx(llm, reasoning=False)
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert (r.kind, r.target, r.reasoning) == ("talk", "Isabella Rodriguez", "")
    request = llm.requests[0]
    assert schema_properties(request) == {"kind", "target", "new_activity"}
    assert "reasoning" not in prompt_text(request).lower()
    assert llm.accounting.total.retries == 0


async def test_off_refuses_an_answer_that_still_reasons() -> None:
    chatty = {"reasoning": "I like her", "kind": "talk", "target": "Isabella Rodriguez"}
    llm = ScriptedLLM({REACT: [chatty, {"kind": "ignore"}]})
    ctx = make_ctx(llm, reasoning=False)
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert r.kind == "ignore" and llm.accounting.total.retries == 1


async def test_off_keeps_the_validators_of_the_step() -> None:
    # kind "react" needs a new_activity (react.py's validator): still retried with the lever off
    llm = ScriptedLLM({REACT: [{"kind": "react"}, {"kind": "react", "new_activity": "help Isabella"}]})
    ctx = make_ctx(llm, reasoning=False)
    r = await decide_reaction(ctx, observation(near("Isabella Rodriguez")), [seen("Isabella Rodriguez")])
    assert (r.kind, r.new_activity) == ("react", "help Isabella") and llm.accounting.total.retries == 1


async def test_off_keeps_the_call_specific_bounds_of_a_plan() -> None:
    fly = {"tasks": [{"description": "fly", "duration_min": 10, "address": "Mars:crater"}]}
    llm = ScriptedLLM({"plan_decompose": [fly, fly, fly]}, retries=2)
    ctx = make_ctx(llm, reasoning=False)
    tasks = await decompose(ctx, "exploring", 45)
    assert llm.accounting.total.fallbacks == 1 and llm.accounting.total.retries == 2  # Mars is no address here
    assert tasks and all(t.address != "Mars:crater" for t in tasks)
    request = llm.requests[0]
    assert schema_properties(request) == {"tasks"}
    assert "Reasoning" not in prompt_text(request)


def test_brief_schema_is_a_subclass_with_the_same_bounds() -> None:
    bounded = decomposition_schema(("Hobbs Cafe:cafe",))
    brief = without_reasoning(bounded)
    assert issubclass(brief, TaskDecomposition) and without_reasoning(bounded) is brief
    assert brief.model_json_schema()["required"] == ["tasks"]
    assert "reasoning" in Reaction.model_json_schema()["required"]  # the original is untouched
    ok = brief.model_validate({"tasks": [{"description": "coffee", "duration_min": 10, "address": "Hobbs Cafe:cafe"}]})
    assert ok.reasoning == ""
