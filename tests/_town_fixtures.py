"""Helpers for the world-engine tests: a tiny Tiled map built in code, and scripted minds (no LLM)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from town.world.clock import SimClock
from town.world.config import EngineSettings
from town.world.maps import TownMap, load_map
from town.world.protocol import Action, Observation
from town.world.state import World

TS = 32
W, H = 16, 10
START = datetime(2023, 2, 13, 7, 0)

# Tiny town, 16 x 10:
#   House: walls x0..6 y0..5, arena "room" x1..5 y1..4, door (3, 5); objects bed (1, 1), lamp (5, 4)
#   Cafe:  walls x9..15 y0..5, arena "cafe" x10..14 y1..4, door (12, 5); object counter (11, 1)
#   Garden: a sector without arenas at x0..3 y7..9; the rest is open grass.
WALLS: set[tuple[int, int]] = set()
for x0, x1 in ((0, 6), (9, 15)):
    for x in range(x0, x1 + 1):
        WALLS |= {(x, 0), (x, 5)}
    for y in range(0, 6):
        WALLS |= {(x0, y), (x1, y)}
WALLS -= {(3, 5), (12, 5)}


def _rect(name: str, x: int, y: int, w: int, h: int, **props: str) -> dict[str, Any]:
    return {
        "id": 0, "name": name, "x": x * TS, "y": y * TS, "width": w * TS, "height": h * TS, "rotation": 0,
        "visible": True, "properties": [{"name": k, "type": "string", "value": v} for k, v in props.items()],
    }


def as_tiled_saves(data: dict[str, Any]) -> dict[str, Any]:
    """Fill in the fields Tiled always writes (ids, opacity, visibility...) that a hand-built test map leaves out."""
    data = {"type": "map", "version": "1.10", "tiledversion": "1.10.2", "renderorder": "right-down",
            "orientation": "orthogonal", "infinite": False, "compressionlevel": -1, **data}
    next_id = 1
    for i, layer in enumerate(data["layers"], start=1):
        for key, value in (("id", i), ("opacity", 1), ("visible", True), ("x", 0), ("y", 0)):
            layer.setdefault(key, value)
        if layer["type"] == "objectgroup":
            layer.setdefault("draworder", "topdown")
            for obj in layer.get("objects", []):
                obj["id"] = next_id
                next_id += 1
                for key, value in (("width", 0), ("height", 0), ("rotation", 0), ("visible", True), ("name", "")):
                    obj.setdefault(key, value)
    for ts in data["tilesets"]:
        for key, value in (("margin", 0), ("spacing", 0)):
            ts.setdefault(key, value)
    data.setdefault("nextlayerid", len(data["layers"]) + 1)
    data.setdefault("nextobjectid", next_id)
    return data


def tiny_map_dict() -> dict[str, Any]:
    ground = [3 if (x, y) in WALLS else (2 if y >= 6 else 1) for y in range(H) for x in range(W)]
    collision = [9 if (x, y) in WALLS else 0 for y in range(H) for x in range(W)]
    spawn = lambda name, x, y: {"id": 0, "name": name, "x": x * TS + 16, "y": y * TS + 16, "point": True,  # noqa: E731
                                "width": 0, "height": 0}
    return as_tiled_saves({
        "type": "map", "orientation": "orthogonal", "renderorder": "right-down", "infinite": False,
        "tiledversion": "1.9.2", "version": "1.9",
        "width": W, "height": H, "tilewidth": TS, "tileheight": TS,
        "properties": [{"name": "name", "type": "string", "value": "Tinytown"}],
        "tilesets": [{
            "firstgid": 1, "name": "t", "tilewidth": TS, "tileheight": TS, "tilecount": 9, "columns": 9,
            "tiles": [{"id": 0, "class": "floor"}, {"id": 1, "class": "grass"}, {"id": 2, "class": "wall"},
                      {"id": 8, "class": "blocked"}],
        }],
        "layers": [
            {"id": 1, "name": "ground", "type": "tilelayer", "width": W, "height": H, "data": ground},
            {"id": 2, "name": "collision", "type": "tilelayer", "width": W, "height": H, "data": collision},
            {"id": 3, "name": "sectors", "type": "objectgroup", "objects": [
                _rect("House", 0, 0, 7, 6, description="a small house"),
                _rect("Cafe", 9, 0, 7, 6, description="a cafe", opening_hours="8am-8pm"),
                _rect("Garden", 0, 7, 4, 3, description="a garden"),
            ]},
            {"id": 4, "name": "arenas", "type": "objectgroup", "objects": [
                _rect("room", 1, 1, 5, 4, description="the only room"),
                _rect("cafe", 10, 1, 5, 4, description="the cafe room"),
            ]},
            {"id": 5, "name": "objects", "type": "objectgroup", "objects": [
                _rect("bed", 1, 1, 1, 1, state="idle", description="a bed"),
                _rect("lamp", 5, 4, 1, 1, description="a lamp"),
                _rect("counter", 11, 1, 1, 1, state="idle", description="the counter"),
            ]},
            {"id": 6, "name": "spawns", "type": "objectgroup", "objects": [
                spawn("House:room", 2, 2), spawn("Cafe:cafe", 12, 2),
            ]},
        ],
    })


def write_map(tmp_path: Path, data: dict[str, Any] | None = None, name: str = "tiny.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data if data is not None else tiny_map_dict()), encoding="utf-8")
    return path


def tiny_map(tmp_path: Path) -> TownMap:
    return load_map(write_map(tmp_path))


def tiny_world(tmp_path: Path, agents: dict[str, tuple[int, int]], *, seed: int = 0, **settings: Any) -> World:
    """A world on the tiny map with agents placed on the given tiles."""
    world = World(tiny_map(tmp_path), SimClock(START, 60), settings=EngineSettings(**settings), seed=seed)
    for name, tile in agents.items():
        world.add_agent(name, living_area="House:room")
        world.agents[name].tile = tile
    return world


Policy = Callable[[Observation, dict[str, Any]], Action]


class ScriptedMind:
    """A Mind whose decisions come from a policy ``(obs, memory) -> Action``; ``memory`` is checkpointed."""

    def __init__(self, name: str, policy: Policy, *, delay_s: float = 0.0) -> None:
        self.name = name
        self.policy = policy
        self.delay_s = delay_s
        self.memory: dict[str, Any] = {}
        self.seen: list[Observation] = []

    async def decide(self, obs: Observation) -> Action:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.seen.append(obs)
        return self.policy(obs, self.memory)

    def checkpoint(self) -> dict[str, Any]:
        return copy.deepcopy(self.memory)

    def restore(self, state: dict[str, Any]) -> None:
        self.memory = copy.deepcopy(state)

    async def answer(self, question: str) -> str:
        return f"{self.name} does not know"

    def add_thought(self, text: str, importance: int = 5) -> None:
        self.memory.setdefault("thoughts", []).append(text)
