"""Perception: what in this tick's observation is new, stored as memories with batched importance.

- Attention: only the ``attend_limit`` nearest events are attended to (world events first).
- Novelty: an event (subject, predicate, object, description) seen within the last
  :data:`SEEN_WINDOW_MIN` game minutes is not new; the seen-set lives in :class:`PerceptionState`.
- Importance: new memories are stored at once with :data:`PROVISIONAL_IMPORTANCE` and their ids
  kept as *pending*; when ``importance_batch`` are waiting, or on a quiet tick once the oldest has
  waited ``importance_max_wait_min`` game minutes, one LLM call scores all of them (:func:`score_pending`).
  Idle objects and sleeping people are routine and get :data:`ROUTINE_IMPORTANCE` by rule, without a
  call: counted (``importance_rule``) and noted; with ``object_importance`` (1-10), so does any other state
  of an object ("the coffee machine is brewing"), at that importance, and with ``activity_importance``
  (1-10) another person's waking activity ("Maria Lopez is making coffee"); world events still go to the model. With ``importance_repeat``, an
  observation whose text this agent has had scored before (the last :data:`REMEMBERED_SCORES` texts) gets
  that score again without a call: counted (``importance_repeat``) and noted.
- Whispers (``obs.injected``) are stored as thoughts, scored like observations.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from agents.context import MindContext, ask
from agents.step_registry import register_step
from agents.schemas import ImportanceScores, importance_schema
from town.world.protocol import Observation, PerceivedEvent

log = logging.getLogger("agents.steps.perceive")

STEP = "perceive_importance"
register_step(STEP, {"memories"})

SEEN_WINDOW_MIN = 30
#: importance a memory holds until its batch is scored (pending ids are checkpointed)
PROVISIONAL_IMPORTANCE = 3
#: importance of routine observations (idle objects, sleeping people), given by rule
ROUTINE_IMPORTANCE = 1
#: most memories scored in one call
MAX_BATCH = 20
#: scored observation texts a mind remembers for ``importance_repeat`` (the oldest are forgotten first)
REMEMBERED_SCORES = 200

_ASLEEP = re.compile(r"\b(sleep|sleeping|asleep)\b", re.IGNORECASE)


class PerceptionState(BaseModel):
    """The mind's perception state (JSON-able, checkpointed)."""

    seen: dict[str, datetime] = Field(default_factory=dict)  # event key -> last time seen
    pending: list[str] = Field(default_factory=list)  # memory ids waiting for an importance score
    pending_since: datetime | None = None  # when the oldest pending memory was stored
    scores: dict[str, int] = Field(default_factory=dict)  # observation text -> its last score (importance_repeat)


def event_key(e: PerceivedEvent) -> str:
    return f"{e.subject}|{e.predicate}|{e.object}|{e.description}".lower()


def routine_rule(e: PerceivedEvent, object_importance: int = 0,
                 activity_importance: int = 0) -> tuple[str, int] | None:
    """The rule that scores ``e`` without a call (its name and the importance it gives), or None.

    ``object_importance`` (0: off) is what the ``object_state`` rule gives an object's other states,
    ``activity_importance`` (0: off) what the ``activity`` rule gives another person's waking activity.
    World events (and refused actions) always go to the model."""
    if e.kind == "object" and e.object.strip().lower() == "idle":
        return "idle_object", ROUTINE_IMPORTANCE
    if e.kind == "agent" and _ASLEEP.search(e.description):
        return "agent_sleeping", ROUTINE_IMPORTANCE
    if e.kind == "object" and object_importance:
        return "object_state", object_importance
    if e.kind == "agent" and activity_importance:
        return "activity", activity_importance
    return None


def attend(ctx: MindContext, obs: Observation) -> list[PerceivedEvent]:
    """The events this agent pays attention to: not its own, world events first, then nearest."""
    others = [e for e in obs.perceived if e.subject != ctx.name]
    others.sort(key=lambda e: (e.kind != "world", e.distance))
    return others[: ctx.settings.attend_limit]


async def perceive(ctx: MindContext, obs: Observation, state: PerceptionState) -> list[PerceivedEvent]:
    """Store what is new in ``obs`` (and whispers); return the new events."""
    window = timedelta(minutes=SEEN_WINDOW_MIN)
    state.seen = {k: t for k, t in state.seen.items() if obs.time - t < window}
    new: list[PerceivedEvent] = []
    for e in attend(ctx, obs):
        key = event_key(e)
        if key not in state.seen:
            new.append(e)
        state.seen[key] = obs.time

    routine: list[dict[str, object]] = []
    repeated: list[dict[str, object]] = []
    items: list[dict[str, object]] = []
    scored_later: list[bool] = []
    for e in new:
        rule = routine_rule(e, ctx.settings.object_importance, ctx.settings.activity_importance)
        before = state.scores.get(e.description) if ctx.settings.importance_repeat and rule is None else None
        importance = rule[1] if rule else before if before is not None else PROVISIONAL_IMPORTANCE
        items.append({"kind": "observation", "text": e.description, "created": obs.time, "importance": importance,
                      "keywords": [k for k in (e.subject, e.address) if k]})
        scored_later.append(rule is None and before is None)
        if rule:
            routine.append({"rule": rule[0], "text": e.description, "importance": rule[1]})
        elif before is not None:
            repeated.append({"rule": "repeat", "text": e.description, "importance": before})
    for text in obs.injected:
        items.append({"kind": "thought", "text": text, "created": obs.time, "importance": PROVISIONAL_IMPORTANCE})
        scored_later.append(True)
    records = ctx.memory.add_many(items)
    state.pending.extend(rec.id for rec, later in zip(records, scored_later, strict=True) if later)
    if state.pending and state.pending_since is None:
        state.pending_since = obs.time
    if routine:
        ctx.count("importance_rule", len(routine))
        ctx.note("importance", rule=True, memories=routine)
        log.debug("%s: %d routine observations scored by rule", ctx.name, len(routine))
    if repeated:
        ctx.count("importance_repeat", len(repeated))
        ctx.note("importance", rule=True, memories=repeated)
    for text in obs.injected:
        ctx.note("memory", memory_kind="thought", text=text, source="whisper")

    quiet = not new and not obs.injected
    if state.pending and (len(state.pending) >= ctx.settings.importance_batch or quiet and _waited(ctx, obs, state)):
        await score_pending(ctx, state)
    return new


def _waited(ctx: MindContext, obs: Observation, state: PerceptionState) -> bool:
    """Whether the oldest pending memory has waited ``importance_max_wait_min`` game minutes (0: score at once)."""
    since = state.pending_since or obs.time
    return (obs.time - since) >= timedelta(minutes=ctx.settings.importance_max_wait_min)


async def score_pending(ctx: MindContext, state: PerceptionState) -> int:
    """Score every pending memory (batches of at most :data:`MAX_BATCH`); return the summed importance."""
    total = 0
    while state.pending:
        ids, rest = state.pending[:MAX_BATCH], state.pending[MAX_BATCH:]
        records = ctx.memory.get(ids)
        fallback = ImportanceScores(scores=[PROVISIONAL_IMPORTANCE] * len(ids))
        result = await ask(ctx, STEP, fallback=fallback, schema=importance_schema(len(ids)),
                           memories=[r.text for r in records])
        used_fallback = result is fallback
        if used_fallback:
            ctx.count("importance_fallback", len(ids))
        ctx.memory.set_importance({rec.id: score for rec, score in zip(records, result.scores, strict=True)
                                   if score != rec.importance})
        total += sum(result.scores)
        if ctx.settings.importance_repeat and not used_fallback:
            _remember(state, {rec.text: score for rec, score in zip(records, result.scores, strict=True)
                              if rec.kind == "observation"})
        ctx.note("importance", rule=False, fallback=used_fallback, ids=ids, scores=list(result.scores))
        state.pending = rest
    state.pending_since = None
    return total


def _remember(state: PerceptionState, scores: dict[str, int]) -> None:
    """Keep the newest :data:`REMEMBERED_SCORES` observation scores (a re-scored text moves to the newest)."""
    for text, score in scores.items():
        state.scores.pop(text, None)
        state.scores[text] = score
    for text in list(state.scores)[: max(0, len(state.scores) - REMEMBERED_SCORES)]:
        del state.scores[text]
