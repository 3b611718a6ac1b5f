"""The small protocol between the world engine and the minds.

The engine (``town``) never imports the internals of ``agents``. Each tick it
hands every mind an :class:`Observation` and gets back an :class:`Action`.
Read-only questions a mind may ask mid-thought (ReAct tools such as
``look_around`` or ``town_directory``) go through :class:`WorldView`, which
cannot change the world. Only :meth:`town.world.state.World.apply` mutates the world.

Everything here is plain pydantic data so it can be logged, cached, replayed
and checkpointed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Tile = tuple[int, int]


class Persona(BaseModel):
    """Who an agent is; loaded from a scenario file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    age: int = Field(ge=0, le=130)
    innate: str = Field(description="a few traits, e.g. 'friendly, outgoing, hospitable'")
    learned: str = Field(description="a paragraph on who they are")
    currently: str = Field(description="what they are up to these days")
    lifestyle: str = Field(description="sleep and daily rhythm, e.g. 'goes to bed around 11pm, wakes up around 6am'")
    living_area: str = Field(description="address of their home arena, 'sector:arena'")
    daily_plan_hint: str = ""
    spawn: str | None = Field(default=None, description="spawn point name in the map; defaults to living_area")
    seed_memories: list[str] = Field(default_factory=list)
    private_memories: list[str] = Field(
        default_factory=list, description="memories at the start that they keep to themselves (a secret): never "
        "offered as something to tell, nor are reflections that cite them")


class PerceivedEvent(BaseModel):
    """Something an agent sees this tick (an agent's action, an object's state, a world event)."""

    subject: str  # agent name, or object address "sector:arena:object"
    predicate: str  # "is", "says", ...
    object: str
    description: str
    address: str  # where it happens, "sector:arena[:object]"
    distance: float
    kind: Literal["agent", "object", "world"] = "agent"


class NearbyAgent(BaseModel):
    name: str
    tile: Tile
    address: str
    activity: str
    in_conversation: bool = False


class ChatLine(BaseModel):
    speaker: str
    text: str
    time: datetime


class ConversationView(BaseModel):
    """An ongoing conversation this agent is part of."""

    id: str
    participants: list[str]
    lines: list[ChatLine]
    turn_of: str  # whose turn it is to speak
    max_turns: int
    ended: bool = False
    ended_by: str | None = None


class Observation(BaseModel):
    """What a mind is told at the start of a tick."""

    agent: str
    tick: int
    time: datetime  # game time
    tile: Tile
    address: str  # "sector:arena" (or "" outdoors)
    current_action: str  # description of what the agent is doing now
    action_ends_at: datetime | None  # when the current action is planned to end
    arrived: bool  # reached the destination of the last move_to
    approaching: str | None = None  # walking up to this agent to talk (the opening line is said on arrival)
    perceived: list[PerceivedEvent] = Field(default_factory=list)
    nearby: list[NearbyAgent] = Field(default_factory=list)
    conversation: ConversationView | None = None
    finished_conversations: list[ConversationView] = Field(default_factory=list)
    injected: list[str] = Field(default_factory=list)  # whispers / inner voice from the user


class Note(BaseModel):
    """Something a mind wants logged (plan, reflection, tool call, llm call, fallback...)."""

    kind: str
    data: dict[str, Any] = Field(default_factory=dict)


ActionKind = Literal["continue", "move_to", "use_object", "talk", "wait", "sleep"]


class Action(BaseModel):
    """What a mind decides to do. The world validates and applies it."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    kind: ActionKind
    description: str = Field(default="", max_length=200)  # "brewing coffee for customers"
    emoji: str = Field(default="", max_length=8)
    target: str | None = None  # address for move_to/use_object, agent name for talk
    duration_min: int = Field(default=0, ge=0, le=24 * 60)
    object_state: str | None = Field(default=None, max_length=80)  # new state for use_object
    utterance: str | None = Field(default=None, max_length=600)  # for talk
    end_conversation: bool = False
    notes: list[Note] = Field(default_factory=list)


class PlaceInfo(BaseModel):
    address: str
    kind: Literal["sector", "arena", "object"]
    description: str = ""
    opening_hours: str | None = None
    objects: list[str] = Field(default_factory=list)
    state: str | None = None
    private: bool = False  # a home (sector) or bedroom (arena): only those who live there go in


@runtime_checkable
class WorldView(Protocol):
    """Read-only questions a mind may ask about the world. Never mutates."""

    def now(self) -> datetime: ...

    def places(self) -> list[PlaceInfo]: ...  # every sector, arena and object

    def place(self, address: str) -> PlaceInfo | None: ...

    def look_around(self, agent: str) -> list[PerceivedEvent]: ...

    def travel_minutes(self, agent: str, address: str) -> float | None: ...  # None: unreachable/unknown

    def agent_names(self) -> list[str]: ...

    def news(self) -> list[str]: ...  # news board items


@runtime_checkable
class Mind(Protocol):
    """One agent's mind. ``decide`` is awaited concurrently for all agents in a tick."""

    name: str

    async def decide(self, obs: Observation) -> Action: ...

    def checkpoint(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...

    async def answer(self, question: str) -> str: ...  # interview, in character, nothing stored

    def add_thought(self, text: str, importance: int = 5) -> None: ...  # whisper


class MindFactory(Protocol):
    def __call__(self, persona: Persona, world: WorldView) -> Mind: ...
