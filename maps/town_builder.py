"""Building blocks for generated town maps: paint tile layers, add Tiled objects, furnish rooms, save a .tmj.

Used by ``make_smallville.py`` and ``make_the_ville.py``. Tiles are looked up by class name in the external tileset
``tilesets/town.tsj``, so a redrawn tileset drops in without changing the generators; ``start_map`` sets another
size and tile table (the Ville's). Module-level grids: one map per process.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

W, H, TS = 140, 100, 32
HERE = Path(__file__).resolve().parent
TILESET = "tilesets/town.tsj"
BLOCKING = {"wall", "water", "tree", "fence", "bush"}


def _gids() -> dict[str, int]:
    data = json.loads((HERE / TILESET).read_text(encoding="utf-8"))
    return {t["class"]: 1 + t["id"] for t in data["tiles"] if t.get("class")}


GID = _gids()
ground = [[GID["grass"]] * W for _ in range(H)]
decor = [[0] * W for _ in range(H)]
collision = [[0] * W for _ in range(H)]
sectors: list[dict] = []
arenas: list[dict] = []
objects: list[dict] = []
spawns: list[dict] = []


def start_map(width: int, height: int, gids: dict[str, int]) -> None:
    """Begin a map of another size and tile table, before painting; in place, so imported names stay valid."""
    GID.clear()
    GID.update(gids)
    for grid, fill in ((ground, GID["grass"]), (decor, 0), (collision, 0)):
        grid[:] = [[fill] * width for _ in range(height)]


# -- painting ------------------------------------------------------------------------------------
def paint(x0: int, y0: int, x1: int, y1: int, cls: str) -> None:
    """Fill an inclusive rectangle of the ground layer; walls and water also block."""
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            ground[y][x] = GID[cls]
            collision[y][x] = GID["blocked"] if cls in BLOCKING else 0


def plant(x0: int, y0: int, x1: int, y1: int, cls: str) -> None:
    """Put a decor tile (tree, bush, flowers, fence) over an inclusive rectangle; trees, bushes and fences block."""
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            decor[y][x] = GID[cls]
            if cls in BLOCKING:
                collision[y][x] = GID["blocked"]


def door(x: int, y: int) -> None:
    paint(x, y, x, y, "door")


def building(x0: int, y0: int, x1: int, y1: int, floor: str) -> None:
    paint(x0, y0, x1, y1, "wall")
    paint(x0 + 1, y0 + 1, x1 - 1, y1 - 1, floor)


# -- Tiled objects -------------------------------------------------------------------------------
def props(**kw: str | bool) -> list[dict]:
    return [{"name": k, "type": "bool" if isinstance(v, bool) else "string", "value": v} for k, v in kw.items()]


def _rect_obj(name: str, x0: int, y0: int, x1: int, y1: int, properties: list[dict]) -> dict:
    return {"height": (y1 - y0 + 1) * TS, "name": name, "properties": properties, "rotation": 0, "type": "",
            "visible": True, "width": (x1 - x0 + 1) * TS, "x": x0 * TS, "y": y0 * TS}


def _place_props(description: str, hours: str | None = None, private: bool = False) -> list[dict]:
    """The properties of a sector or an arena: a description, then opening hours and privacy where given."""
    p: dict[str, str | bool] = {"description": description}
    if hours is not None:
        p["opening_hours"] = hours
    if private:
        p["private"] = True
    return props(**p)


Layout = Callable[[str, int, int, int, int, list[dict]], dict]  # how a map saves a rectangle object


def sector(name: str, rect: tuple[int, int, int, int], description: str, hours: str | None = None,
           private: bool = False, *, layout: Layout = _rect_obj) -> None:
    sectors.append(layout(name, *rect, _place_props(description, hours, private)))


def arena(name: str, rect: tuple[int, int, int, int], description: str, private: bool = False, *,
          layout: Layout = _rect_obj) -> None:
    arenas.append(layout(name, *rect, _place_props(description, private=private)))


def obj(name: str, x: int, y: int, description: str, state: str = "idle") -> None:
    objects.append(_rect_obj(name, x, y, x, y, props(description=description, state=state)))


def spawn(name: str, x: int, y: int) -> None:
    spawns.append({"height": 0, "name": name, "point": True, "rotation": 0, "type": "", "visible": True, "width": 0,
                   "x": x * TS + TS // 2, "y": y * TS + TS // 2})


# -- furniture sets ------------------------------------------------------------------------------
Furniture = list[tuple[str, str, str]]  # name, description, state
BEDROOM: Furniture = [("bed", "a bed with a quilt", "made"), ("wardrobe", "a wardrobe of clothes", "closed"),
                      ("desk", "a desk with a reading lamp", "idle")]
KITCHEN: Furniture = [("stove", "a gas stove", "off"), ("refrigerator", "a refrigerator", "stocked"),
                      ("kitchen sink", "a sink by the window", "clean"), ("kitchen table", "a table for meals", "idle")]
LIVING: Furniture = [("sofa", "a soft sofa", "idle"), ("television", "a television", "off"),
                     ("bookshelf", "a shelf of books and photos", "idle")]
BATHROOM: Furniture = [("shower", "a shower", "off"), ("toilet", "a toilet", "vacant"), ("sink", "a washbasin", "idle")]


def furnish(rect: tuple[int, int, int, int], items: Furniture) -> None:
    """Place items along the inside of a room, left to right on its top row, then its bottom row."""
    x0, y0, x1, y1 = rect
    slots = [(x, y0) for x in range(x0, x1 + 1, 2)] + [(x, y1) for x in range(x1, x0 - 1, -2)]
    for (name, description, state), (x, y) in zip(items, slots):
        obj(name, x, y, description, state)


def path_to(x0: int, y0: int, x1: int, y1: int) -> None:
    """A dirt path from a door to the sidewalk (an L: vertical first)."""
    for y in range(min(y0, y1), max(y0, y1) + 1):
        paint(x0, y, x0, y, "dirt")
    for x in range(min(x0, x1), max(x0, x1) + 1):
        paint(x, y1, x, y1, "dirt")


# -- buildings -----------------------------------------------------------------------------------
def house(name: str, x0: int, y0: int, rooms: list[tuple[str, str, bool, Furniture]], description: str) -> None:
    """A 14 x 12 house facing south: two upper rooms (bedrooms or a study), living room and kitchen below."""
    x1, y1 = x0 + 13, y0 + 11
    building(x0, y0, x1, y1, "wood")
    paint(x0 + 1, y0 + 6, x1 - 1, y0 + 6, "wall")
    paint(x0 + 7, y0 + 1, x0 + 7, y0 + 5, "wall")
    paint(x0 + 8, y0 + 7, x0 + 8, y1 - 1, "wall")
    door(x0 + 3, y0 + 6)
    door(x0 + 10, y0 + 6)
    door(x0 + 8, y0 + 9)
    door(x0 + 4, y1)
    path_to(x0 + 4, y1 + 1, x0 + 4, 30)
    sector(name, (x0, y0, x1, y1), description, private=True)
    for (room, desc, private, items), rect in zip(rooms, ((x0 + 1, y0 + 1, x0 + 6, y0 + 5),
                                                         (x0 + 8, y0 + 1, x1 - 1, y0 + 5))):
        arena(room, rect, desc, private=private)
        paint(*rect, "carpet" if private else "wood")
        furnish(rect, items)
        if private:
            spawn(f"{name}:{room}", rect[0] + 2, rect[1] + 2)
    arena("living room", (x0 + 1, y0 + 7, x0 + 7, y1 - 1), "the living room by the front door")
    furnish((x0 + 1, y0 + 7, x0 + 7, y1 - 1), LIVING)
    arena("kitchen", (x0 + 9, y0 + 7, x1 - 1, y1 - 1), "the kitchen")
    paint(x0 + 9, y0 + 7, x1 - 1, y1 - 1, "tile")
    furnish((x0 + 9, y0 + 7, x1 - 1, y1 - 1), KITCHEN)


def row_building(name: str, x0: int, y0: int, rooms: list[tuple[str, str, bool, Furniture]], hall: str,
                 hall_items: Furniture, description: str, *, door_east: bool, hours: str | None = None,
                 private: bool = True) -> None:
    """A 33 x 15 building: four rooms above and four below a hallway that opens east or west."""
    x1, y1 = x0 + 32, y0 + 14
    building(x0, y0, x1, y1, "wood")
    paint(x0 + 1, y0 + 5, x1 - 1, y0 + 5, "wall")
    paint(x0 + 1, y0 + 9, x1 - 1, y0 + 9, "wall")
    sector(name, (x0, y0, x1, y1), description, hours, private=private)
    arena(hall, (x0 + 1, y0 + 6, x1 - 1, y0 + 8), f"the {hall} of {name}")
    paint(x0 + 1, y0 + 6, x1 - 1, y0 + 8, "floor")
    furnish((x0 + 3, y0 + 6, x1 - 3, y0 + 8), hall_items)
    for i, (room, desc, priv, items) in enumerate(rooms):
        col, top = i % 4, i < 4
        rx0 = x0 + 1 + col * 8
        ry0, ry1 = (y0 + 1, y0 + 4) if top else (y0 + 10, y0 + 13)
        if col < 3:
            paint(rx0 + 7, ry0, rx0 + 7, ry1, "wall")
        door(rx0 + 3, y0 + 5 if top else y0 + 9)
        arena(room, (rx0, ry0, rx0 + 6, ry1), desc, private=priv)
        paint(rx0, ry0, rx0 + 6, ry1, "carpet" if priv else "tile")
        furnish((rx0, ry0, rx0 + 6, ry1), items)
        if priv:
            spawn(f"{name}:{room}", rx0 + 3, ry0 + 2)
    if door_east:
        door(x1, y0 + 7)
        path_to(x1 + 1, y0 + 7, 34, y0 + 7)
    else:
        door(x0, y0 + 7)
        paint(x0 - 1, y0 + 7, x0 - 1, y0 + 7, "dirt")


def shop(name: str, rect: tuple[int, int, int, int], door_x: int, rooms: list[tuple[str, str, int, Furniture]],
         description: str, hours: str, floor: str = "floor", door_north: bool = True) -> None:
    """A one-storey building split west to east into rooms (name, description, width, furniture)."""
    x0, y0, x1, y1 = rect
    building(x0, y0, x1, y1, floor)
    sector(name, rect, description, hours)
    x = x0 + 1
    for i, (room, desc, width, items) in enumerate(rooms):
        rx1 = x1 - 1 if i == len(rooms) - 1 else x + width - 1
        arena(room, (x, y0 + 1, rx1, y1 - 1), desc)
        furnish((x, y0 + 1, rx1, y1 - 1), items)
        if i < len(rooms) - 1:
            paint(rx1 + 1, y0 + 1, rx1 + 1, y1 - 1, "wall")
            door(rx1 + 1, (y0 + y1) // 2)
        x = rx1 + 2
    if door_north:
        door(door_x, y0)
        path_to(door_x, 36, door_x, y0 - 1)
    else:
        door(door_x, y1)
        path_to(door_x, y1 + 1, door_x, 62)


def room(label: str, description: str, private: bool = False, extra: Furniture | None = None) -> tuple:
    base = BEDROOM if private else []
    return (label, description, private, base + (extra or []))


# -- the Tiled file ------------------------------------------------------------------------------
def encoded(grid: list[list[int]]) -> str:
    """Tile data as Tiled saves it with base64 + zlib: little-endian uint32 gids, compressed, base64."""
    raw = b"".join(struct.pack("<I", g) for row in grid for g in row)
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def tiled_map() -> dict:
    layers: list[dict] = []
    for lid, name, grid in ((1, "ground", ground), (2, "decor", decor), (3, "collision", collision)):
        layers.append({"compression": "zlib", "data": encoded(grid), "encoding": "base64", "height": H, "id": lid,
                       "name": name, "opacity": 1, "type": "tilelayer", "visible": name != "collision",
                       "width": W, "x": 0, "y": 0})
    next_id = 1
    for lid, (name, objs) in enumerate(
            (("sectors", sectors), ("arenas", arenas), ("objects", objects), ("spawns", spawns)), start=4):
        numbered = []
        for o in objs:
            numbered.append({"id": next_id, **o})
            next_id += 1
        layers.append({"draworder": "topdown", "id": lid, "name": name, "objects": numbered, "opacity": 1,
                       "type": "objectgroup", "visible": name != "spawns", "x": 0, "y": 0})
    return {"compressionlevel": -1, "height": H, "infinite": False, "layers": layers, "nextlayerid": len(layers) + 1,
            "nextobjectid": next_id, "orientation": "orthogonal", "properties": props(name="Smallville"),
            "renderorder": "right-down", "tiledversion": "1.10.2", "tileheight": TS,
            "tilesets": [{"firstgid": 1, "source": TILESET}], "tilewidth": TS, "type": "map", "version": "1.10",
            "width": W}
