"""Planning: the day in broad strokes, an hourly schedule, and 5-15 minute tasks at places.

- :func:`plan_day` (two calls a day): wake-up/bed hour + 5-8 items from persona and retrieved
  memories (``plan_daily``), then schedule blocks between wake-up and bed time (``plan_schedule``).
  Both are stored as ``plan`` memories and noted (``plan``, ``schedule``).
- :func:`next_task`: when the current task is over, the next one; the current block is split
  (at most :data:`CHUNK_MIN` minutes at a time) into tasks by :func:`decompose`, each at an
  arena address chosen from ``ctx.world.places()`` (the answer schema only admits those).
- Plan cache (after Affordable Generative Agents): a decomposition is kept in ``ctx.plan_cache``
  under (persona, normalised activity, minutes) and reused when the same activity recurs; each
  reuse counts ``plan_cache_saved_calls`` and notes ``plan_cache_hit``.
- :func:`replan`: after a reaction, the rest of the current block is planned again.
- ``[mind] hour_tasks``: no decomposition; each chunk (and a replanned rest) is one task, the activity
  itself, at a place picked by one short call (``plan_place``, an enum of the addresses).
  With ``[mind] place_rule``, an activity that names one place (:func:`named_place`) goes there without
  the call (counted ``place_rule_saved_calls``, noted ``place_rule``).

Schedule rules (deterministic, documented in :mod:`agents.steps.schedule_rules`): the model's blocks last until
the next one starts, the last one until bed time. With ``[mind] sleep_blocks = false``, blocks that say nothing but
to sleep, go to bed or wake up are dropped first (counted ``schedule_sleep_blocks_dropped``). With
``[mind] schedule_rule``, there is no schedule call: the plan's items are spread between wake-up and bed time by
rule (counted ``schedule_rule_saved_calls``; the ``schedule`` note says ``rule``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from agents.context import MindContext, ask
from agents.memory.embeddings import default_embedder
from agents.step_registry import register_step
from agents.schemas import DailyPlan, PlacePick, PlannedTask, TaskDecomposition
from agents.schemas import daily_plan_schema, decomposition_schema, place_schema, schedule_schema
from agents.steps.schedule_rules import Block, build_blocks, drop_sleep_blocks, fallback_schedule, only_sleep_or_wake
from agents.steps.schedule_rules import spread_items

DAILY, SCHEDULE, DECOMPOSE, REPLAN = "plan_daily", "plan_schedule", "plan_decompose", "plan_replan"
PLACE = "plan_place"
register_step(DAILY, {"memories", "reasoning"})
register_step(SCHEDULE, {"plan_items", "wake_hour", "bed_hour", "reasoning"})
register_step(DECOMPOSE, {"activity", "minutes", "places", "reasoning", "max_tasks"})
register_step(REPLAN, {"activity", "event", "new_activity", "minutes", "places", "reasoning", "max_tasks"})
register_step(PLACE, {"activity", "event", "minutes", "places"})

#: at most this many minutes of a block are decomposed at once
CHUNK_MIN = 60
#: importance of the agent's own plans (a rule: plans matter, but less than events)
PLAN_IMPORTANCE = 5
DEFAULT_BED_HOUR = 22


class PlanState(BaseModel):
    """The mind's plan state (JSON-able, checkpointed)."""

    day: date | None = None
    wake_hour: int | None = None
    bed_hour: int | None = None
    items: list[str] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    block_index: int | None = None  # the block the queued tasks belong to
    tasks: list[PlannedTask] = Field(default_factory=list)  # queued tasks of that block
    task: PlannedTask | None = None  # the current task
    task_start: datetime | None = None
    task_end: datetime | None = None

    def awake(self, now: datetime, default_wake: int) -> bool:
        """Whether the agent should be up at ``now`` (before today's plan: from the default wake hour)."""
        if self.day != now.date():
            return now.hour >= (self.wake_hour if self.wake_hour is not None else default_wake)
        assert self.wake_hour is not None and self.bed_hour is not None
        return self.wake_hour <= now.hour < self.bed_hour

    def needs_day_plan(self, now: datetime) -> bool:
        return self.day != now.date()

    def current_block(self, now: datetime) -> int | None:
        for i, b in enumerate(self.blocks):
            if b.start <= now < b.end:
                return i
        return None


def normalise(text: str) -> str:
    """Task text as a cache key: lower case, letters and digits, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def arena_places(ctx: MindContext) -> dict[str, str]:
    """Arena address -> one-line description, from the world: the arenas this agent may go to."""
    return {p.address: p.description for p in ctx.world.places() if p.kind == "arena" and ctx.may_enter(p.address)}


def _place_lines(ctx: MindContext, places: dict[str, str], activity: str) -> list[str]:
    """Place lines for a prompt, most relevant to ``activity`` first (small models favour the first options).

    Relevance is the cosine between the activity and each "address: description" line (the memory
    embedder, deterministic); the agent's home is marked.
    """
    lines = {a: (f"{a}: {d}" if d else a) for a, d in places.items()}
    order = sorted(lines)
    if activity.strip() and order:
        vectors = default_embedder().embed_array([activity, *(lines[a] for a in order)])
        sims = vectors[1:] @ vectors[0]
        order = [a for _, a in sorted(zip((-float(x) for x in sims), order))]
    home = ctx.persona.living_area
    return [lines[a] + (" (your home)" if a == home else "") for a in order]


def _says(phrase: str, text: str) -> bool:
    """Whether normalised ``text`` holds ``phrase`` as whole words."""
    return f" {normalise(phrase)} " in f" {text} "


def named_place(activity: str, addresses: list[str], home: str) -> str | None:
    """``[mind] place_rule``: the one arena address an activity names, or None to ask the model.

    One that only sleeps or wakes is at ``home``. Otherwise the arenas whose sector ("Hobbs Cafe") or own name
    ("library") the activity says, the longest sector winning ("Oak Hill College dorm" over "Oak Hill College"):
    those named both ways, else either way; several left narrow to the home's sector; "home" alone is home.
    """
    if only_sleep_or_wake(activity):
        return home if home in addresses else None
    text = normalise(activity)
    parts = {a: a.split(":", 1) for a in addresses if ":" in a}
    sectors = {s for s, _ in parts.values() if _says(s, text)}
    sectors = {s for s in sectors if not any(s != o and _says(s, normalise(o)) for o in sectors)}
    by_sector = {a for a, (s, _) in parts.items() if s in sectors}
    by_name = {a for a, (_, n) in parts.items() if _says(n, text)}
    found = (by_sector & by_name) or (by_sector | by_name)
    if len(found) > 1:
        found = {a for a in found if parts[a][0] == home.split(":", 1)[0]}
    if not found and _says("home", text) and home in addresses:
        return home
    return next(iter(found)) if len(found) == 1 else None


def fit_durations(tasks: list[PlannedTask], minutes: int) -> list[PlannedTask]:
    """Stretch or shrink task durations proportionally so they fill ``minutes`` (a rule, not a model call).

    Small models often return tasks adding up to less (or more) than asked; without this the same
    chunk would be decomposed again within the hour. Each task keeps 5..60 minutes; rounding goes
    to the last task.
    """
    total = sum(t.duration_min for t in tasks)
    if not tasks or total == minutes:
        return tasks
    out, used = [], 0
    for i, t in enumerate(tasks):
        if i == len(tasks) - 1:
            d = minutes - used
        else:
            d = round(t.duration_min * minutes / total)
        d = max(5, min(60, d))
        used += d
        out.append(t.model_copy(update={"duration_min": d}))
    return out


def _memory_texts(ctx: MindContext, query: str, now: datetime) -> list[str]:
    return [m.record.text for m in ctx.memory.retrieve(query, now=now, k=ctx.settings.retrieve_k)]


# -- the day --------------------------------------------------------------------------------------
def _fallback_day(ctx: MindContext, wake: tuple[int, int], bed: tuple[int, int]) -> DailyPlan:
    p = ctx.persona
    return DailyPlan(
        reasoning="fallback: no valid plan from the model",
        wake_hour=min(max(ctx.settings.wake_hour_default, wake[0]), wake[1]),
        bed_hour=min(max(DEFAULT_BED_HOUR, bed[0]), bed[1]),
        items=["get ready at home", f"spend the day on: {p.currently}"[:120], "relax at home in the evening"],
    )


_HOUR = r"(\d{1,2})(?::00)?\s*(am|pm)"


def lifestyle_hours(lifestyle: str) -> tuple[int | None, int | None]:
    """Wake-up and bed hours stated in a persona's lifestyle ("wakes up around 6am", "bed around 11pm")."""

    def hour(m: re.Match[str] | None) -> int | None:
        if m is None:
            return None
        h = int(m.group(1)) % 12
        return h + 12 if m.group(2).lower() == "pm" else h

    text = lifestyle.lower()
    wake = hour(re.search(r"wakes? up[^.,;]*?" + _HOUR, text))
    bed = hour(re.search(r"(?:bed|sleep)[^.,;]*?" + _HOUR, text))
    return wake, bed


def day_bounds(ctx: MindContext) -> tuple[tuple[int, int], tuple[int, int]]:
    """Wake-up and bed hour ranges: within an hour of what the persona states, if it does.

    Small models ignore "Daily rhythm" and pick odd hours; with the bounds in the JSON schema the
    server's constrained decoding keeps them honest, and a violating answer is retried like any other.
    """
    wake, bed = lifestyle_hours(ctx.persona.lifestyle)
    w = (max(3, wake - 1), min(12, wake + 1)) if wake is not None and 3 <= wake <= 12 else (3, 12)
    b = (max(18, bed - 1), min(23, bed + 1)) if bed is not None and 18 <= bed <= 23 else (18, 23)
    return w, b


async def _day_blocks(ctx: MindContext, day: DailyPlan, today: date) -> tuple[list[Block], dict[str, object]]:
    """Today's blocks from the plan (by rule, or by the schedule call), and what the ``schedule`` note adds."""
    if ctx.settings.schedule_rule:
        blocks, dropped = spread_items(today, list(day.items), day.wake_hour, day.bed_hour)
        ctx.count("schedule_rule_saved_calls")
        return blocks, {"fallback": False, "rule": True, **({"dropped": dropped} if dropped else {})}
    sched_fallback = fallback_schedule(day)
    sched = await ask(ctx, SCHEDULE, fallback=sched_fallback, schema=schedule_schema(day.wake_hour, day.bed_hour),
                      plan_items=day.items, wake_hour=day.wake_hour, bed_hour=day.bed_hour)
    fell_back = sched is sched_fallback
    if fell_back:
        ctx.count("schedule_fallback")
    dropped: list[str] = []
    if not ctx.settings.sleep_blocks:
        sched, dropped = drop_sleep_blocks(sched)
        if dropped:
            ctx.count("schedule_sleep_blocks_dropped", len(dropped))
    blocks = build_blocks(today, sched, day.wake_hour, day.bed_hour)
    return blocks, {"fallback": fell_back, **({"dropped": dropped} if dropped else {})}


async def plan_day(ctx: MindContext, state: PlanState, now: datetime) -> None:
    """Make today's plan and schedule (two LLM calls, one with ``schedule_rule``); resets the task queue."""
    memories = _memory_texts(ctx, f"{ctx.name}'s plans, work and routine", now)
    wake, bed = day_bounds(ctx)
    fallback = _fallback_day(ctx, wake, bed)
    day = await ask(ctx, DAILY, fallback=fallback, schema=daily_plan_schema(wake, bed), memories=memories)
    if day is fallback:
        ctx.count("plan_fallback")
    blocks, note = await _day_blocks(ctx, day, now.date())
    state.day, state.wake_hour, state.bed_hour, state.items = now.date(), day.wake_hour, day.bed_hour, list(day.items)
    state.blocks, state.block_index, state.tasks = blocks, None, []
    state.task = state.task_start = state.task_end = None

    plan_text = f"My plan for {now:%A %B %d}: wake up at {day.wake_hour}:00, " + "; ".join(day.items) + \
        f"; go to bed at {day.bed_hour}:00."
    sched_text = "My schedule today: " + "; ".join(f"{b.start:%H:%M}-{b.end:%H:%M} {b.activity}" for b in blocks)
    ctx.memory.add_many([
        {"kind": "plan", "text": plan_text[:2000], "created": now, "importance": PLAN_IMPORTANCE},
        {"kind": "plan", "text": sched_text[:2000], "created": now, "importance": PLAN_IMPORTANCE},
    ])
    ctx.count("importance_rule", 2)
    ctx.note("plan", day=now.date().isoformat(), wake_hour=day.wake_hour, bed_hour=day.bed_hour,
             items=list(day.items), reasoning=day.reasoning, fallback=day is fallback)
    ctx.note("schedule", blocks=[{"start": b.start.strftime("%H:%M"), "end": b.end.strftime("%H:%M"),
                                  "activity": b.activity} for b in blocks], **note)


# -- tasks ----------------------------------------------------------------------------------------
def _one_task(activity: str, minutes: int, address: str) -> PlannedTask:
    """``activity`` itself as one task of ``minutes`` (kept within a task's 5..60) at ``address``."""
    return PlannedTask(description=activity[:80], duration_min=max(5, min(60, minutes)), address=address)


def _cache_key(ctx: MindContext, activity: str, minutes: int) -> str:
    shape = "|hour" if ctx.settings.hour_tasks else ""
    return f"plan:{ctx.name}|{normalise(activity)}|{minutes}{shape}"


async def _hour_task(ctx: MindContext, activity: str, minutes: int,
                     event: str | None = None) -> tuple[list[PlannedTask], bool]:
    """``[mind] hour_tasks``: the activity itself as one task, at a place picked by one short call."""
    places = arena_places(ctx)
    named = named_place(activity, list(places), ctx.persona.living_area) if ctx.settings.place_rule else None
    if named is not None:
        ctx.count("place_rule_saved_calls")
        ctx.note("place_rule", activity=activity, address=named)
        return [_one_task(activity, minutes, named)], False
    fallback = PlacePick(address=ctx.persona.living_area)
    result = await ask(ctx, PLACE, fallback=fallback, schema=place_schema(tuple(sorted(places))), activity=activity,
                       minutes=minutes, places=_place_lines(ctx, places, activity), event=event)
    return [_one_task(activity, minutes, result.address)], result is fallback


async def _ask_tasks(ctx: MindContext, step: str, minutes: int, *, place_for: str, fallback_reason: str,
                     **variables: str) -> tuple[list[PlannedTask], bool]:
    """Up to ``max_tasks`` tasks at places for ``minutes`` by one call (Smallville's decomposition), durations fitted;
    ``place_for`` orders the places and names the fallback task (at home)."""
    places = arena_places(ctx)
    home = _one_task(place_for, minutes, ctx.persona.living_area)
    fallback = TaskDecomposition(reasoning=f"fallback: {fallback_reason}", tasks=[home])
    result = await ask(
        ctx,
        step,
        fallback=fallback,
        schema=decomposition_schema(tuple(sorted(places)), ctx.settings.max_tasks),
        max_tasks=ctx.settings.max_tasks,
        minutes=minutes,
        places=_place_lines(ctx, places, place_for),
        **variables,
    )
    tasks = fit_durations([PlannedTask.model_validate(t.model_dump()) for t in result.tasks], minutes)
    return tasks, result is fallback


async def _split(ctx: MindContext, activity: str, minutes: int) -> tuple[list[PlannedTask], bool]:
    """The chunk of ``activity`` split into tasks at places."""
    return await _ask_tasks(ctx, DECOMPOSE, minutes, place_for=activity, fallback_reason="stay home", activity=activity)


async def decompose(ctx: MindContext, activity: str, minutes: int) -> list[PlannedTask]:
    """Tasks for ``minutes`` of ``activity`` (plan cache first, then one LLM call)."""
    key = _cache_key(ctx, activity, minutes)
    if ctx.settings.plan_cache and key in ctx.plan_cache:
        ctx.count("plan_cache_saved_calls")
        ctx.note("plan_cache_hit", activity=activity, minutes=minutes)
        return [PlannedTask.model_validate(t) for t in ctx.plan_cache[key]]
    split = _hour_task if ctx.settings.hour_tasks else _split
    tasks, failed = await split(ctx, activity, minutes)
    if failed:
        ctx.count("decompose_fallback")
    elif ctx.settings.plan_cache:
        ctx.plan_cache[key] = [t.model_dump() for t in tasks]
    ctx.note("decompose", activity=activity, minutes=minutes, fallback=failed, tasks=[t.model_dump() for t in tasks])
    return tasks


def _start(state: PlanState, task: PlannedTask, now: datetime, limit: datetime) -> PlannedTask:
    state.task, state.task_start = task, now
    state.task_end = min(now + timedelta(minutes=task.duration_min), limit)
    return task


async def next_task(ctx: MindContext, state: PlanState, now: datetime) -> PlannedTask | None:
    """The task to start now, or None while the current one runs (or outside every block)."""
    bi = state.current_block(now)
    if bi is None:
        return None
    block = state.blocks[bi]
    if state.task is not None and state.block_index == bi and state.task_end is not None and now < state.task_end:
        return None
    if bi != state.block_index:
        state.block_index, state.tasks = bi, []
    if not state.tasks:
        left = int((block.end - now).total_seconds() // 60)
        if left < 5:  # too short for a task: keep on with the current one
            return None
        state.tasks = await decompose(ctx, block.activity, min(CHUNK_MIN, left))
    return _start(state, state.tasks.pop(0), now, block.end)


async def replan(ctx: MindContext, state: PlanState, now: datetime, *, event: str, new_activity: str) -> None:
    """Plan the rest of the current block (at most :data:`CHUNK_MIN` minutes) around ``new_activity``."""
    bi = state.current_block(now)
    if bi is None:
        return
    block = state.blocks[bi]
    minutes = max(5, min(CHUNK_MIN, int((block.end - now).total_seconds() // 60)))
    if ctx.settings.hour_tasks:
        tasks, failed = await _hour_task(ctx, new_activity, minutes, event=event)
    else:
        tasks, failed = await _ask_tasks(ctx, REPLAN, minutes, place_for=new_activity, fallback_reason="do it at home",
                                         activity=block.activity, event=event, new_activity=new_activity)
    if failed:
        ctx.count("replan_fallback")
    state.block_index = bi
    state.tasks = tasks
    state.task = state.task_start = state.task_end = None
    ctx.note("plan", replan=True, event=event, new_activity=new_activity, fallback=failed,
             tasks=[t.model_dump() for t in state.tasks])

