"""What the world tells each agent at the start of a tick: its perception, refusals, conversation and whispers.

Read-only: nothing here changes the world. The crowd (every agent's public view, bucketed in grid cells of the
vision radius) is built once per observation round, so perceiving costs O(agents nearby) per agent.
"""

from __future__ import annotations

from town.world.perception import WorldEventView, perceive
from town.world.protocol import NearbyAgent, Observation, PerceivedEvent
from town.world.snapshot import AgentState, WorldParts

Crowd = tuple[dict[str, NearbyAgent], dict[tuple[int, int], list[str]]]


def _nearby_view(world: WorldParts, a: AgentState) -> NearbyAgent:
    return NearbyAgent(
        name=a.name,
        tile=a.tile,
        address=world.map.address_at(a.tile),
        activity=a.activity,
        in_conversation=a.conversation is not None,
    )


def crowd_of(world: WorldParts) -> Crowd:
    """Every agent's public view, and names bucketed in grid cells of the vision radius."""
    cell = max(1, world.settings.vision_radius)
    views: dict[str, NearbyAgent] = {}
    grid: dict[tuple[int, int], list[str]] = {}
    for n, o in sorted(world.agents.items()):
        views[n] = _nearby_view(world, o)
        grid.setdefault((o.tile[0] // cell, o.tile[1] // cell), []).append(n)
    return views, grid


def perceive_agent(world: WorldParts, a: AgentState, crowd: Crowd) -> tuple[list[PerceivedEvent], list[NearbyAgent]]:
    """What ``a`` perceives (events, nearby agents), looking only at the crowd's cells around it."""
    now = world.clock.now
    views, grid = crowd
    cell = max(1, world.settings.vision_radius)
    cx, cy = a.tile[0] // cell, a.tile[1] // cell
    near = sorted(n for dx in (-1, 0, 1) for dy in (-1, 0, 1) for n in grid.get((cx + dx, cy + dy), ()) if n != a.name)
    return perceive(
        world.map,
        a.name,
        a.tile,
        [views[n] for n in near],
        world.object_states,
        [WorldEventView(e.description, e.address) for e in world.world_events if e.start <= now < e.end],
        vision_radius=world.settings.vision_radius,
        attention_limit=world.settings.attention_limit,
    )


def observation(world: WorldParts, a: AgentState, crowd: Crowd) -> Observation:
    """What ``a`` is told at the start of this tick: last tick's refusals first, then what it perceives."""
    name = a.name
    tick = world.clock.tick
    perceived, nearby = perceive_agent(world, a, crowd)
    address = world.map.address_at(a.tile)
    refusals = [
        PerceivedEvent(
            subject=name,
            predicate="could not",
            object=reason,
            description=f"{name}'s last action was refused: {reason}",
            address=address,
            distance=0.0,
            kind="world",
        )
        for t, who, reason in world._refusals
        if who == name and t == tick - 1
    ]
    conv = world.conversations[a.conversation].view() if a.conversation else None
    finished = world.conversations.finished(name, tick - 1)
    return Observation(
        agent=name,
        tick=tick,
        time=world.clock.now,
        tile=a.tile,
        address=address,
        current_action=a.activity,
        action_ends_at=a.action_ends_at,
        arrived=a.arrived,
        approaching=a.approach.target if a.approach is not None else None,
        perceived=refusals + perceived,
        nearby=nearby,
        conversation=conv,
        finished_conversations=finished,
        injected=[text for t, who, text in world._whispers if who == name and t == tick],
    )
