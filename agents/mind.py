"""AgentMind: one agent's cognitive loop, behind the engine's ``Mind`` protocol.

Each tick :meth:`AgentMind.decide` runs, in order:

1. perceive (new events, whispers; batched importance scoring);
2. summarise conversations that just ended (``converse.summarize_and_store``);
3. asleep (before wake-up or after bed time)? go home and sleep: no LLM call;
4. new day? plan it (daily plan + schedule);
5. in a conversation: my turn -> ``converse.next_turn``; else listen (``continue``); walking up to someone
   to talk (the world holds the opening line until we are close) -> ``continue``;
6. new events with other agents (with ``[mind] company_min``, also people who have been in the room a while:
   ``react.company``) -> ``react.decide_reaction``: ``talk`` starts a conversation,
   ``react`` re-plans the rest of the current block;
7. current task over -> next task -> ``act.choose_action`` (ReAct loop); after a conversation (or walking
   up to someone) away from the task's place, with ``[mind] walk_back`` -> ``move_to`` it (``act.walk_back``,
   no call); arrived at the task's place with time left -> ``wait`` there doing the task (no call);
   otherwise ``continue``;
8. reflect when enough has happened.

Everything the steps noted, one ``llm_call`` note per LLM call and a ``fallback`` note for each
fallback not already noted by its step are attached to the returned ``Action.notes``; every
``fallback`` note is counted (``fallbacks`` and ``fallbacks_<step>``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from agents.steps import act, converse, react
from agents.context import MindContext, ask
from agents.steps.perceive import PerceptionState, perceive, score_pending
from agents.steps.plan import PlanState, next_task, plan_day, replan
from agents.step_registry import register_step
from agents.steps.reflect import ReflectionState, maybe_reflect
from agents.schemas import InterviewAnswer
from town.world.protocol import Action, Note, Observation, PerceivedEvent

INTERVIEW = "interview"
register_step(INTERVIEW, {"memories", "question"})

CHECKPOINT_VERSION = 1


class InterviewReply(BaseModel):
    """An interview answer with the memories retrieved for it; ``fallback``: the model never answered."""

    answer: str
    evidence: list[str]
    fallback: bool = False


class MindState(BaseModel):
    """All of a mind's own state; JSON-able (``model_dump(mode="json")``)."""

    perception: PerceptionState = Field(default_factory=PerceptionState)
    plan: PlanState = Field(default_factory=PlanState)
    reflection: ReflectionState = Field(default_factory=ReflectionState)
    last_kind: str | None = None  # kind of the last action this mind started (not "continue")
    last_target: str | None = None


class AgentMind:
    """Implements :class:`town.world.protocol.Mind` for one agent."""

    def __init__(self, ctx: MindContext) -> None:
        self.ctx = ctx
        self.name = ctx.name
        self.state = MindState()

    # -- the tick ---------------------------------------------------------------------------------
    async def decide(self, obs: Observation) -> Action:
        if obs.agent != self.name:
            raise ValueError(f"mind of {self.name!r} got an observation for {obs.agent!r}")
        action = await self._decide(obs)
        if action.kind != "continue":  # the last thing actually started: "continue" carries it on
            self.state.last_kind, self.state.last_target = action.kind, action.target
        action.notes = [*action.notes, *self._collect_notes()]
        return action

    async def _decide(self, obs: Observation) -> Action:
        ctx, st = self.ctx, self.state
        new = await perceive(ctx, obs, st.perception)
        for conv in obs.finished_conversations:
            await converse.summarize_and_store(ctx, conv)

        if not st.plan.awake(obs.time, ctx.settings.wake_hour_default):
            return self._sleep(obs)
        if st.plan.needs_day_plan(obs.time):
            await plan_day(ctx, st.plan, obs.time)
            if not st.plan.awake(obs.time, ctx.settings.wake_hour_default):
                return self._sleep(obs)

        if obs.conversation is not None and not obs.conversation.ended:
            if obs.conversation.turn_of == self.name:
                return await converse.next_turn(ctx, obs)
            return self._continue("listening")
        if obs.approaching is not None:  # the opening line is said when the world has us next to them
            return self._continue(f"going to talk with {obs.approaching}")

        action = await self._react(obs, new)
        if action is None:
            action = await self._work(obs)
        await self._maybe_reflect(obs.time)
        return action

    async def _react(self, obs: Observation, new: list[PerceivedEvent]) -> Action | None:
        """Talk to someone (an Action), or re-plan and return None, or ignore (None)."""
        events = [e for e in new if e.kind in ("agent", "world") and e.subject != self.name]
        again = react.company(self.ctx, obs, events)  # [mind] company_min: people who have been around a while
        if not events and not again:
            return None
        reaction = await react.decide_reaction(self.ctx, obs, events, again)  # notes ``react`` itself
        if reaction.kind == "talk" and reaction.target:
            return await converse.start_conversation(self.ctx, obs, reaction.target, reaction.reasoning)
        if reaction.kind == "react" and reaction.new_activity:
            what = "; ".join(e.description for e in events or again)
            await replan(self.ctx, self.state.plan, obs.time, event=what, new_activity=reaction.new_activity)
        return None

    async def _work(self, obs: Observation) -> Action:
        """Start the next task, settle in on arrival, or carry on."""
        plan = self.state.plan
        task = await next_task(self.ctx, plan, obs.time)
        if task is not None:
            return await act.choose_action(self.ctx, task, obs)
        if plan.task is not None and self.state.last_kind == "talk" and self.ctx.settings.walk_back:
            # a conversation may have taken us away
            back = act.walk_back(self.ctx, plan.task, obs)
            if back is not None:
                return back
        if plan.task is not None and plan.task_end is not None and obs.time < plan.task_end and \
                self.state.last_kind == "move_to" and obs.arrived:
            minutes = max(1, int((plan.task_end - obs.time).total_seconds() // 60))
            return Action(agent=self.name, kind="wait", description=plan.task.description[:200], duration_min=minutes)
        return self._continue(plan.task.description if plan.task else "")

    def _continue(self, description: str) -> Action:
        return Action(agent=self.name, kind="continue", description=description[:200])

    def _sleep(self, obs: Observation) -> Action:
        """Go home, then sleep until wake-up; never an LLM call."""
        home = self.ctx.persona.living_area
        if obs.address != home:
            if self.state.last_kind == "move_to" and self.state.last_target == home and not obs.arrived:
                return self._continue("going home to sleep")
            return Action(agent=self.name, kind="move_to", target=home, description="going home to sleep", emoji="🏠")
        if self.state.last_kind == "sleep":
            return self._continue("sleeping")
        return Action(agent=self.name, kind="sleep", target=home, description="sleeping", emoji="😴",
                      duration_min=self._minutes_to_wake(obs.time))

    def _minutes_to_wake(self, now: datetime) -> int:
        wake_hour = self.state.plan.wake_hour if self.state.plan.wake_hour is not None \
            else self.ctx.settings.wake_hour_default
        wake = now.replace(hour=wake_hour, minute=0, second=0, microsecond=0)
        if wake <= now:
            wake += timedelta(days=1)
        return max(1, min(24 * 60, int((wake - now).total_seconds() // 60)))

    async def _maybe_reflect(self, now: datetime) -> None:
        pending = self.state.perception.pending
        if pending and len(pending) >= self.ctx.settings.importance_batch:
            await score_pending(self.ctx, self.state.perception)
        await maybe_reflect(self.ctx, self.state.reflection, now, set(self.state.perception.pending))

    def _collect_notes(self) -> list[Note]:
        notes = self.ctx.take_notes()
        noted = Counter(n.data.get("step") for n in notes if n.kind == "fallback")
        for rec in self.ctx.llm.drain_records(self.name):
            notes.append(Note(kind="llm_call", data={
                "step": rec.step, "agent": rec.agent, "model": rec.model, "prompt_tokens": rec.prompt_tokens,
                "completion_tokens": rec.completion_tokens, "cached": rec.cached, "latency_s": rec.latency_s,
                "attempts": rec.attempts, "fallback": rec.fallback, **rec.server_fields(),
                **({"cascade": rec.cascade} if rec.cascade else {})}))
            if rec.cascade:  # the cascade's figures by step, beside the fallbacks: "small" or "escalated"
                kind = "cascade_small_answers" if rec.cascade == "small" else "cascade_escalations"
                self.ctx.count(kind)
                self.ctx.count(f"{kind}_{rec.step}")
            if rec.fallback:
                if noted[rec.step] > 0:
                    noted[rec.step] -= 1
                else:
                    notes.append(Note(kind="fallback", data={"step": rec.step, "agent": rec.agent, "reason": rec.error}))
        for n in notes:  # every logged fallback is counted: the gateway's and the steps' own (a ReAct loop that gave up)
            if n.kind == "fallback":
                self.ctx.count("fallbacks")
                self.ctx.count(f"fallbacks_{n.data.get('step', 'unknown')}")
        return notes

    # -- checkpoint -------------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "state": self.state.model_dump(mode="json"),
            "counters": dict(self.ctx.counters),
            "plan_cache": dict(self.ctx.plan_cache),
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"mind checkpoint of {self.name!r}: version {state.get('version')!r}, "
                             f"expected {CHECKPOINT_VERSION}")
        self.state = MindState.model_validate(state["state"])
        self.ctx.counters = dict(state["counters"])
        self.ctx.plan_cache.update(state["plan_cache"])

    # -- interview and whispers -------------------------------------------------------------------
    async def answer(self, question: str) -> str:
        """Answer in character from retrieved memories; stores nothing (retrieval does not touch)."""
        return (await self.answer_with_evidence(question)).answer

    async def answer_with_evidence(self, question: str, *, kinds: set[str] | None = None) -> InterviewReply:
        """:meth:`answer` plus the memories it was given; ``kinds`` limits what retrieval may see
        (the believability ablations hide reflections, plans, observations). Read-only on the run."""
        ctx = self.ctx
        found = ctx.memory.retrieve(question, now=ctx.now(), k=ctx.settings.retrieve_k, touch=False, kinds=kinds)
        evidence = [m.record.text for m in found]
        fallback = InterviewAnswer(answer="(no answer: the model failed to reply; see the log)")
        reply = await ask(ctx, INTERVIEW, fallback=fallback, memories=evidence, question=question)
        if reply is fallback:
            ctx.count("interview_fallback")
        return InterviewReply(answer=reply.answer, evidence=evidence, fallback=reply is fallback)

    def add_thought(self, text: str, importance: int = 5) -> None:
        """A whisper: stored at once as a thought with the given importance."""
        rec = self.ctx.memory.add("thought", text, created=self.ctx.now(), importance=importance)
        self.ctx.note("memory", memory_kind="thought", text=text, id=rec.id, importance=importance, source="whisper")
