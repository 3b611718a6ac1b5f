"""Agents' bodies on the map: choosing a reachable tile for an address, planning a walk there, and walking.

:func:`walk` and :func:`stop_walking` change agents' bodies; they are called only from
:meth:`town.world.state.World.apply` and :meth:`town.world.state.World.advance_tick`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from town.world.conversation import EventDict
from town.world.conversation import event_dict as _ev
from town.world.maps import Tile
from town.world.pathfinding import Pathfinder
from town.world.snapshot import AgentState


def plan_walk(paths: Pathfinder, rng: random.Random, agents: dict[str, AgentState], agent: AgentState,
              address: str) -> list[Tile] | None:
    """Path (start included) to a free tile for ``address``, or None when none can be reached."""
    occupied = {a.tile for a in agents.values() if a.name != agent.name}
    goal = paths.pick_target(address, agent.tile, rng, occupied)
    if goal is None:
        return None
    path = paths.path(agent.tile, goal)
    if path is None:  # pick_target only returns reachable tiles
        raise RuntimeError(f"bug: no path from {agent.tile} to {goal} picked for {address!r}")
    return path


def stop_walking(agent: AgentState) -> None:
    """Drop the rest of the agent's path (it has not arrived if it was still walking)."""
    if agent.path:
        agent.arrived = False
    agent.path = []
    agent.destination = None


def walk(agents: dict[str, AgentState], step: int,
         on_arrival: Callable[[AgentState, str, str], list[EventDict]]) -> list[EventDict]:
    """Move every walking agent not in a conversation ``step`` tiles along its path, in name order.

    An agent arriving with an object to use gets ``on_arrival(agent, object, state)``'s events right after its move.
    """
    events: list[EventDict] = []
    for name in sorted(agents):
        a = agents[name]
        if not a.path or a.conversation is not None:
            continue
        frm = a.tile
        a.tile = a.path[step - 1] if len(a.path) >= step else a.path[-1]
        a.path = a.path[step:]
        events.append(_ev("move", name, **{"from": list(frm), "to": list(a.tile), "destination": a.destination}))
        if not a.path:
            a.arrived = True
            if a.pending_use is not None:
                obj, state = a.pending_use
                a.pending_use = None
                events += on_arrival(a, obj, state)
    return events
