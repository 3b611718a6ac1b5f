"""The records a world is made of (an agent's body, a world event) and the world's checkpoint state.

:func:`world_state` writes everything needed to continue a world exactly (JSON-able, keys in a fixed order);
:func:`restore` fills a freshly built world from it. Only :meth:`town.world.state.World.from_state` calls it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from town.world.clock import SimClock
from town.world.config import EngineSettings
from town.world.conversation import Conversations
from town.world.maps import Tile, TownMap
from town.world.protocol import Action


@dataclass
class AgentState:
    name: str
    tile: Tile
    living_area: str
    kind: str = "wait"  # kind of the action being carried out
    activity: str = "idle"
    emoji: str = ""
    target: str | None = None
    action_ends_at: datetime | None = None
    path: list[Tile] = field(default_factory=list)  # tiles still to walk, next first
    destination: str | None = None
    arrived: bool = True
    conversation: str | None = None
    using: str | None = None  # object whose state this agent set
    pending_use: tuple[str, str] | None = None  # (object, state) to set on arrival
    before_talk: tuple[str, str, str] | None = None  # (kind, activity, emoji) to restore after a conversation
    # walking up to someone to talk: the talk action (its opening line held) and the last tick to reach them
    approach: Action | None = None
    approach_until: int = 0

    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tile": list(self.tile),
            "living_area": self.living_area,
            "kind": self.kind,
            "activity": self.activity,
            "emoji": self.emoji,
            "target": self.target,
            "action_ends_at": self.action_ends_at.isoformat() if self.action_ends_at else None,
            "path": [list(t) for t in self.path],
            "destination": self.destination,
            "arrived": self.arrived,
            "conversation": self.conversation,
            "using": self.using,
            "pending_use": list(self.pending_use) if self.pending_use else None,
            "before_talk": list(self.before_talk) if self.before_talk else None,
            "approach": self.approach.model_dump(mode="json", exclude={"notes"}) if self.approach else None,
            "approach_until": self.approach_until,
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> "AgentState":
        return cls(
            name=s["name"],
            tile=(s["tile"][0], s["tile"][1]),
            living_area=s["living_area"],
            kind=s["kind"],
            activity=s["activity"],
            emoji=s["emoji"],
            target=s["target"],
            action_ends_at=datetime.fromisoformat(s["action_ends_at"]) if s["action_ends_at"] else None,
            path=[(t[0], t[1]) for t in s["path"]],
            destination=s["destination"],
            arrived=s["arrived"],
            conversation=s["conversation"],
            using=s["using"],
            pending_use=(s["pending_use"][0], s["pending_use"][1]) if s["pending_use"] else None,
            before_talk=tuple(s["before_talk"]) if s["before_talk"] else None,  # type: ignore[arg-type]
            # absent in checkpoints written before agents walked up to talk
            approach=Action.model_validate(s["approach"]) if s.get("approach") else None,
            approach_until=s.get("approach_until", 0),
        )


@dataclass
class WorldEvent:
    description: str
    address: str
    start: datetime
    end: datetime


class WorldParts(Protocol):
    """What of a :class:`town.world.state.World` its checkpoint holds."""

    map: TownMap
    seed: int
    settings: EngineSettings
    clock: SimClock
    rng: random.Random
    agents: dict[str, AgentState]
    object_states: dict[str, str]
    conversations: Conversations
    world_events: list[WorldEvent]
    _whispers: list[tuple[int, str, str]]
    _refusals: list[tuple[int, str, str]]
    _news: list[str]


def world_state(world: WorldParts) -> dict[str, Any]:
    """Everything needed to continue ``world`` exactly (JSON-able). The map is not included."""
    version, internal, gauss = world.rng.getstate()
    return {
        "version": 1,
        "map": str(world.map.path),
        "seed": world.seed,
        "settings": world.settings.model_dump(),
        "clock": world.clock.to_state(),
        "rng": [version, list(internal), gauss],
        "agents": [a.to_state() for _, a in sorted(world.agents.items())],
        "object_states": dict(world.object_states),
        **world.conversations.to_state(),  # conversations, conversation_count, last_talk
        "world_events": [
            {"description": e.description, "address": e.address, "start": e.start.isoformat(), "end": e.end.isoformat()}
            for e in world.world_events
        ],
        "whispers": [list(w) for w in world._whispers],
        "refusals": [list(r) for r in world._refusals],
        "news": list(world._news),
    }


def restore(world: WorldParts, state: dict[str, Any]) -> None:
    """Fill a world just built from ``state``'s map, clock, settings, seed and news with the rest of ``state``.

    Mutates ``world``: called only by ``World.from_state``, before anyone else sees the world.
    """
    version, internal, gauss = state["rng"]
    world.rng.setstate((version, tuple(internal), gauss))
    world.agents = {s["name"]: AgentState.from_state(s) for s in state["agents"]}
    world.object_states.update(state["object_states"])
    world.conversations = Conversations.from_state(state)
    world.world_events = [
        WorldEvent(e["description"], e["address"], datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"]))
        for e in state["world_events"]
    ]
    world._whispers = [(t, a, x) for t, a, x in state["whispers"]]
    world._refusals = [(t, a, x) for t, a, x in state["refusals"]]
