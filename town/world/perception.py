"""What one agent sees this tick.

An agent sees what is within ``vision_radius`` tiles AND in the same area: the same arena when it is in
an arena (indoors, or a fenced place like the park), or the open town when it is in no arena (walls and
doors hide the inside of buildings). It sees other agents' current activities, objects whose state is
not ``idle``, and world events (injected by the user). World events are seen by everyone in the place
they happen (an arena, an object's arena, or a whole sector), whatever the distance; an event with the
address ``""`` is seen by everyone. Events are sorted by distance and cut to ``attention_limit``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from town.world.maps import Tile, TownMap, rect_tiles
from town.world.protocol import NearbyAgent, PerceivedEvent

IDLE = "idle"
_KIND_ORDER = {"world": 0, "agent": 1, "object": 2}


@dataclass(frozen=True)
class WorldEventView:
    description: str
    address: str


def distance(a: Tile, b: Tile) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _centre(rect: tuple[int, int, int, int]) -> tuple[float, float]:
    x, y, w, h = rect
    return x + (w - 1) / 2, y + (h - 1) / 2


def world_event_distance(town_map: TownMap, viewer: Tile, address: str) -> float | None:
    """Distance at which a viewer on ``viewer`` perceives a world event at ``address``; None if not seen."""
    if address == "":
        return 0.0
    if address in town_map.objects:
        o = town_map.objects[address]
        return distance(viewer, o.tile) if town_map.arena_at(viewer) == o.arena else None
    if address in town_map.arenas:
        a = town_map.arenas[address]
        return round(distance(viewer, _centre(a.rect)), 2) if town_map.arena_at(viewer) == address else None  # type: ignore[arg-type]
    if address in town_map.sectors:
        s = town_map.sectors[address]
        return round(distance(viewer, _centre(s.rect)), 2) if tuple(viewer) in rect_tiles(s.rect) else None  # type: ignore[arg-type]
    raise KeyError(f"world event at unknown address {address!r}")


def perceive(
    town_map: TownMap,
    viewer: str,
    tile: Tile,
    others: Iterable[NearbyAgent],
    object_states: Mapping[str, str],
    world_events: Iterable[WorldEventView],
    *,
    vision_radius: int,
    attention_limit: int,
) -> tuple[list[PerceivedEvent], list[NearbyAgent]]:
    """Perceived events (nearest first, at most ``attention_limit``) and visible agents (nearest first)."""
    area = town_map.arena_at(tile)
    # candidates as plain tuples (sort key first); PerceivedEvent objects only for the attended few
    candidates: list[tuple[float, int, str, str, dict[str, str]]] = []
    nearby: list[tuple[float, str, NearbyAgent]] = []
    for other in others:
        if other.name == viewer:
            continue
        d = distance(tile, other.tile)
        if d > vision_radius or town_map.arena_at(other.tile) != area:
            continue
        nearby.append((d, other.name, other))
        description = f"{other.name} is {other.activity}"
        candidates.append((round(d, 2), _KIND_ORDER["agent"], other.name, description, dict(
            predicate="is", object=other.activity, address=other.address, kind="agent")))
    for address, state in object_states.items():
        if state == IDLE:
            continue
        o = town_map.objects[address]
        d = distance(tile, o.tile)
        if d > vision_radius or o.arena != area:
            continue
        candidates.append((round(d, 2), _KIND_ORDER["object"], address, f"{o.name} is {state}", dict(
            predicate="is", object=state, address=address, kind="object")))
    for ev in world_events:
        d = world_event_distance(town_map, tile, ev.address)
        if d is None:
            continue
        candidates.append((round(d, 2), _KIND_ORDER["world"], ev.address or town_map.name, ev.description, dict(
            predicate="has", object=ev.description, address=ev.address, kind="world")))
    attended = heapq.nsmallest(attention_limit, candidates, key=lambda c: c[:4])
    events = [PerceivedEvent(subject=subj, description=desc, distance=d, **rest) for d, _, subj, desc, rest in attended]
    nearby.sort(key=lambda t: (t[0], t[1]))
    return events, [n for _, _, n in nearby]
