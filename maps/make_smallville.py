"""Generate ``maps/smallville.tmj``, the 140 x 100 town of the ``smallville`` scenario, as Tiled 1.10 would save it.

Run from the repository root: ``python maps/make_smallville.py``. Deterministic, so the committed map can be
regenerated and diffed. Tiles come from the external tileset ``tilesets/town.tsj``, looked up by class name, so a
redrawn tileset drops in without touching the map. Layout: homes north of Main Street, shops and the square
between Main Street and College Avenue, the park, apartments and the artists' house south of it; the college
and its dorm in the east. Walls, water, trees and fences block; every room has a door.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
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


def sector(name: str, rect: tuple[int, int, int, int], description: str, hours: str | None = None,
           private: bool = False) -> None:
    p: dict[str, str | bool] = {"description": description}
    if hours is not None:
        p["opening_hours"] = hours
    if private:
        p["private"] = True
    sectors.append(_rect_obj(name, *rect, props(**p)))


def arena(name: str, rect: tuple[int, int, int, int], description: str, private: bool = False) -> None:
    p: dict[str, str | bool] = {"description": description}
    if private:
        p["private"] = True
    arenas.append(_rect_obj(name, *rect, props(**p)))


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


def roads() -> None:
    for y0 in (32, 64):  # Main Street, College Avenue
        paint(0, y0 - 1, W - 1, y0 + 3, "sidewalk")
        paint(0, y0, W - 1, y0 + 2, "road")
        paint(0, y0 + 1, W - 1, y0 + 1, "road_line")
    for x0 in (36, 100):  # Willow Lane, Oak Road
        paint(x0 - 1, 0, x0 + 3, H - 1, "sidewalk")
        paint(x0, 0, x0 + 2, H - 1, "road")
        paint(x0 + 1, 0, x0 + 1, H - 1, "road_line")
    for y0 in (32, 64):  # crossings: plain road where the streets meet
        for x0 in (36, 100):
            paint(x0, y0, x0 + 2, y0 + 2, "road")


def homes() -> None:
    study = room("study", "a quiet study with a desk and shelves",
                 extra=[("desk", "a writing desk", "idle"), ("bookshelf", "shelves of files and books", "idle")])
    house("Lin family home", 2, 16, [
        room("master bedroom", "John and Mei Lin's bedroom", True),
        room("Eddy's bedroom", "Eddy Lin's bedroom, crowded with sheet music", True,
             [("keyboard", "Eddy's electric keyboard", "off")]),
    ], "the home of the Lin family: John Lin the pharmacist, Mei Lin the professor and their son Eddy")
    house("Moreno family home", 19, 16, [
        room("bedroom", "Tom and Jane Moreno's bedroom", True),
        room("yoga room", "Jane's practice room with mats and a mirror", extra=[("yoga mat", "a rolled yoga mat", "rolled")]),
    ], "the home of Tom and Jane Moreno, across the lane from the Lins")
    house("Moore family home", 41, 16, [
        room("bedroom", "Sam and Jennifer Moore's bedroom", True),
        room("painting studio", "Jennifer's sunny studio", extra=[("easel", "an easel with a canvas", "idle")]),
    ], "the home of Sam and Jennifer Moore")
    house("Taylor and Ortiz home", 56, 16, [
        room("Tamara's bedroom", "Tamara Taylor's bedroom", True),
        room("Carmen's bedroom", "Carmen Ortiz's bedroom", True),
    ], "the house Tamara Taylor and Carmen Ortiz share")
    house("Yamamoto home", 71, 16, [room("bedroom", "Yuriko Yamamoto's bedroom", True), study],
          "Yuriko Yamamoto's home")
    house("Smith home", 85, 16, [room("bedroom", "Adam Smith's bedroom", True), study], "Adam Smith's home")
    plant(2, 2, 32, 2, "fence")
    plant(41, 2, 97, 2, "fence")
    for x in range(3, 98, 6):
        if x not in range(33, 41):
            plant(x, 6, x, 6, "tree")
            plant(x + 2, 10, x + 2, 10, "flowers")


def apartments_and_dorms() -> None:
    def unit(who: str) -> tuple:
        return room(f"{who}'s apartment", f"{who}'s one-room apartment", True,
                    [("stove", "a two-ring stove", "off"), ("refrigerator", "a small refrigerator", "stocked")])

    row_building("Willow Street apartments", 1, 70, [
        unit("Isabella Rodriguez"), unit("Arthur Burton"), unit("Ryan Park"), unit("Giorgio Rossi"),
        unit("Carlos Gomez"),
        room("laundry room", "the shared laundry", extra=[("washing machine", "a washing machine", "idle")]),
        room("bike storage", "a room of bicycles", extra=[("bike rack", "a bike rack", "idle")]),
        room("mail room", "the residents' mailboxes", extra=[("mailboxes", "a wall of mailboxes", "idle")]),
    ], "hallway", [("notice board", "the residents' notice board", "idle")],
        "a small apartment house on Willow Street", door_east=True)

    def student(who: str, thing: tuple[str, str, str]) -> tuple:
        return room(f"{who}'s room", f"{who}'s dorm room", True, [thing])

    row_building("Oak Hill College dorm", 105, 38, [
        student("Klaus Mueller", ("stack of books", "books on cities and housing", "idle")),
        student("Maria Lopez", ("game console", "Maria's streaming set-up", "off")),
        student("Ayesha Khan", ("poetry shelf", "a shelf of poetry collections", "idle")),
        student("Wolfgang Schulz", ("running shoes", "a pair of running shoes", "idle")),
        room("dorm kitchen", "the students' kitchen", extra=KITCHEN),
        room("bathroom", "the shared bathroom", extra=BATHROOM),
        room("study room", "a quiet room for group study", extra=[("whiteboard", "a whiteboard", "clean")]),
        room("laundry room", "the dorm laundry", extra=[("washing machine", "a washing machine", "idle")]),
    ], "common room", [("sofa", "a worn sofa", "idle"), ("television", "the common room television", "off"),
                      ("ping pong table", "a ping pong table", "idle")],
        "the dormitory of Oak Hill College, where students live", door_east=False)

    def artist(who: str, thing: tuple[str, str, str]) -> tuple:
        return room(f"{who}'s room", f"{who}'s room in the co-living house", True, [thing])

    row_building("Artists' co-living space", 105, 70, [
        artist("Latoya Williams", ("camera bag", "Latoya's cameras and lenses", "idle")),
        artist("Rajiv Patel", ("pottery wheel", "Rajiv's pottery wheel", "idle")),
        artist("Abigail Chen", ("drawing tablet", "Abigail's drawing tablet and computer", "off")),
        artist("Francisco Lopez", ("mirror", "a full-length mirror for rehearsing", "idle")),
        artist("Hailey Johnson", ("typewriter", "Hailey's old typewriter", "idle")),
        room("kitchen", "the shared kitchen", extra=KITCHEN),
        room("studio", "a shared studio with good light",
             extra=[("easel", "an easel", "idle"), ("kiln", "a small kiln", "off")]),
        room("bathroom", "the shared bathroom", extra=BATHROOM),
    ], "common room", [("sofa", "a long sofa", "idle"), ("record player", "a record player", "off")],
        "a big old house where five artists live and work together", door_east=False)


def college() -> None:
    x0, y0, x1, y1 = 105, 3, 137, 27
    building(x0, y0, x1, y1, "floor")
    paint(x0 + 1, 13, x1 - 1, 13, "wall")
    paint(x0 + 1, 17, x1 - 1, 17, "wall")
    sector("Oak Hill College", (x0, y0, x1, y1),
           "the town's college: classrooms, a library, a music room and a chemistry lab", "8am-10pm")
    arena("hallway", (x0 + 1, 14, x1 - 1, 16), "the college's main hallway")
    furnish((x0 + 3, 14, x1 - 3, 16), [("notice board", "notices of lectures and clubs", "idle"),
                                       ("water fountain", "a drinking fountain", "idle")])
    door(x0, 15)
    paint(x0 - 1, 15, x0 - 1, 15, "dirt")
    top = [("classroom A", "a classroom with rows of desks", 10,
            [("blackboard", "a blackboard", "clean"), ("lectern", "the lecturer's lectern", "idle"),
             ("student desks", "rows of student desks", "idle")]),
           ("classroom B", "a seminar room around one long table", 10,
            [("whiteboard", "a whiteboard", "clean"), ("seminar table", "a long seminar table", "idle")]),
           ("faculty office", "the professors' shared office", 0,
            [("desk", "a desk piled with papers", "idle"), ("coffee maker", "a coffee maker", "off")])]
    bottom = [("library", "a quiet library with study tables", 15,
               [("bookshelf", "shelves of books on every subject", "idle"), ("study table", "a long study table", "idle"),
                ("computer", "a library computer", "off"), ("librarian's desk", "the lending desk", "idle")]),
              ("music room", "a practice room with a piano", 7, [("piano", "a grand piano", "closed")]),
              ("chemistry lab", "a laboratory with fume hoods", 0,
               [("lab bench", "a lab bench with burners", "idle"), ("fume hood", "a fume hood", "off")])]
    for rooms, ry0, ry1, door_y in ((top, y0 + 1, 12, 13), (bottom, 18, y1 - 1, 17)):
        x = x0 + 1
        for i, (name, desc, width, items) in enumerate(rooms):
            rx1 = x1 - 1 if i == len(rooms) - 1 else x + width - 1
            arena(name, (x, ry0, rx1, ry1), desc)
            furnish((x, ry0, rx1, ry1), items)
            door((x + rx1) // 2, door_y)
            if i < len(rooms) - 1:
                paint(rx1 + 1, ry0, rx1 + 1, ry1, "wall")
            x = rx1 + 2
    plant(106, 29, 137, 29, "bush")


def downtown() -> None:
    shop("Rose and Crown Pub", (3, 38, 17, 50), 8, [
        ("bar", "the bar room with its long counter", 9,
         [("bar counter", "the long wooden bar", "idle"), ("beer taps", "the beer taps", "idle"),
          ("jukebox", "an old jukebox", "off"), ("pub table", "a round pub table", "idle")]),
        ("back room", "a back room with a small stage", 0,
         [("stage", "a small stage for open-mic nights", "idle"), ("dartboard", "a dartboard", "idle")]),
    ], "the town's pub, run by Arthur Burton", "4pm-1am", floor="wood")
    shop("Willows Pharmacy", (20, 38, 33, 50), 26, [
        ("pharmacy", "the pharmacy counter and shelves", 0,
         [("pharmacy counter", "the dispensing counter", "idle"), ("medicine shelves", "shelves of remedies", "idle"),
          ("waiting chairs", "a row of chairs", "idle")]),
    ], "John Lin's pharmacy", "9am-7pm", floor="tile")
    shop("Post Office", (3, 52, 17, 61), 10, [
        ("post office", "the post office counter", 0,
         [("counter", "the post counter", "idle"), ("parcel shelves", "shelves of parcels", "idle"),
          ("post box", "the post box", "empty")]),
    ], "the town's post office, where Adam Smith is postmaster", "8am-5pm", door_north=False)
    shop("Town Hall", (20, 52, 33, 61), 26, [
        ("council chamber", "a chamber with a long table for town meetings", 7,
         [("council table", "the long council table", "idle"), ("podium", "a speaker's podium", "idle")]),
        ("offices", "offices of the town clerk and the town's lawyer", 0,
         [("desk", "a desk with files", "idle"), ("filing cabinet", "a filing cabinet", "closed")]),
    ], "the town hall, where the council meets and the mayoral election is run", "9am-5pm", door_north=False)
    shop("Hobbs Cafe", (41, 37, 58, 49), 48, [
        ("cafe", "the cafe's counter and seating area", 12,
         [("counter", "the serving counter", "idle"), ("coffee machine", "an espresso machine", "off"),
          ("cafe table 1", "a table for two", "idle"), ("cafe table 2", "a table for four", "idle"),
          ("cafe table 3", "a table by the window", "idle"), ("piano", "an old upright piano", "closed")]),
        ("cafe kitchen", "the small kitchen behind the counter", 0,
         [("oven", "a pastry oven", "off"), ("refrigerator", "a cafe refrigerator", "stocked")]),
    ], "a cosy cafe run by Isabella Rodriguez: coffee, pastries and light meals", "8am-8pm")
    shop("Willow Market", (61, 37, 78, 49), 66, [
        ("shop floor", "aisles of groceries", 12,
         [("produce stand", "fresh fruit and vegetables", "stocked"), ("bread shelf", "bread and pastries", "stocked"),
          ("cashier", "the checkout counter", "idle"), ("flower bucket", "buckets of cut flowers", "stocked")]),
        ("storeroom", "the back storeroom", 0, [("crates", "crates of stock", "idle")]),
    ], "Tom Moreno's grocery", "7am-9pm", floor="tile")
    shop("Harvey Oak Supply Store", (81, 37, 97, 49), 86, [
        ("store", "the shop floor", 0,
         [("shelves", "shelves of tools and household goods", "stocked"),
          ("garden supplies", "seeds, soil and tools", "stocked"), ("party supplies", "decorations and candles", "stocked"),
          ("cashier", "the cashier's counter", "idle")]),
    ], "a general store of tools, garden and party supplies, run by Carmen Ortiz", "9am-6pm", floor="wood")
    # the town square: a plaza with a fountain between the shops and College Avenue
    paint(41, 51, 97, 61, "plaza")
    sector("Town Square", (41, 51, 97, 61), "the paved square at the heart of town", "always open")
    arena("square", (41, 51, 97, 61), "the open square with a fountain and benches")
    paint(68, 55, 70, 57, "water")
    obj("fountain", 69, 54, "the fountain at the centre of the square", "running")
    obj("bench", 60, 56, "a bench facing the fountain")
    obj("notice board", 50, 52, "the town notice board")
    obj("food cart", 85, 58, "a food cart selling tacos at lunch", "closed")
    for x in range(42, 97, 5):
        plant(x, 61, x, 61, "flowers")


def park() -> None:
    x0, y0, x1, y1 = 41, 69, 97, 98
    sector("Johnson Park", (x0, y0, x1, y1), "a big green park with a pond, a garden and a playground",
           "always open")
    paint(x0, 83, x1, 84, "dirt")
    paint(69, y0, 70, y1, "dirt")
    arena("lawn", (x0, y0, 68, 82), "open lawns and old trees")
    arena("pond", (71, y0, x1, 82), "the duck pond and its benches")
    arena("community garden", (x0, 85, 68, y1), "the community garden's raised beds")
    arena("playground", (71, 85, x1, y1), "swings and a sandpit")
    for x in range(43, 67, 4):
        plant(x, 72, x, 72, "tree")
        plant(x + 2, 78, x + 2, 78, "flowers")
    paint(78, 72, 92, 79, "water")
    paint(71, 92, 80, 97, "sand")
    plant(x0, 86, x0, y1, "fence")
    obj("picnic table", 50, 75, "a picnic table under an oak")
    obj("bench", 60, 80, "a bench on the lawn")
    obj("pond bench", 75, 75, "a bench by the pond")
    obj("duck pond", 77, 76, "the duck pond", "calm")
    obj("raised beds", 50, 90, "raised vegetable beds", "growing")
    obj("tool shed", 64, 96, "the garden tool shed", "closed")
    obj("swings", 84, 88, "a pair of swings")
    obj("sandpit", 75, 94, "the sandpit")
    spawn("Johnson Park:lawn", 55, 80)


def edges() -> None:
    for x in range(0, W, 3):
        for y in (0, H - 1):
            if ground[y][x] == GID["grass"]:
                plant(x, y, x, y, "tree")
    for y in range(0, H, 3):
        for x in (0, W - 1):
            if ground[y][x] == GID["grass"]:
                plant(x, y, x, y, "tree")
    for x, y in ((8, 90), (14, 92), (22, 88), (28, 94), (112, 90), (120, 92), (128, 88), (134, 94)):
        plant(x, y, x, y, "tree")
        plant(x + 1, y + 2, x + 1, y + 2, "bush")
        plant(x - 1, y + 1, x - 1, y + 1, "flowers")


def build() -> None:
    roads()
    homes()
    apartments_and_dorms()
    college()
    downtown()
    park()
    edges()
    spawn("Hobbs Cafe:cafe", 47, 44)


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


def main() -> None:
    build()
    out = HERE / "smallville.tmj"
    out.write_text(json.dumps(tiled_map(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {W}x{H} tiles, {len(sectors)} sectors, {len(arenas)} arenas, {len(objects)} objects")


if __name__ == "__main__":
    main()
