"""Frame time of the renderer with many people on a large map, off-screen (for ``town bench frames``).

Without a map, :func:`generated_town` writes a seeded 140x100 town in the generated tileset (blocks of houses and
parks between roads). People random-walk one tile per tick and frames are drawn at several points between ticks,
as the live window does; the figures are wall-clock milliseconds per frame, printed, never asserted.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from town.world.events import Event
from town.world.maps import TownMap, load_map
from town.world.resources import data_dir

TILESET = data_dir("maps") / "tilesets" / "town.tsj"
TILES: list[dict[str, Any]] = json.loads(TILESET.read_text(encoding="utf-8"))["tiles"]
GID = {t["class"]: t["id"] + 1 for t in TILES}
ROOMS = ["floor", "wood", "tile", "carpet"]
FURNITURE = ["bed", "desk", "chair", "table", "stove", "coffee machine", "bookshelf", "sofa", "piano", "computer"]


def _paint_block(rng: random.Random, ground: list[list[int]], coll: list[list[int]], bx: int, by: int,
                 size: int, objs: dict[str, list[dict[str, Any]]], ts: int) -> None:
    """One block: a walled house with a door and furniture, or a park with trees, flowers and a pond."""
    def put(x: int, y: int, cls: str, block: bool = False) -> None:
        ground[y][x] = GID[cls]
        coll[y][x] = GID["blocked"] if block else 0

    def rect(name: str, x: int, y: int, w: int, h: int, **props: Any) -> dict[str, Any]:
        return {"id": 0, "name": name, "x": x * ts, "y": y * ts, "width": w * ts, "height": h * ts, "rotation": 0,
                "visible": True, "properties": [{"name": k, "type": "bool" if isinstance(v, bool) else "string", "value": v}
                               for k, v in props.items()]}

    n = len(objs["sectors"])
    x0, y0, x1, y1 = bx + 2, by + 2, bx + size - 3, by + size - 3
    if rng.random() < 0.25:  # a park
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                put(x, y, rng.choice(["grass", "grass", "grass_dark", "flowers"]))
        for _ in range(8):
            put(rng.randint(x0, x1), rng.randint(y0, y1), rng.choice(["tree", "bush"]), block=True)
        for y in range(y0 + 4, y0 + 7):
            for x in range(x0 + 5, x0 + 9):
                put(x, y, "water", block=True)
        objs["sectors"].append(rect(f"Park {n}", x0, y0, x1 - x0 + 1, y1 - y0 + 1, description="a park"))
        objs["arenas"].append(rect("lawn", x0, y0 + 8, x1 - x0 + 1, y1 - y0 - 7))
        objs["objects"].append(rect("bench", x0 + 2, y1 - 2, 1, 1))
        return
    floor = rng.choice(ROOMS)
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            edge = x in (x0, x1) or y in (y0, y1)
            put(x, y, "wall" if edge else floor, block=edge)
    put((x0 + x1) // 2, y1, "door")
    objs["sectors"].append(rect(f"House {n}", x0, y0, x1 - x0 + 1, y1 - y0 + 1, description="a house"))
    objs["arenas"].append(rect("room", x0 + 1, y0 + 1, x1 - x0 - 1, y1 - y0 - 1))
    for i, name in enumerate(rng.sample(FURNITURE, 4)):
        state = rng.choice(["idle", "idle", "in use"])
        o = rect(name, x0 + 2 + i * 3, y0 + 2, 1, 1, state=state)
        objs["objects"].append(o)


def generated_town(folder: Path, width: int = 140, height: int = 100, *, seed: int = 7) -> Path:
    """Write a seeded ``width`` x ``height`` Tiled JSON town using the generated tileset; returns its path."""
    rng = random.Random(seed)
    ts, block = 32, 20
    ground = [[GID["grass"]] * width for _ in range(height)]
    coll = [[0] * width for _ in range(height)]
    objs: dict[str, list[dict[str, Any]]] = {"sectors": [], "arenas": [], "objects": []}
    for by in range(0, height - block + 1, block):
        for bx in range(0, width - block + 1, block):
            _paint_block(rng, ground, coll, bx, by, block, objs, ts)
    for y in range(height):  # roads between blocks, sidewalks along them
        for x in range(width):
            on_x, on_y = x % block in (0, block - 1), y % block in (0, block - 1)
            if on_x or on_y:
                ground[y][x] = GID["road_line" if (on_x and x % 4 == 0) or (on_y and y % 4 == 0) else "road"]
                coll[y][x] = 0
            elif x % block in (1, block - 2) or y % block in (1, block - 2):
                ground[y][x] = GID["sidewalk"]
    for name in ("town.tsj", "town.png"):  # the external tileset next to the map, as Tiled keeps it
        (folder / name).write_bytes((TILESET.parent / name).read_bytes())
    layers: list[dict[str, Any]] = [
        {"type": "tilelayer", "name": "ground", "width": width, "height": height, "data": sum(ground, [])},
        {"type": "tilelayer", "name": "collision", "width": width, "height": height, "data": sum(coll, [])},
    ]
    spawn = {"id": 0, "name": "crossing", "x": 0, "y": 0, "width": 0, "height": 0, "rotation": 0, "visible": True}
    layers += [{"type": "objectgroup", "name": k, "objects": v} for k, v in [*objs.items(), ("spawns", [spawn])]]
    next_id = 1
    for i, layer in enumerate(layers, start=1):  # the fields Tiled always writes
        layer.update({"id": i, "opacity": 1, "visible": True, "x": 0, "y": 0})
        if layer["type"] == "objectgroup":
            layer["draworder"] = "topdown"
            for obj in layer["objects"]:
                obj["id"], next_id = next_id, next_id + 1
    data = {"type": "map", "version": "1.10", "tiledversion": "1.10.2", "renderorder": "right-down",
            "orientation": "orthogonal", "infinite": False, "compressionlevel": -1, "width": width, "height": height,
            "tilewidth": ts, "tileheight": ts, "nextlayerid": len(layers) + 1, "nextobjectid": next_id,
            "tilesets": [{"firstgid": 1, "source": "town.tsj"}], "layers": layers,
            "properties": [{"name": "name", "type": "string", "value": "generated town"}]}
    path = folder / "generated_town.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _walk(rng: random.Random, m: TownMap, tiles: dict[str, tuple[int, int]]) -> None:
    for name, (x, y) in tiles.items():
        steps = [(x + dx, y + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)) if m.walkable((x + dx, y + dy))]
        if steps:
            tiles[name] = rng.choice(steps)


def frame_times(map_path: Path, names: list[str], *, ticks: int = 20, frames_per_tick: int = 4,
                width: int = 1280, height: int = 800, seed: int = 3) -> list[dict[str, Any]]:
    """Mean and p95 ms per frame with ``names`` walking, whole map in view and zoomed in following one."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from town.viewer.renderer import Renderer  # pygame only when this runs
    from town.viewer.state import TownState

    m = load_map(map_path)
    rng = random.Random(seed)
    walkable = sorted((x, y) for y in range(m.height) for x in range(m.width) if m.walkable((x, y)))
    t0 = time.perf_counter()
    r = Renderer(m, width, height)
    setup_ms = (time.perf_counter() - t0) * 1000
    rows = []
    for view in ("whole map", "zoomed, following"):
        tiles = {n: rng.choice(walkable) for n in names}
        state, seq = TownState(), 0
        r.fit()
        if view != "whole map":
            r.camera.zoom = 1.0
            r.selected, r.follow = names[0], True
        times = []
        clock = datetime(2023, 2, 13, 17, 0)
        for tick in range(ticks):
            _walk(rng, m, tiles)
            seq += 1
            states = {n: {"tile": list(t), "address": m.address_at(t), "activity": "walking", "emoji": "",
                          "conversation": None} for n, t in tiles.items()}
            state.apply(Event(seq=seq, tick=tick, time=clock + timedelta(minutes=10 * tick), type="agents",
                              agent=None, data={"states": states}))
            for f in range(frames_per_tick):
                start = time.perf_counter()
                r.render(state, alpha=f / frames_per_tick, speed=4.0)
                times.append((time.perf_counter() - start) * 1000)
        times.sort()
        rows.append({
            "map": f"{m.name} {m.width}x{m.height}", "people": len(names), "view": view, "frames": len(times),
            "mean_ms": round(statistics.fmean(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "first_draw_ms": round(setup_ms, 1),
        })
    return rows
