"""``[mind] in_character``: a conversation line that reads as an AI assistant's (a refusal, an offer of help, a
self-description) is handled as a repeat: asked again, the speaker told whose line it was, then the end."""

from __future__ import annotations

import pytest

from agents.steps.converse import next_turn, out_of_character
from agents.testing import ScriptedLLM
from tests._tools_fixtures import make_ctx
from tests.test_converse import HER, PARTY, conv, observation, said, user_prompt

REFUSAL = "I'm sorry, but I can't assist with that."


@pytest.mark.parametrize("line", [
    REFUSAL, "Hi Maria Lopez! I'm sorry, but I can't help with that.", "I'm unable to assist with that request.",
    "Hello Isabella Rodriguez, how can I assist you today?", "Yes, I'm here. How can I help you today?",
    "Sure! Is there anything else I can help you with?", "As an AI, I do not have plans for the weekend.",
])
def test_an_assistants_line_is_out_of_character(line):
    assert out_of_character(line)


@pytest.mark.parametrize("line", [
    "I can't help but smile when I think of the party!", "I can't help you with the decorations today, sorry.",
    "How can I help you with the Valentine's Day party?", "I'd love to help! Can you help me carry the chairs?",
    "Is there anything I can help you with at the cafe?", "As a student, I have a lot of reading to do.", PARTY,
])
def test_a_persons_line_is_in_character(line):
    assert not out_of_character(line)


async def test_with_in_character_an_assistants_line_is_asked_again_and_the_new_line_said():
    llm = ScriptedLLM({"converse_turn": [said(REFUSAL), said("Sorry, I was miles away. The party sounds lovely!")]})
    ctx = make_ctx(llm, repeat_retries=1, in_character=True)
    act = await next_turn(ctx, observation(conv((HER, PARTY))))
    assert (act.utterance, act.end_conversation) == ("Sorry, I was miles away. The party sounds lovely!", False)
    assert "about to say" not in user_prompt(llm, 0)
    assert f"You were about to say <<<{REFUSAL}>>>, which an AI assistant says, not Klaus Mueller." in user_prompt(llm, 1)
    assert ctx.counters["conversation_repeat_retries"] == 1 and not ctx.notes


async def test_with_in_character_a_speaker_that_keeps_speaking_as_an_assistant_ends_the_conversation_unsaid():
    llm = ScriptedLLM({"converse_turn": [said(REFUSAL), said("How can I assist you today?"), said("unused")]})
    ctx = make_ctx(llm, repeat_retries=1, in_character=True)
    act = await next_turn(ctx, observation(conv((HER, PARTY))))
    assert act.end_conversation and act.utterance is None and len(llm.requests) == 2
    assert ctx.counters["conversation_out_of_character"] == 1 and "conversation_repetition" not in ctx.counters
    [note] = ctx.notes
    assert note.kind == "fallback" and "assistant" in note.data["reason"]
    assert note.data["text"] == "How can I assist you today?"


async def test_a_repeat_after_an_assistants_line_is_told_as_a_repeat_and_counted_as_one():
    llm = ScriptedLLM({"converse_turn": [said(REFUSAL), said(PARTY)]})
    ctx = make_ctx(llm, repeat_retries=1, in_character=True)
    act = await next_turn(ctx, observation(conv((HER, PARTY))))
    assert act.end_conversation and act.utterance is None
    assert ctx.counters["conversation_repetition"] == 1 and "conversation_out_of_character" not in ctx.counters


async def test_without_in_character_an_assistants_line_is_said_as_before():
    llm = ScriptedLLM({"converse_turn": [said(REFUSAL)]})
    ctx = make_ctx(llm, repeat_retries=1)
    act = await next_turn(ctx, observation(conv((HER, PARTY))))
    assert act.utterance == REFUSAL and len(llm.requests) == 1 and not ctx.counters


async def test_with_in_character_an_assistants_opening_line_becomes_a_greeting_noted_and_counted():
    from agents.steps.converse import start_conversation

    llm = ScriptedLLM({"converse_open": [said("Hello Isabella Rodriguez, how can I assist you today?")] * 2})
    ctx = make_ctx(llm, in_character=True)
    act = await start_conversation(ctx, observation(), HER, "to say hello")
    assert act.utterance == "Hi Isabella, how are you?" and ctx.counters["conversation_out_of_character"] == 1
    assert [n.data["step"] for n in ctx.notes if n.kind == "fallback"] == ["converse_open"]
    plain = make_ctx(llm)
    act = await start_conversation(plain, observation(), HER, "to say hello")
    assert act.utterance == "Hello Isabella Rodriguez, how can I assist you today?" and not plain.notes
