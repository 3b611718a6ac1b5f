"""Generate ``maps/smallville.tmj``, the 140 x 100 town of the ``smallville`` scenario, as Tiled 1.10 would save it.

Run from the repository root: ``python maps/make_smallville.py``. Deterministic, so the committed map can be
regenerated and diffed. Tiles come from the external tileset ``tilesets/town.tsj``, looked up by class name, so a
redrawn tileset drops in without touching the map. Layout: homes north of Main Street, shops and the square
between Main Street and College Avenue, the park, apartments and the artists' house south of it; the college
and its dorm in the east. Walls, water, trees and fences block; every room has a door.
"""

from __future__ import annotations

import json
from functools import partial

from town_builder import (  # noqa: I001 - a sibling module: run as a script from maps/
    BATHROOM, GID, H, HERE, KITCHEN, W, arena, arenas,
    building, door, furnish, ground, house, obj, objects, paint,
    plant, room, row_building, sector, sectors, shop, spawn, tiled_map,
)


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

    def own_room(where: str, who: str, thing: tuple[str, str, str]) -> tuple:
        """A resident's private room: a bedroom's furniture and one thing of their own."""
        return room(f"{who}'s room", f"{who}'s {where}", True, [thing])

    student = partial(own_room, "dorm room")
    artist = partial(own_room, "room in the co-living house")

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


def main() -> None:
    build()
    out = HERE / "smallville.tmj"
    out.write_text(json.dumps(tiled_map(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {W}x{H} tiles, {len(sectors)} sectors, {len(arenas)} arenas, {len(objects)} objects")


if __name__ == "__main__":
    main()
