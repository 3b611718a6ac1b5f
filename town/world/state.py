"""The world: map, clock, agents' bodies, objects, world events, news. Conversations live in
:mod:`town.world.conversation` (the records) and :mod:`town.world.talking` (the rules, a mixin), walking in
:mod:`town.world.movement`, what agents are told in :mod:`town.world.observation`, the checkpoint form in
:mod:`town.world.snapshot`.

:meth:`World.apply` is the only place where an agent changes the world. It validates the action; a bad
one (unknown address, someone busy or too far, not your turn...) is refused with an ``invalid_action``
event, the agent keeps its previous action, and the refusal is shown to the agent in its next
observation. :meth:`World.advance_tick` moves agents along their paths and moves the clock on.
Everything else is read-only (:class:`town.world.protocol.WorldView`), except the user's
:meth:`World.inject_event` / :meth:`World.whisper` between ticks.

Events are returned as ``{"type": ..., "agent": name | None, "data": {...}}`` dicts; the engine logs them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from town.world.clock import SimClock
from town.world.config import EngineSettings
from town.world.conversation import Conversations, EventDict
from town.world.conversation import event_dict as _ev
from town.world.maps import Tile, TownMap
from town.world.movement import plan_walk, stop_walking, walk
from town.world.observation import Crowd, crowd_of, observation, perceive_agent
from town.world.pathfinding import Pathfinder
from town.world.perception import IDLE, distance
from town.world.protocol import (
    Action,
    NearbyAgent,
    Observation,
    PerceivedEvent,
    PlaceInfo,
)
from town.world.snapshot import AgentState, WorldEvent, restore, world_state
from town.world.talking import Refused as _Refused
from town.world.talking import Talking

if TYPE_CHECKING:
    from town.world.scenario import Scenario

DEFAULT_USE_STATE = "in use"  # an object's state when use_object gives none


class WorldError(ValueError):
    """A bad request from outside the minds (unknown agent or address in a whisper/inject/setup)."""


class World(Talking):
    """The town's state. Implements :class:`town.world.protocol.WorldView` (read-only queries)."""

    def __init__(
        self,
        town_map: TownMap,
        clock: SimClock,
        *,
        settings: EngineSettings | None = None,
        seed: int = 0,
        news: list[str] | None = None,
    ) -> None:
        self.map = town_map
        self.clock = clock
        self.settings = settings if settings is not None else EngineSettings()
        self.seed = seed
        self.rng = random.Random(seed)
        self.paths = Pathfinder(town_map)
        self.agents: dict[str, AgentState] = {}
        self.object_states: dict[str, str] = {a: o.state for a, o in sorted(town_map.objects.items())}
        self.conversations = Conversations()
        self.world_events: list[WorldEvent] = []
        self._whispers: list[tuple[int, str, str]] = []  # (tick to deliver, agent, text)
        self._refusals: list[tuple[int, str, str]] = []  # (tick refused, agent, reason)
        self._news: list[str] = list(news or [])
        # set by the engine while a tick is in flight: a whisper then waits for the next tick's observation
        self.in_tick = False

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def create(
        cls, town_map: TownMap, scenario: "Scenario", *, settings: EngineSettings | None = None, seed: int = 0
    ) -> "World":
        """A fresh world for a scenario: clock at its start, one body per persona at its spawn."""
        settings = settings if settings is not None else EngineSettings()
        spt = settings.seconds_per_tick or scenario.seconds_per_tick
        world = cls(town_map, SimClock(scenario.start, spt), settings=settings, seed=seed, news=list(scenario.news))
        for p in scenario.personas:
            world.add_agent(p.name, living_area=p.living_area, spawn=p.spawn)
        return world

    def add_agent(self, name: str, *, living_area: str, spawn: str | None = None) -> AgentState:
        """Place a new agent: at spawn point ``spawn`` (or one named after its living area), else in the living area."""
        if name in self.agents:
            raise WorldError(f"agent {name!r} already exists")
        if living_area not in self.map.arenas:
            raise WorldError(f"{name}: living_area {living_area!r} is not an arena of {self.map.path}")
        ref = spawn or living_area
        if ref in self.map.spawns:
            tile = self.map.spawns[ref]
        elif self.map.kind_of(ref) is not None:
            candidates = self.paths.candidate_tiles(ref)
            if not candidates:
                raise WorldError(f"{name}: no walkable tile in {ref!r}")
            taken = {a.tile for a in self.agents.values()}
            free = [t for t in candidates if t not in taken] or candidates
            tile = free[self.rng.randrange(len(free))]
        else:
            raise WorldError(f"{name}: spawn {ref!r} is neither a spawn point nor an address of {self.map.path}")
        state = AgentState(name=name, tile=tile, living_area=living_area)
        self.agents[name] = state
        return state

    # -- helpers -------------------------------------------------------------------------------
    def _agent(self, name: str) -> AgentState:
        try:
            return self.agents[name]
        except KeyError:
            raise WorldError(f"no agent {name!r}; agents: {', '.join(sorted(self.agents))}") from None

    def address_of(self, name: str) -> str:
        return self.map.address_at(self._agent(name).tile)

    def _minutes(self, minutes: int) -> datetime | None:
        return self.now() + timedelta(minutes=minutes) if minutes > 0 else None

    def _release_object(self, agent: AgentState, keep: str | None = None) -> list[EventDict]:
        """The agent stops using its object; it goes back to idle unless someone else still uses it."""
        obj = agent.using
        if obj is None or obj == keep:
            return []
        agent.using = None
        if any(a.using == obj for a in self.agents.values()):
            return []
        self.object_states[obj] = IDLE
        return [_ev("object_state", agent.name, address=obj, state=IDLE, by=agent.name)]

    def _begin(self, agent: AgentState, action: Action, activity: str, *, keep_object: str | None = None) -> list[EventDict]:
        """Switch the agent to a new action (after validation)."""
        events = self._release_object(agent, keep=keep_object)
        if agent.approach is not None:  # a new action ends walking up to someone
            agent.approach, agent.before_talk = None, None
        agent.kind = action.kind
        agent.activity = action.description or activity
        agent.emoji = action.emoji
        agent.target = action.target
        agent.action_ends_at = self._minutes(action.duration_min)
        agent.pending_use = None
        events.append(
            _ev(
                "action",
                agent.name,
                kind=action.kind,
                description=agent.activity,
                emoji=agent.emoji,
                target=action.target,
                duration_min=action.duration_min,
            )
        )
        return events

    def _plan_walk(self, agent: AgentState, address: str) -> list[Tile]:
        """Path (start included) to a tile for ``address``; raises _Refused when unreachable."""
        path = plan_walk(self.paths, self.rng, self.agents, agent, address)
        if path is None:
            raise _Refused(f"{address!r} cannot be reached from {agent.tile}")
        return path

    # -- applying actions ----------------------------------------------------------------------
    def apply(self, action: Action) -> list[EventDict]:
        """Validate and apply one agent's action; returns the events it caused."""
        agent = self.agents.get(action.agent)
        if agent is None:
            raise WorldError(f"action for unknown agent {action.agent!r}")
        handler = {
            "continue": self._continue,
            "move_to": self._move_to,
            "use_object": self._use_object,
            "talk": self._talk,
            "wait": self._wait,
            "sleep": self._sleep,
        }[action.kind]
        try:
            return handler(agent, action)
        except _Refused as refused:
            return self._refuse(agent.name, str(refused), action)

    def _continue(self, agent: AgentState, action: Action) -> list[EventDict]:
        return []

    def _move_to(self, agent: AgentState, action: Action) -> list[EventDict]:
        target = action.target
        if not target or self.map.kind_of(target) is None:
            raise _Refused(f"unknown address {target!r} for move_to")
        path = self._plan_walk(agent, target)
        heard = self._was_just_addressed(agent)
        events = [] if heard else self._leave_conversation(agent)
        events += self._begin(agent, action, f"going to {target}")
        agent.path = path[1:]
        agent.destination = target
        agent.arrived = not agent.path
        if heard:
            self._listen(agent)
        return events

    def _use_object(self, agent: AgentState, action: Action) -> list[EventDict]:
        target = action.target
        if not target or target not in self.map.objects:
            raise _Refused(f"unknown object {target!r} for use_object")
        state = action.object_state or DEFAULT_USE_STATE
        name = self.map.objects[target].name
        at_object = agent.tile in self.paths.candidate_tiles(target)
        path = None if at_object else self._plan_walk(agent, target)
        heard = self._was_just_addressed(agent)
        events = [] if heard else self._leave_conversation(agent)
        events += self._begin(agent, action, f"using the {name}", keep_object=target)
        if path is None:
            agent.path, agent.destination, agent.arrived = [], target, True
            events += self._set_object(agent, target, state)
        else:
            agent.path, agent.destination, agent.arrived = path[1:], target, False
            agent.pending_use = (target, state)
        if heard:
            self._listen(agent)
        return events

    def _set_object(self, agent: AgentState, address: str, state: str) -> list[EventDict]:
        agent.using = address
        if self.object_states[address] == state:
            return []
        self.object_states[address] = state
        return [_ev("object_state", agent.name, address=address, state=state, by=agent.name)]

    def _refuse(self, name: str, reason: str, action: Action) -> list[EventDict]:
        self._refusals.append((self.clock.tick, name, reason))
        return [_ev("invalid_action", name, reason=reason, action=action.model_dump(mode="json", exclude={"notes"}))]

    def _wait(self, agent: AgentState, action: Action) -> list[EventDict]:
        stop_walking(agent)
        events = self._begin(agent, action, "waiting", keep_object=agent.using)
        if self._was_just_addressed(agent):
            self._listen(agent)
        return events

    def _sleep(self, agent: AgentState, action: Action) -> list[EventDict]:
        events = self._leave_conversation(agent)
        stop_walking(agent)
        return events + self._begin(agent, action, "sleeping", keep_object=agent.using)

    # -- time ----------------------------------------------------------------------------------
    def advance_tick(self) -> list[EventDict]:
        """Walk everyone along their path, start the conversations of those who walked up to someone, time out
        silent conversations, expire events; clock +1 tick."""
        events = walk(self.agents, self.settings.tiles_per_tick, self._set_object)
        for name in sorted(self.agents):
            if self.agents[name].approach is not None:
                events += self._go_on_approaching(self.agents[name])
        tick = self.clock.tick
        for conv in self.conversations.silent(tick, self.settings.conversation_timeout_ticks):
            events += self._end_conversation(conv, None, "silence")
        # what was delivered in this tick's observations is no longer needed
        self.conversations.forget_ended_before(tick)
        self._whispers = [w for w in self._whispers if w[0] > tick]
        self._refusals = [r for r in self._refusals if r[0] >= tick]
        self.clock.advance()
        now = self.now()
        self.world_events = [e for e in self.world_events if e.end > now]
        return events

    # -- user interventions (between ticks) ----------------------------------------------------
    def inject_event(self, description: str, address: str = "", *, minutes: int = 60) -> None:
        """A world event perceived by agents at ``address`` ("" = everywhere) for ``minutes`` game minutes."""
        if not description.strip():
            raise WorldError("inject: empty event description")
        if address and self.map.kind_of(address) is None:
            raise WorldError(f"inject: unknown address {address!r} in {self.map.path}")
        if minutes <= 0:
            raise WorldError(f"inject: minutes must be positive, got {minutes}")
        now = self.now()
        self.world_events.append(WorldEvent(description.strip(), address, now, now + timedelta(minutes=minutes)))

    def whisper(self, agent: str, text: str) -> None:
        """An inner voice for ``agent``, delivered in its next observation (``Observation.injected``)."""
        self._agent(agent)
        if not text.strip():
            raise WorldError("whisper: empty text")
        self._whispers.append((self.clock.tick + (1 if self.in_tick else 0), agent, text.strip()))

    def add_news(self, text: str) -> None:
        self._news.append(text)

    # -- observation ---------------------------------------------------------------------------
    def _perceive(self, name: str, crowd: Crowd | None = None) -> tuple[list[PerceivedEvent], list[NearbyAgent]]:
        return perceive_agent(self, self._agent(name), crowd if crowd is not None else crowd_of(self))

    def observe_all(self, names: list[str]) -> dict[str, Observation]:
        """Observations for ``names`` at the start of this tick, sharing one crowd snapshot. Changes nothing."""
        crowd = crowd_of(self)
        return {name: self.observe(name, _crowd=crowd) for name in names}

    def observe(self, name: str, *, _crowd: Crowd | None = None) -> Observation:
        """What ``name`` is told at the start of this tick. Does not change the world."""
        a = self._agent(name)
        return observation(self, a, _crowd if _crowd is not None else crowd_of(self))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per agent: tile, address, activity, emoji, conversation (the ``agents`` event)."""
        return {
            name: {
                "tile": list(a.tile),
                "address": self.map.address_at(a.tile),
                "activity": a.activity,
                "emoji": a.emoji,
                "conversation": a.conversation,
            }
            for name, a in sorted(self.agents.items())
        }

    # -- WorldView -----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now

    def place(self, address: str) -> PlaceInfo | None:
        m = self.map
        if address in m.sectors:
            s = m.sectors[address]
            arenas = sorted(a for a, ar in m.arenas.items() if ar.sector == address)
            return PlaceInfo(address=address, kind="sector", description=s.description,
                             opening_hours=s.opening_hours, objects=arenas, private=s.private)
        if address in m.arenas:
            ar = m.arenas[address]
            objs = sorted(o for o, ob in m.objects.items() if ob.arena == address)
            return PlaceInfo(address=address, kind="arena", description=ar.description,
                             opening_hours=m.sectors[ar.sector].opening_hours, objects=objs, private=ar.private)
        if address in m.objects:
            o = m.objects[address]
            return PlaceInfo(address=address, kind="object", description=o.description, state=self.object_states[address])
        return None

    def places(self) -> list[PlaceInfo]:
        """Every sector (``objects`` lists its arenas), arena (its objects) and object (its state)."""
        addresses = [*sorted(self.map.sectors), *sorted(self.map.arenas), *sorted(self.map.objects)]
        return [p for p in (self.place(a) for a in addresses) if p is not None]

    def look_around(self, agent: str) -> list[PerceivedEvent]:
        """What ``agent`` perceives, then the idle objects of its arena (perception leaves those out)."""
        seen = self._perceive(agent)[0]
        tile = self._agent(agent).tile
        arena = self.map.arena_at(tile)
        listed = {e.subject for e in seen}
        idle = sorted(
            (round(distance(tile, o.tile), 2), address, o.name)
            for address, o in self.map.objects.items()
            if arena and o.arena == arena and address not in listed and self.object_states.get(address) == IDLE
        )
        return seen + [PerceivedEvent(subject=address, predicate="is", object=IDLE, description=f"{name} is {IDLE}",
                                      address=address, distance=d, kind="object") for d, address, name in idle]

    def travel_minutes(self, agent: str, address: str) -> float | None:
        if agent not in self.agents or self.map.kind_of(address) is None:
            return None
        steps = self.paths.steps_to(self.agents[agent].tile, address)
        if steps is None:
            return None
        return round(steps / self.settings.tiles_per_tick * self.clock.seconds_per_tick / 60, 1)

    def agent_names(self) -> list[str]:
        return sorted(self.agents)

    def news(self) -> list[str]:
        return list(self._news)

    # -- checkpoint ----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue this world exactly (JSON-able). The map is not included."""
        return world_state(self)

    @classmethod
    def from_state(cls, town_map: TownMap, state: dict[str, Any], *, settings: EngineSettings | None = None) -> "World":
        """Rebuild a world saved by :meth:`to_state` (``settings`` None: the saved ones)."""
        if state.get("version") != 1:
            raise WorldError(f"world state version {state.get('version')!r} is not supported (expected 1)")
        unknown = set(state["object_states"]) - set(town_map.objects)
        if unknown:
            raise WorldError(f"world state has objects not in {town_map.path}: {sorted(unknown)}")
        world = cls(
            town_map,
            SimClock.from_state(state["clock"]),
            settings=settings if settings is not None else EngineSettings(**_saved_settings(state["settings"])),
            seed=state["seed"],
            news=state["news"],
        )
        restore(world, state)
        return world


def _saved_settings(saved: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's engine settings; one saved before ``opening_line_heard`` existed resumes the rule it ran with."""
    return {"opening_line_heard": False, **saved}
