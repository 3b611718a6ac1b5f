"""What every cognitive step gets: one agent's persona, LLM, memory, prompts, world view and settings.

A step is a plain async function ``step(ctx, ...)``; it never touches another agent's
context and never mutates the world (it returns data; the mind turns it into an Action).
Notes (plans, reflections, tool calls, fallbacks) go through :meth:`MindContext.note`
and end up in the event log via ``Action.notes``. :func:`ask` renders a step's template and asks the LLM.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.memory.retrieve import RetrievalWeights
from agents.prompts import PromptLibrary, format_time
from agents.schemas import without_reasoning
from town.world.protocol import Note, Persona, WorldView

if TYPE_CHECKING:  # concrete types live in their own modules
    from agents.llm.base import BaseLLM
    from agents.memory.stream import MemoryStream


class CognitionSettings(BaseModel):
    """Knobs for the cognitive loop (the ``[mind]`` table of town.toml and ``TOWN_MIND_*``, see
    :func:`agents.settings.cognition_settings`; defaults follow Smallville where it has one)."""

    model_config = ConfigDict(extra="forbid")

    reflection_threshold: int = Field(150, description="summed importance since the last reflection that triggers one")
    focal_questions: int = 3
    insights_per_question: int = 2
    retrieve_k: int = 8
    attend_limit: int = Field(4, ge=1, le=100, description="perceived events the mind attends to, nearest first")
    react_max_steps: int = Field(4, description="ReAct Thought/Action/Observation step cap")
    max_conversation_turns: int = Field(8, description="the [engine] value, copied in by the session")
    conversation_cooldown_min: int = Field(60, description="the [engine] value, copied in by the session")
    ignore_cooldown_min: int = Field(10, description="after deciding to ignore someone, minutes before asking again")
    # Levers of the cost/believability work, off by default until `town eval` shows what they do (docs/levers.toml)
    min_conversation_lines: int = Field(1, ge=1, description="lines said before the model may end a conversation")
    news_k: int = Field(0, ge=0, le=10, description="own news, plans and invitations shown to a speaker (0: none)")
    repeat_retries: int = Field(0, ge=0, le=3, description="a line that repeats or nearly copies an earlier line of "
                                "the conversation is asked again up to N times, the speaker told what it was about "
                                "to say; then the conversation ends (0: exact repeats and copies end it at once)")
    in_character: bool = Field(False, description="a conversation line that reads as an AI assistant's refusal or "
                               "self-description (\"I can't help with that\", \"as an AI\") is handled as a repeat: "
                               "asked again (repeat_retries), the speaker told so, then the conversation ends; "
                               "such an opening line is replaced by a plain greeting")
    answer_questions: bool = Field(False, description="a line that asks a question does not end the conversation: "
                                   "the partner answers it first (the 1.5B asks and ends in one turn)")
    company_min: int = Field(0, ge=0, le=720, description="a person awake in the same room whom the reaction step "
                             "has not been asked about for this many game minutes is offered to it again, though "
                             "nothing they do is new (people who spend an hour together talk; 0: only new sightings)")
    greet_first: bool = Field(False, description="the first time in a game day I see a person I may approach "
                              "(awake, not in a conversation, no chat with them that day), I start a conversation "
                              "without asking the reaction step (the 1.5B ignored most first meetings); of two "
                              "who meet, the one whose name sorts first greets")
    sleep_blocks: bool = Field(True, description="schedule blocks that only say to sleep, go to bed or wake up are "
                               "kept (false: dropped, the block before lasting through them; the plan's wake-up and "
                               "bed hours already put the agent to bed, and the 1.5B schedules 'go to bed' at noon)")
    schedule_rule: bool = Field(False, description="no schedule call: the daily plan's items are spread between "
                                "wake-up and bed time by rule, an item that says when it starts ('open the cafe at "
                                "8am') starting then, items that only sleep or wake left to those hours (false: the "
                                "model schedules them; the 1.5B stretches its last block to bed time)")
    importance_batch: int = 5
    importance_max_wait_min: int = Field(0, ge=0, description="game minutes a memory may wait for its importance "
                                         "score on quiet ticks, so more are scored per call (0: on the first quiet tick)")
    importance_repeat: bool = Field(False, description="an observation scored before gets its last score again "
                                    "without a call")
    # importance by rule and talk without transcripts: on since the eval in docs/evals/importance-rules-gists-749b642
    object_importance: int = Field(2, ge=0, le=10, description="importance an object's state (\"the coffee "
                                   "machine is brewing\") gets by rule, without a call (0: the model scores it)")
    activity_importance: int = Field(2, ge=0, le=10, description="importance another person's waking activity "
                                     "(\"Maria Lopez is making coffee\") gets by rule, without a call (0: the model "
                                     "scores it)")
    talk_transcripts: bool = Field(False, description="a speaker's memories of its partner include earlier "
                                   "conversations' transcripts (false: their summaries and what was told, not the "
                                   "lines themselves, which the small model repeats word for word)")
    chat_turns: bool = Field(False, description="the turn prompt shows each earlier line as its own chat message "
                             "(the partner's as the user's, the speaker's own as its earlier answers) instead of "
                             "one transcript (the 1.5B copies its partner's line from a transcript)")
    turn_topic: bool = Field(False, description="each conversation line but the last is given one thing to bring "
                             "up: the speaker's best thought or reflection for news, plans and invitations that the "
                             "conversation has not said yet and that names no partner (the 1.5B, kept talking with "
                             "nothing new to say, repeats its partner's line)")
    walk_back: bool = Field(False, description="after a conversation away from the task's place, walk back to it "
                            "(false: stay there until the task ends; the eval found fewer seeded facts held with it)")
    plan_cache: bool = True
    object_rules: bool = Field(False, description="use the object a task names without asking the model")
    react_per_tool_schema: bool = Field(False, description="the ReAct step's answer schema pairs each tool with its "
                                        "own arguments (false: any tool's arguments with any tool, which lets the "
                                        "server decode calls the tool refuses)")
    max_tasks: int = Field(6, ge=3, le=6, description="tasks an hour of the schedule (or a replanned rest of it) "
                           "is split into, at most; each task may start a ReAct loop (6: Smallville's 5-15 "
                           "minute tasks)")
    hour_tasks: bool = Field(False, description="an hour of the schedule (or a replanned rest of it) is one task, "
                             "the activity itself, at one place picked by one short call (false: split into up to "
                             "max_tasks tasks with descriptions and places, each of which may start a ReAct loop)")
    place_rule: bool = Field(False, description="with hour_tasks, an activity that names one place the agent may "
                             "go to (its arena 'library', its sector 'Hobbs Cafe') is done there, and one that only "
                             "sleeps or wakes at home, without the place call (false: every place is one call)")
    object_pick: bool = Field(False, description="a task at a place with objects that names no one is one short "
                              "call choosing which object it uses, or none (false: the ReAct loop, with its thought "
                              "and tool arguments, often over several calls)")
    react_look_first: bool = Field(False, description="the ReAct loop starts with what look_around would show "
                                   "(who and what is near, and in which state) already in the prompt, without a "
                                   "call (false: the model asks for it, a call of its own)")
    react_short_addresses: bool = Field(False, description="move_to and use_object given a short name that ends "
                                        "exactly one known address ('cafe table 1'), or exactly one near the agent, "
                                        "use that address (false: refused as unknown, the closest ones named)")
    shared_digest: bool = Field(False, description="a conversation that ended is summarised in one call for both "
                                "people (what was said, the events mentioned, how each now feels), not once "
                                "each from their own point of view (false: one call per person)")
    reasoning: bool = Field(True, description="planning, reaction and reflection answers open with a short "
                            "reasoning sentence (false: not asked for, fewer generated tokens)")
    wake_hour_default: int = 7
    retrieval: RetrievalWeights = Field(default_factory=RetrievalWeights, description="retrieval weights and decay")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "attention_limit" in data:
            raise ValueError(RENAMED_MESSAGE)
        return data


#: the template variable (and answer field) of the reasoning lever: [mind] reasoning = false drops both
REASONING = "reasoning"

#: the minds' knob had the engine's name; the old one is refused, naming the new one (before 1.0: no alias)
RENAMED_MESSAGE = ("[mind] attention_limit is now attend_limit (events the mind attends to); "
                   "[engine] attention_limit is the events delivered per tick")


@dataclass
class MindContext:
    persona: Persona
    llm: BaseLLM
    memory: MemoryStream
    prompts: PromptLibrary
    world: WorldView
    settings: CognitionSettings
    rng: random.Random
    notes: list[Note] = field(default_factory=list)
    plan_cache: dict[str, Any] = field(default_factory=dict)  # shared across agents when the mind runtime passes one
    digests: dict[str, Any] = field(default_factory=dict)  # conversation digests in flight, shared like plan_cache
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.persona.name

    def now(self) -> datetime:
        return self.world.now()

    def note(self, kind: str, **data: Any) -> None:
        self.notes.append(Note(kind=kind, data=data))

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def take_notes(self) -> list[Note]:
        out, self.notes = self.notes, []
        return out

    def may_enter(self, address: str) -> bool:
        """Whether this agent goes to ``address``: not into another's home (a private sector) nor into another's
        bedroom (a private arena) inside its own home. Unknown addresses are the caller's to report."""
        parts = address.split(":")
        home = self.persona.living_area
        sector = self.world.place(parts[0])
        if sector is not None and sector.private and parts[0] != home.split(":")[0]:
            return False
        if len(parts) >= 2:
            arena = self.world.place(":".join(parts[:2]))
            if arena is not None and arena.private and ":".join(parts[:2]) != home:
                return False
        return True


async def ask(
    ctx: MindContext,
    template_name: str,
    *,
    fallback: Any,
    schema: type[BaseModel] | None = None,
    **variables: Any,
) -> Any:
    """Render ``template_name`` for ``ctx``'s agent and ask the LLM.

    ``persona`` and ``now`` are filled from the context. ``schema`` may narrow the template's
    schema with call-specific bounds (it must be a subclass of it). ``fallback`` is what the
    caller uses when every attempt fails (BaseLLM logs and counts it); pass ``None`` to raise.
    """
    tpl = ctx.prompts.get(template_name)
    if REASONING in tpl.variables:  # the steps whose answers may open with a reasoning sentence
        variables[REASONING] = ctx.settings.reasoning
    messages = tpl.render(persona=ctx.persona, now=format_time(ctx.now()), **variables)
    if tpl.schema is None:
        if schema is not None:
            raise TypeError(f"template {template_name!r} answers text; no schema applies")
        return await ctx.llm.text(
            messages,
            step=template_name,
            agent=ctx.name,
            temperature=tpl.temperature,
            max_tokens=tpl.max_tokens,
            fallback=fallback,
        )
    use = schema or tpl.schema
    if not issubclass(use, tpl.schema):
        raise TypeError(f"schema {use.__name__} is not a {tpl.schema.__name__} (template {template_name!r})")
    if not ctx.settings.reasoning and REASONING in use.model_fields:
        use = without_reasoning(use)
    return await ctx.llm.structured(
        messages,
        use,
        step=template_name,
        agent=ctx.name,
        temperature=tpl.temperature,
        max_tokens=tpl.max_tokens,
        fallback=fallback,
    )
