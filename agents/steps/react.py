"""Should I react to what I see? (Smallville's reaction step.)

Given this tick's perceived events, pick the nearest other agent worth considering and ask the
model whether to ignore them, start a conversation (``talk``) or change what I am doing
(``react`` with a ``new_activity``). Most ticks need no model call at all, and each such skip is
counted (``reaction_skipped`` and ``reaction_skip_<reason>``):

- no other agent is involved in the events;
- I am in a conversation or asleep;
- every agent seen is asleep, already in a conversation, we chatted within
  ``ctx.settings.conversation_cooldown_min``, or I decided to ignore them within
  ``ctx.settings.ignore_cooldown_min`` (their next small change of activity is no news).

Only new sightings reach this step, so two people who sit in the same room for an hour are asked about
each other once. With ``[mind] company_min`` (minutes, 0: off), :func:`company` also offers each person
awake in my room whom I have not been asked about for that long (``last_asked``: every model call about
them counts), after the new sightings; a call about such a person is counted (``reaction_company``). With
``[mind] greet_first``, a new sighting of an approachable person I have not chatted with this game day is a
conversation by rule, no call (:func:`greets`; counted ``reaction_greet``). Two people who see each other
for the first time that day see it on the same tick, and two opening lines would make one conversation whose
second line answers nothing: the one whose name sorts first greets, the other waits for it (a skip,
``greet_theirs``).

The last-chat time per pair lives in a small JSON-able dict (``{"A|B": iso time}``) kept by
:func:`chat_log`; :func:`record_chat` is called when a conversation starts and when it ends.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import model_validator

from agents.context import MindContext, ask
from agents.step_registry import register_step
from agents.schemas import Reaction
from agents.tools import arena_of
from town.world.protocol import NearbyAgent, Observation, PerceivedEvent

STEP = "react_decide"
LAST_CHAT_KEY = "last_chat"
LAST_IGNORED_KEY = "last_ignored"
LAST_ASKED_KEY = "last_asked"
MEMORIES_K = 5
_ASLEEP = re.compile(r"\b(asleep|sleep|sleeping|napping)\b", re.IGNORECASE)

register_step(STEP, {"obs", "other", "other_activity", "memories", "last_chat", "reasoning"})


class ReactionAnswer(Reaction):
    """A Reaction whose ``react`` choice must say what to do instead (else the answer is retried)."""

    @model_validator(mode="after")
    def _react_needs_activity(self) -> ReactionAnswer:
        if self.kind == "react" and not (self.new_activity or "").strip():
            raise ValueError("kind 'react' needs a new_activity")
        return self


def is_asleep(activity: str) -> bool:
    """Whether an activity description says the agent sleeps."""
    return bool(_ASLEEP.search(activity))


def _time_log(ctx: MindContext, key: str) -> dict[str, str]:
    """A ``pair -> ISO time`` dict kept in the plan cache (JSON-able, checkpointed with the mind's state)."""
    log: dict[str, str] = ctx.plan_cache.setdefault(key, {})
    return log


def chat_log(ctx: MindContext) -> dict[str, str]:
    """The pair -> last chat time (ISO) dict."""
    return _time_log(ctx, LAST_CHAT_KEY)


def _pair(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


def record_chat(ctx: MindContext, other: str, when: datetime) -> None:
    """Remember that this agent and ``other`` chatted at ``when`` (starts the pair cooldown)."""
    chat_log(ctx)[_pair(ctx.name, other)] = when.isoformat()


def last_chat(ctx: MindContext, other: str) -> datetime | None:
    """When this agent last chatted with ``other``, if ever."""
    stamp = chat_log(ctx).get(_pair(ctx.name, other))
    return datetime.fromisoformat(stamp) if stamp else None


def _ignored_log(ctx: MindContext) -> dict[str, str]:
    """``"me>them" -> ISO time`` of my last decision to ignore them (directed, unlike the chat log)."""
    return _time_log(ctx, LAST_IGNORED_KEY)


def _asked_log(ctx: MindContext) -> dict[str, str]:
    """``"me>them" -> ISO time`` of my last reaction call about them (directed; ``company_min``)."""
    return _time_log(ctx, LAST_ASKED_KEY)


def company(ctx: MindContext, obs: Observation, new: list[PerceivedEvent]) -> list[PerceivedEvent]:
    """``[mind] company_min``: the sightings of people awake in my room, none of them in ``new``, whom I have not
    been asked about for ``company_min`` minutes (or ever), nearest first; [] when off or outdoors."""
    room, minutes = arena_of(obs.address), ctx.settings.company_min
    if not minutes or not room:
        return []
    here = {a.name for a in obs.nearby if arena_of(a.address) == room and not is_asleep(a.activity)}
    fresh = {e.subject for e in new}
    asked = _asked_log(ctx)
    out = []
    for e in sorted(obs.perceived, key=lambda e: e.distance):
        if e.kind != "agent" or e.subject not in here or e.subject in fresh or e.subject == ctx.name:
            continue
        last = asked.get(f"{ctx.name}>{e.subject}")
        if last is None or obs.time - datetime.fromisoformat(last) >= timedelta(minutes=minutes):
            out.append(e)
    return out


def _skip(ctx: MindContext, reason: str) -> Reaction:
    ctx.count("reaction_skipped")
    ctx.count(f"reaction_skip_{reason}")
    return Reaction(reasoning=f"no model call: {reason.replace('_', ' ')}", kind="ignore")


def _why_not(ctx: MindContext, obs: Observation, event: PerceivedEvent, nearby: NearbyAgent | None) -> str | None:
    """Why this agent cannot be approached now (a skip reason), or None if it can."""
    activity = nearby.activity if nearby else event.description
    if is_asleep(activity):
        return "other_asleep"
    if nearby and nearby.in_conversation:
        return "other_in_conversation"
    last = last_chat(ctx, event.subject)
    if last is not None and obs.time - last < timedelta(minutes=ctx.settings.conversation_cooldown_min):
        return "cooldown"
    ignored = _ignored_log(ctx).get(f"{ctx.name}>{event.subject}")
    if ignored and obs.time - datetime.fromisoformat(ignored) < timedelta(minutes=ctx.settings.ignore_cooldown_min):
        return "ignored_recently"
    return None


async def decide_reaction(ctx: MindContext, obs: Observation, events: list[PerceivedEvent],
                          again: list[PerceivedEvent] | None = None) -> Reaction:
    """Ignore, talk to, or react to the nearest approachable agent in ``events``, else in ``again`` (people who
    have been around a while, :func:`company`); one model call at most."""
    others = ctx.world.agent_names()
    seen: dict[str, PerceivedEvent] = {}
    for e in [*sorted(events, key=lambda e: e.distance), *(again or [])]:
        if e.kind == "agent" and e.subject != ctx.name and e.subject in others:
            seen.setdefault(e.subject, e)
    fresh = {e.subject for e in events}
    if not seen:
        return _skip(ctx, "no_agent")
    if obs.conversation is not None and not obs.conversation.ended:
        return _skip(ctx, "in_conversation")
    if is_asleep(obs.current_action):
        return _skip(ctx, "asleep")
    nearby = {a.name: a for a in obs.nearby}
    reason = "no_agent"
    for name, event in seen.items():
        blocked = _why_not(ctx, obs, event, nearby.get(name))
        if blocked is not None:
            reason = blocked
            continue
        if name not in fresh:
            ctx.count("reaction_company")
        elif greets(ctx, obs, name):
            if name < ctx.name:  # both of us greet by rule on the same tick: the one whose name sorts first speaks
                return _skip(ctx, "greet_theirs")
            return _greet(ctx, name)
        return await _ask_model(ctx, obs, event, nearby.get(name))
    return _skip(ctx, reason)


def greets(ctx: MindContext, obs: Observation, other: str) -> bool:
    """``[mind] greet_first``: whether meeting ``other`` now is our first of the game day (no chat since midnight)."""
    if not ctx.settings.greet_first:
        return False
    last = last_chat(ctx, other)
    return last is None or last.date() != obs.time.date()


def _greet(ctx: MindContext, other: str) -> Reaction:
    """Talk to ``other`` by rule, no model call (counted ``reaction_greet``, noted as a ``react`` with ``rule``)."""
    ctx.count("reaction_greet")
    reason = f"I have not talked with {other.split()[0]} today."
    ctx.note("react", other=other, decision="talk", reasoning=reason, new_activity=None, rule="greet_first")
    return Reaction(reasoning=reason, kind="talk", target=other)


async def _ask_model(ctx: MindContext, obs: Observation, event: PerceivedEvent, nearby: NearbyAgent | None) -> Reaction:
    other = event.subject
    _asked_log(ctx)[f"{ctx.name}>{other}"] = obs.time.isoformat()
    memories = ctx.memory.retrieve(f"{other} {event.description}", now=obs.time, k=MEMORIES_K)
    last = last_chat(ctx, other)
    fallback = Reaction(reasoning="fallback: the model gave no valid reaction", kind="ignore")
    answer = await ask(
        ctx,
        STEP,
        fallback=fallback,
        schema=ReactionAnswer,
        obs=obs,
        other=other,
        other_activity=nearby.activity if nearby else event.description,
        memories=[m.record.text for m in memories],
        last_chat=last.strftime("%A %H:%M") if last else None,
    )
    if answer is fallback:
        ctx.note("fallback", step=STEP, agent=ctx.name, reason="no valid reaction", other=other)
        ctx.count("reaction_fallbacks")
        return answer
    if answer.kind == "talk":
        answer = answer.model_copy(update={"target": other})
    elif answer.kind == "ignore":
        _ignored_log(ctx)[f"{ctx.name}>{other}"] = obs.time.isoformat()
    ctx.note("react", other=other, decision=answer.kind, reasoning=answer.reasoning, new_activity=answer.new_activity)
    return answer
