"""Reflection: when enough has happened, ask what it means, and store insights citing their evidence.

Trigger: the summed importance of observations, thoughts and chats since the last reflection
(memories whose score is still pending do not count yet) reaches ``reflection_threshold``.
Then: focal questions from the 100 most recent memories, the newest that fit :data:`RECENT_CHARS_FOR_QUESTIONS`
characters (``reflect_questions``; the embedded server has 2,048 tokens per slot); for each
question, retrieve memories, number them, and ask for insights that cite those numbers
(``reflect_insights``; the answer schema only admits numbers in range, so a bad citation is a
retry). Insights are stored as ``reflection`` memories with ``evidence`` = the cited memory ids
and, by rule, the highest importance among that evidence; each is noted (``reflection``). A step whose every attempt fails is noted (``fallback``), counted
(``reflection_failed``) and skipped; the trigger is reset so it is not retried every tick.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel

from agents.context import MindContext, ask
from agents.llm.base import LLMFailure
from agents.memory.records import MemoryRecord
from agents.step_registry import register_step
from agents.schemas import FocalQuestions, insights_schema

log = logging.getLogger("agents.steps.reflect")

QUESTIONS, INSIGHTS = "reflect_questions", "reflect_insights"
register_step(QUESTIONS, {"memories", "n"})
register_step(INSIGHTS, {"memories", "n", "question", "reasoning"})

RECENT_FOR_QUESTIONS = 100
#: most characters of memory text in the questions prompt (about 1,000 tokens), newest memories kept
RECENT_CHARS_FOR_QUESTIONS = 4000
TRIGGER_KINDS = {"observation", "thought", "chat"}


class ReflectionState(BaseModel):
    """The mind's reflection state (JSON-able, checkpointed)."""

    last: datetime | None = None  # game time of the last reflection
    count: int = 0  # insights stored so far


def importance_since_last(ctx: MindContext, state: ReflectionState, pending: set[str]) -> int:
    """Summed importance of scored observations, thoughts and chats since the last reflection."""
    records = ctx.memory.since(state.last, kinds=TRIGGER_KINDS) if state.last else ctx.memory.recent(
        ctx.memory.count(), kinds=TRIGGER_KINDS)
    return sum(r.importance for r in records if r.id not in pending and (state.last is None or r.created > state.last))


async def maybe_reflect(ctx: MindContext, state: ReflectionState, now: datetime, pending: set[str]) -> list[MemoryRecord]:
    """Reflect if the trigger is reached; return the stored insights (empty if not triggered)."""
    if importance_since_last(ctx, state, pending) < ctx.settings.reflection_threshold:
        return []
    return await reflect(ctx, state, now)


def _failed(ctx: MindContext, step: str, exc: LLMFailure) -> None:
    log.warning("%s: reflection step %s failed: %s", ctx.name, step, exc)
    ctx.count("reflection_failed")
    ctx.note("fallback", step=step, agent=ctx.name, reason=str(exc)[:300], action="reflection skipped")


def _newest_within(newest_first: list[MemoryRecord], chars: int) -> list[MemoryRecord]:
    """The leading records whose texts add up to at most ``chars`` characters (the first always)."""
    kept: list[MemoryRecord] = []
    total = 0
    for record in newest_first:
        total += len(record.text)
        if kept and total > chars:
            break
        kept.append(record)
    return kept


async def reflect(ctx: MindContext, state: ReflectionState, now: datetime) -> list[MemoryRecord]:
    """Focal questions, then cited insights per question; stores and returns the insights."""
    state.last = now
    recent = list(reversed(_newest_within(ctx.memory.recent(RECENT_FOR_QUESTIONS), RECENT_CHARS_FOR_QUESTIONS)))
    if not recent:
        return []
    try:
        focal: FocalQuestions = await ask(ctx, QUESTIONS, fallback=None, memories=[r.text for r in recent],
                                          n=ctx.settings.focal_questions)
    except LLMFailure as exc:
        _failed(ctx, QUESTIONS, exc)
        return []
    stored: list[MemoryRecord] = []
    for question in focal.questions[: ctx.settings.focal_questions]:
        found = [m.record for m in ctx.memory.retrieve(question, now=now, k=ctx.settings.retrieve_k)
                 if m.record.kind != "plan"]
        if not found:
            continue
        try:
            answer = await ask(ctx, INSIGHTS, fallback=None, schema=insights_schema(len(found)),
                               memories=[r.text for r in found], n=ctx.settings.insights_per_question,
                               question=question)
        except LLMFailure as exc:
            _failed(ctx, INSIGHTS, exc)
            continue
        for insight in answer.insights[: ctx.settings.insights_per_question]:
            evidence = list(dict.fromkeys(found[i - 1].id for i in insight.evidence))
            cited = [r for r in found if r.id in evidence]
            rec = ctx.memory.add("reflection", insight.text, created=now, importance=max(r.importance for r in cited),
                                 evidence=evidence, private=any(r.private for r in cited))
            stored.append(rec)
            ctx.note("reflection", question=question, insight=insight.text, evidence=evidence, id=rec.id)
    state.count += len(stored)
    ctx.count("reflections", len(stored))
    return stored
