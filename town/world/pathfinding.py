"""Walking on the map: a grid graph of walkable tiles, cached shortest paths, target tiles for addresses."""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Collection

import networkx as nx

from town.world.maps import Tile, TownMap, rect_tiles

NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def manhattan(a: Tile, b: Tile) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


class Pathfinder:
    """Shortest paths (A*, 4-connected) between walkable tiles of one map, with an LRU cache."""

    def __init__(self, town_map: TownMap, *, cache_size: int = 4096) -> None:
        self.map = town_map
        g = nx.Graph()
        for y in range(town_map.height):
            for x in range(town_map.width):
                if town_map.walkable((x, y)):
                    g.add_node((x, y))
                    for dx, dy in ((1, 0), (0, 1)):
                        n = (x + dx, y + dy)
                        if town_map.walkable(n):
                            g.add_edge((x, y), n)
        self.graph = g
        self._component: dict[Tile, int] = {}
        for i, comp in enumerate(sorted(nx.connected_components(g), key=min)):
            for t in comp:
                self._component[t] = i
        self._cache: OrderedDict[tuple[Tile, Tile], list[Tile] | None] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0

    def path(self, start: Tile, goal: Tile) -> list[Tile] | None:
        """Tiles from ``start`` to ``goal`` inclusive, or None when ``goal`` cannot be reached."""
        start, goal = tuple(start), tuple(goal)  # type: ignore[assignment]
        key = (start, goal)
        if key in self._cache:
            self._cache.move_to_end(key)
            self.cache_hits += 1
            found = self._cache[key]
            return list(found) if found is not None else None
        self.cache_misses += 1
        if not self.reachable(start, goal):
            found = None
        else:
            try:
                found = nx.astar_path(self.graph, start, goal, heuristic=manhattan)
            except nx.NetworkXNoPath:
                found = None
        self._cache[key] = found
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return list(found) if found is not None else None

    def reachable(self, start: Tile, goal: Tile) -> bool:
        """Whether both tiles are walkable and connected (O(1))."""
        a = self._component.get(tuple(start))  # type: ignore[arg-type]
        return a is not None and a == self._component.get(tuple(goal))  # type: ignore[arg-type]

    def nearest_walkable(self, tile: Tile, *, within: Collection[Tile] | None = None) -> Tile | None:
        """The walkable tile closest to ``tile`` (breadth-first over the whole grid), optionally only among ``within``."""
        tile = tuple(tile)  # type: ignore[assignment]
        if not self.map.in_bounds(tile):
            raise ValueError(f"tile {tile} is outside the {self.map.width}x{self.map.height} map")
        seen = {tile}
        queue = deque([tile])
        while queue:
            t = queue.popleft()
            if t in self.graph and (within is None or t in within):
                return t
            for dx, dy in NEIGHBOURS:
                n = (t[0] + dx, t[1] + dy)
                if n not in seen and self.map.in_bounds(n):
                    seen.add(n)
                    queue.append(n)
        return None

    def candidate_tiles(self, address: str) -> list[Tile]:
        """Walkable tiles where an agent can be 'at' an address, best first (for an object: on or next to it)."""
        m = self.map
        if address in m.objects:
            o = m.objects[address]
            arena_tiles = m.arenas[o.arena].tiles
            ox, oy = o.tile
            ring = sorted(
                ((ox + dx, oy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)),
                key=lambda t: (abs(t[0] - ox) + abs(t[1] - oy), t[1], t[0]),
            )
            near = [t for t in ring if t in self.graph and t in arena_tiles]
            if near:
                return near
            fallback = self.nearest_walkable(o.tile, within=arena_tiles)
            return [fallback] if fallback is not None else []
        if address in m.arenas:
            return sorted(t for t in m.arenas[address].tiles if t in self.graph)
        if address in m.sectors:
            return sorted(t for t in rect_tiles(m.sectors[address].rect) if t in self.graph)
        raise KeyError(address)

    def pick_target(
        self, address: str, start: Tile, rng: random.Random, occupied: Collection[Tile] = ()
    ) -> Tile | None:
        """A reachable tile for ``address``: a free one if any (random among the free, from ``rng``).

        For an object the closest free tile next to it is taken (no randomness). None when no tile of
        the address can be reached from ``start``. Raises KeyError for an unknown address.
        """
        candidates = [t for t in self.candidate_tiles(address) if self.reachable(start, t)]
        if not candidates:
            return None
        if tuple(start) in candidates:
            return tuple(start)  # type: ignore[return-value]
        free = [t for t in candidates if t not in occupied] or candidates
        if address in self.map.objects:
            return free[0]
        return free[rng.randrange(len(free))]

    def steps_to(self, start: Tile, address: str) -> int | None:
        """Fewest steps from ``start`` to any tile of ``address`` (None if unreachable). Raises KeyError if unknown."""
        goals = set(self.candidate_tiles(address))
        if tuple(start) not in self.graph or not goals:
            return None
        if tuple(start) in goals:
            return 0
        for depth, layer in enumerate(nx.bfs_layers(self.graph, [tuple(start)])):
            if goals.intersection(layer):
                return depth
        return None

    def travel_ticks(self, start: Tile, goal: Tile, tiles_per_tick: int) -> int | None:
        """Ticks to walk from ``start`` to ``goal`` (None if unreachable)."""
        p = self.path(start, goal)
        if p is None:
            return None
        steps = len(p) - 1
        return -(-steps // tiles_per_tick)

    def travel_minutes(self, start: Tile, goal: Tile, tiles_per_tick: int, seconds_per_tick: int) -> float | None:
        """Estimated walking time in game minutes (None if unreachable)."""
        p = self.path(start, goal)
        if p is None:
            return None
        return round((len(p) - 1) / tiles_per_tick * seconds_per_tick / 60, 1)
