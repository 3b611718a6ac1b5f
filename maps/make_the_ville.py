"""Generate ``maps/the_ville.json`` (a Tiled 1.9 JSON map) and its tileset image ``the_ville_tiles.png``.

Run from the repository root: ``python maps/make_the_ville.py``. The output is deterministic, so the
committed files can be regenerated and diffed. Open the map in Tiled to edit it by hand later. Painting and the
sector and arena helpers come from ``town_builder.py`` beside it (which reads ``tilesets/town.tsj`` on import).

Layout (60 x 40 tiles of 32 px): a row of homes and the store along the north road, Hobbs Cafe and
Oak Hill College along the middle, Johnson Park in the south-west; a north-south road joins them.
Buildings have walls (tile class ``wall`` + the ``collision`` layer) with door gaps.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import partial

import town_builder  # noqa: I001 - a sibling module: run as a script from maps/
from town_builder import (
    HERE, TS, arenas, building, collision, door, ground, objects, paint, props, sectors, spawns, start_map,
)

W, H = 60, 40

# tile classes, in tileset order (gid = index + 1), with the colour used for the tileset image
CLASSES: list[tuple[str, tuple[int, int, int]]] = [
    ("grass", (122, 178, 92)),
    ("road", (128, 128, 128)),
    ("floor", (214, 196, 160)),
    ("wall", (92, 70, 60)),
    ("water", (80, 140, 210)),
    ("sand", (226, 208, 150)),
    ("wood", (176, 130, 86)),
    ("door", (150, 100, 50)),
    ("blocked", (200, 40, 40)),
]


# The Ville keeps the object layout it was first saved with (these keys in this order, no "type", an object's
# state before its description); the painting and the sector and arena properties come from town_builder.
def _rect_obj(name: str, x0: int, y0: int, x1: int, y1: int, properties: list[dict]) -> dict:
    return {"name": name, "x": x0 * TS, "y": y0 * TS, "width": (x1 - x0 + 1) * TS, "height": (y1 - y0 + 1) * TS,
            "rotation": 0, "visible": True, "properties": properties}


sector = partial(town_builder.sector, layout=_rect_obj)
arena = partial(town_builder.arena, layout=_rect_obj)


def obj(name: str, x: int, y: int, description: str, state: str = "idle") -> None:
    objects.append(_rect_obj(name, x, y, x, y, props(state=state, description=description)))


def spawn(name: str, x: int, y: int) -> None:
    spawns.append({"name": name, "x": x * TS + TS // 2, "y": y * TS + TS // 2, "point": True,
                   "width": 0, "height": 0, "rotation": 0, "visible": True})


def entrance(x: int, y: int, step_x: int, step_y: int) -> None:
    """A door in an outer wall and the sand step outside it."""
    door(x, y)
    paint(step_x, step_y, step_x, step_y, "sand")


def one_room(name: str, rect: tuple[int, int, int, int], description: str, hours: str, room: str,
             room_description: str) -> None:
    """A walled building with a floor and one room filling its inside."""
    x0, y0, x1, y1 = rect
    building(x0, y0, x1, y1, "floor")
    sector(name, rect, description, hours)
    arena(room, (x0 + 1, y0 + 1, x1 - 1, y1 - 1), room_description)


def home(name: str, x0: int, description: str) -> None:
    """A two-room house: bedroom (west) and kitchen (east), front door on the south wall."""
    building(x0, 1, x0 + 9, 10, "wood")
    paint(x0 + 5, 1, x0 + 5, 10, "wall")
    door(x0 + 5, 5)
    entrance(x0 + 7, 10, x0 + 7, 11)
    sector(name, (x0, 1, x0 + 9, 10), description, private=True)
    arena("bedroom", (x0 + 1, 2, x0 + 4, 9), "a bedroom with a bed and a desk")
    arena("kitchen", (x0 + 6, 2, x0 + 8, 9), "a small kitchen")
    obj("bed", x0 + 2, 3, "a bed to sleep in")
    obj("desk", x0 + 3, 8, "a desk for work and study")
    obj("wardrobe", x0 + 4, 2, "a wardrobe with clothes")
    obj("stove", x0 + 7, 2, "a stove for cooking")
    obj("refrigerator", x0 + 8, 2, "a refrigerator with food")
    obj("kitchen table", x0 + 7, 6, "a table for meals")
    spawn(f"{name}:bedroom", x0 + 2, 5)


def build() -> None:
    start_map(W, H, {name: i + 1 for i, (name, _) in enumerate(CLASSES)})
    # roads
    paint(0, 12, W - 1, 13, "road")  # north road
    paint(28, 12, 29, H - 1, "road")  # north-south road
    paint(0, 27, 27, 28, "road")  # south-west road

    home("Lin family home", 1, "the home of the Lin family: John Lin, the pharmacist, his wife Mei and son Eddy")
    home("Moreno family home", 12, "the home of the Moreno family: Tom and Jane Moreno")
    home("Rodriguez apartment", 23, "Isabella Rodriguez's apartment, a short walk from Hobbs Cafe")

    # Oak Hill College dorm: two student rooms over a common room
    building(34, 1, 47, 10, "wood")
    paint(35, 6, 46, 6, "wall")
    paint(41, 1, 41, 6, "wall")
    door(37, 6)
    door(44, 6)
    entrance(40, 10, 40, 11)
    sector("Oak Hill College dorm", (34, 1, 47, 10), "the dormitory of Oak Hill College, where students live",
           private=True)
    arena("Klaus Mueller's room", (35, 2, 40, 5), "Klaus Mueller's dorm room", private=True)
    arena("Maria Lopez's room", (42, 2, 46, 5), "Maria Lopez's dorm room", private=True)
    arena("common room", (35, 7, 46, 9), "the dorm's shared living room and kitchen")
    for who, x in (("Klaus Mueller's room", 35), ("Maria Lopez's room", 42)):
        obj("bed", x, 2, "a narrow dorm bed")
        obj("desk", x + 3, 2, "a desk with a laptop")
        spawn(f"Oak Hill College dorm:{who}", x + 1, 4)
    obj("game console", 45, 4, "Maria's game console and streaming set-up")
    obj("sofa", 37, 8, "a worn sofa")
    obj("kitchenette", 45, 7, "a kitchenette with a stove and a fridge")
    obj("common room table", 41, 9, "a table for meals and board games")

    # Harvey Oak Supply Store
    one_room("Harvey Oak Supply Store", (49, 1, 58, 10),
             "a general store selling groceries, garden supplies and household goods", "9am-6pm",
             "store", "the shop floor")
    entrance(53, 10, 53, 11)
    obj("shelves", 51, 3, "shelves of groceries and supplies")
    obj("garden supplies", 55, 3, "seeds, tools and soil")
    obj("cashier", 54, 8, "the cashier's counter and register")

    # Hobbs Cafe
    one_room("Hobbs Cafe", (1, 15, 14, 25), "a cosy cafe run by Isabella Rodriguez: coffee, pastries and light meals",
             "8am-8pm", "cafe", "the cafe's counter and seating area")
    entrance(7, 15, 7, 14)
    obj("counter", 4, 18, "the serving counter")
    obj("coffee machine", 3, 17, "an espresso machine")
    obj("cafe table 1", 8, 19, "a table for two")
    obj("cafe table 2", 11, 19, "a table for four")
    obj("cafe table 3", 9, 22, "a table by the window")
    obj("piano", 12, 23, "an old upright piano")
    spawn("Hobbs Cafe:cafe", 6, 20)

    # Oak Hill College: classroom and library
    building(31, 15, 58, 30, "floor")
    paint(45, 15, 45, 30, "wall")
    door(45, 22)
    entrance(38, 15, 38, 14)
    entrance(51, 15, 51, 14)
    entrance(31, 22, 30, 22)
    sector("Oak Hill College", (31, 15, 58, 30), "the town's college: lectures in the classroom, study in the library",
           "8am-6pm")
    arena("classroom", (32, 16, 44, 29), "a lecture room with rows of desks")
    arena("library", (46, 16, 57, 29), "a quiet library with study tables")
    obj("blackboard", 38, 16, "the lecture blackboard")
    obj("desk", 38, 18, "the lecturer's desk")
    obj("student desk", 36, 23, "a row of student desks")
    obj("bookshelf", 48, 17, "shelves of books on every subject")
    obj("desk", 52, 22, "a study desk with a reading lamp")
    obj("computer", 56, 27, "a library computer")

    # Johnson Park
    sector("Johnson Park", (1, 30, 26, 38), "a green park with a pond, benches and a community garden", "always open")
    arena("park", (1, 30, 26, 38), "the park's lawns and paths")
    paint(17, 32, 22, 35, "water")
    paint(2, 31, 25, 31, "sand")
    obj("bench", 6, 33, "a park bench facing the pond")
    obj("garden", 11, 35, "the community garden")
    obj("pond", 19, 33, "a duck pond")
    spawn("Johnson Park:park", 8, 34)


def tiles_png() -> bytes:
    """A one-row tileset image: one flat-coloured 32x32 tile per class, with a darker edge."""
    width, height = TS * len(CLASSES), TS
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for _, (r, g, b) in CLASSES:
            for x in range(TS):
                edge = x in (0, TS - 1) or y in (0, TS - 1)
                k = 0.8 if edge else 1.0
                row += bytes((int(r * k), int(g * k), int(b * k)))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def tiled_map() -> dict:
    next_id = 1
    layers = []

    def tile_layer(lid: int, name: str, grid: list[list[int]]) -> dict:
        return {"id": lid, "name": name, "type": "tilelayer", "width": W, "height": H, "x": 0, "y": 0,
                "opacity": 1, "visible": name != "collision", "data": [g for row in grid for g in row]}

    layers.append(tile_layer(1, "ground", ground))
    layers.append(tile_layer(2, "collision", collision))
    for lid, (name, objs) in enumerate(
        (("sectors", sectors), ("arenas", arenas), ("objects", objects), ("spawns", spawns)), start=3
    ):
        numbered = []
        for o in objs:
            numbered.append({"id": next_id, **o})
            next_id += 1
        layers.append({"id": lid, "name": name, "type": "objectgroup", "draworder": "topdown", "x": 0, "y": 0,
                       "opacity": 1, "visible": True, "objects": numbered})
    return {
        "type": "map",
        "version": "1.9",
        "tiledversion": "1.9.2",
        "orientation": "orthogonal",
        "renderorder": "right-down",
        "infinite": False,
        "compressionlevel": -1,
        "width": W,
        "height": H,
        "tilewidth": TS,
        "tileheight": TS,
        "nextlayerid": len(layers) + 1,
        "nextobjectid": next_id,
        "properties": props(name="the Ville"),
        "tilesets": [
            {
                "firstgid": 1,
                "name": "ville",
                "image": "the_ville_tiles.png",
                "imagewidth": TS * len(CLASSES),
                "imageheight": TS,
                "tilewidth": TS,
                "tileheight": TS,
                "tilecount": len(CLASSES),
                "columns": len(CLASSES),
                "margin": 0,
                "spacing": 0,
                "tiles": [{"id": i, "class": name} for i, (name, _) in enumerate(CLASSES)],
            }
        ],
        "layers": layers,
    }


def main() -> None:
    build()
    (HERE / "the_ville_tiles.png").write_bytes(tiles_png())
    (HERE / "the_ville.json").write_text(json.dumps(tiled_map(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'the_ville.json'} and {HERE / 'the_ville_tiles.png'}")


if __name__ == "__main__":
    main()
