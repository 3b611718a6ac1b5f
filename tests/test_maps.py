"""Map loading and validation, the default map, the location tree, pathfinding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from town.world.maps import MapError, load_map
from town.world.pathfinding import Pathfinder
from tests._town_fixtures import WALLS, tiny_map, tiny_map_dict, write_map

REPO = Path(__file__).resolve().parent.parent
VILLE = REPO / "maps" / "the_ville.json"


# -- the tiny map -----------------------------------------------------------------------------
def test_tiny_map_contents(tmp_path):
    m = tiny_map(tmp_path)
    assert (m.name, m.width, m.height, m.tile_size) == ("Tinytown", 16, 10, 32)
    assert m.blocked == WALLS
    assert set(m.sectors) == {"House", "Cafe", "Garden"}
    assert m.sectors["Cafe"].opening_hours == "8am-8pm" and m.sectors["House"].opening_hours is None
    assert m.sectors["Cafe"].rect == (9, 0, 7, 6)
    assert set(m.arenas) == {"House:room", "Cafe:cafe"}
    assert m.arenas["Cafe:cafe"].tiles == {(x, y) for x in range(10, 15) for y in range(1, 5)}
    assert m.objects["House:room:bed"].tile == (1, 1)
    assert m.objects["House:room:lamp"].state == "idle"  # no state property: idle, per the convention
    assert m.objects["Cafe:cafe:counter"].arena == "Cafe:cafe"
    assert m.spawns == {"House:room": (2, 2), "Cafe:cafe": (12, 2)}
    assert m.tile_classes[0][0] == "wall" and m.tile_classes[2][2] == "floor" and m.tile_classes[8][8] == "grass"
    assert m.gids[0][0] == 3
    assert m.tileset_images == []


def test_tile_layers_and_tilesets_contract(tmp_path):
    """What the renderer reads: every tile layer in drawing order, and the tilesets with their classes."""
    data = tiny_map_dict()
    decor = {"name": "decor", "type": "tilelayer", "width": 16, "height": 10, "data": [0] * 160, "id": 7,
             "opacity": 0.5, "visible": False, "x": 0, "y": 0}
    decor["data"][17] = 2 | 0x40000000  # vertically flipped grass
    data["layers"].insert(1, decor)
    m = load_map(write_map(tmp_path, data))
    assert [layer.name for layer in m.tile_layers] == ["ground", "decor", "collision"]
    ground, dec, coll = m.tile_layers
    assert ground.gids == m.gids and ground.visible and ground.opacity == 1.0
    assert dec.gids[1][1] == 2 and dec.gids[0][0] == 0 and not dec.visible and dec.opacity == 0.5
    assert coll.gids[0][0] == 9 and coll.gids[2][2] == 0
    assert len(m.tilesets) == 1
    ts = m.tilesets[0]
    assert (ts.firstgid, ts.name, ts.image, ts.tilewidth, ts.tileheight, ts.columns, ts.tilecount) == (
        1, "t", None, 32, 32, 9, 9)
    assert ts.classes == {0: "floor", 1: "grass", 2: "wall", 8: "blocked"}


def test_address_at_and_walkable(tmp_path):
    m = tiny_map(tmp_path)
    assert m.address_at((2, 2)) == "House:room"
    assert m.address_at((0, 0)) == "House"  # a wall of the house: in the sector, in no arena
    assert m.address_at((1, 8)) == "Garden"
    assert m.address_at((8, 8)) == ""
    assert m.arena_at((0, 0)) == "" and m.arena_at((12, 2)) == "Cafe:cafe"
    assert not m.walkable((0, 0)) and m.walkable((3, 5)) and not m.walkable((-1, 0)) and not m.walkable((16, 0))


def test_location_tree(tmp_path):
    g = tiny_map(tmp_path).location_tree()
    assert g.nodes["Tinytown"]["kind"] == "town"
    assert sorted(g.successors("Tinytown")) == ["Cafe", "Garden", "House"]
    assert sorted(g.successors("House")) == ["House:room"]
    assert sorted(g.successors("House:room")) == ["House:room:bed", "House:room:lamp"]
    assert g.nodes["Cafe:cafe:counter"]["kind"] == "object"
    assert list(g.predecessors("Cafe:cafe:counter")) == ["Cafe:cafe"]
    assert g.number_of_nodes() == 1 + 3 + 2 + 3


def test_flip_flags_and_old_type_field(tmp_path):
    data = tiny_map_dict()
    data["layers"][0]["data"][0] |= 0x80000000  # horizontally flipped wall tile
    data["tilesets"][0]["tiles"] = [{"id": 2, "type": "wall"}]  # Tiled < 1.9 / 1.10 spelling
    m = load_map(write_map(tmp_path, data))
    assert m.gids[0][0] == 3 and m.tile_classes[0][0] == "wall"
    assert m.tile_classes[8][8] == ""  # no class for that tile id


# -- validation errors name the file and the field --------------------------------------------
def _mutate(fn):
    data = tiny_map_dict()
    fn(data)
    return data


BAD_MAPS = [
    ("orientation", lambda d: d.update(orientation="isometric"), "orientation: only orthogonal"),
    ("infinite", lambda d: d.update(infinite=True), "infinite: infinite maps are not supported"),
    ("width type", lambda d: d.update(width="16"), "width: expected int"),
    ("data length", lambda d: d["layers"][0]["data"].pop(), "layers[0].data: expected 16x10=160 gids, got 159"),
    ("bad gid", lambda d: d["layers"][1]["data"].__setitem__(5, "x"), "layers[1].data[5]: expected a non-negative int gid"),
    ("bad base64", lambda d: d["layers"][0].update(encoding="base64", compression="zlib", data="!!not base64"),
     "not a map Tiled could have saved"),
    ("empty sector name", lambda d: d["layers"][2]["objects"][1].update(name=" "), "layers[2].objects[1].name: empty name"),
    ("colon in name", lambda d: d["layers"][3]["objects"][0].update(name="a:b"), "layers[3].objects[0].name: 'a:b'"),
    ("duplicate sector", lambda d: d["layers"][2]["objects"][2].update(name="House"), "layers[2].objects[2].name: duplicate sector 'House'"),
    ("arena outside sectors", lambda d: d["layers"][3]["objects"][1].update(x=6 * 32), "layers[3].objects[1]: arena 'cafe'"),
    ("object outside arenas", lambda d: d["layers"][4]["objects"][2].update(y=7 * 32), "layers[4].objects[2]: object 'counter' at tile (11, 7) lies in no arena"),
    ("duplicate object", lambda d: d["layers"][4]["objects"][1].update(name="bed", x=32, y=64), "layers[4].objects[1].name: duplicate object 'House:room:bed'"),
    ("property value", lambda d: d["layers"][2]["objects"][0]["properties"][0].pop("value"), "missing field 'value'"),
    ("property type", lambda d: d["layers"][2]["objects"][1]["properties"][1].update(value=8), "layers[2].objects[1].properties.opening_hours: expected a string"),
    ("private not a bool", lambda d: d["layers"][2]["objects"][0]["properties"].append(
        {"name": "private", "type": "string", "value": "yes"}), "layers[2].objects[0].properties.private: expected a bool"),
    ("no ground", lambda d: d["layers"][0].update(name="floor"), "layers: no layer named 'ground'"),
    ("ground is objects", lambda d: d["layers"][0].update(type="objectgroup", objects=[], draworder="topdown"),
     "layers[0].type: layer 'ground' must be a tilelayer"),
    ("sectors is tiles", lambda d: d["layers"][2].update(type="tilelayer", data=[0] * 160, width=16, height=10),
     "layers[2].type: layer 'sectors' must be an objectgroup"),
    ("spawn on wall", lambda d: d["layers"][5]["objects"][0].update(x=16, y=16), "layers[5].objects[0]: spawn 'House:room' is on a blocked tile (0, 0)"),
    ("sector off map", lambda d: d["layers"][2]["objects"][2].update(y=9 * 32), "layers[2].objects[2]: outside the 16x10 map"),
    ("external tileset missing", lambda d: d["tilesets"][0].update(source="t.tsj"), "tilesets[0].source: 't.tsj' not found"),
    ("tileset escapes", lambda d: d["tilesets"][0].update(source="../../../../etc/passwd"),
     "tilesets[0].source: '../../../../etc/passwd' lies outside the map's folder"),
    ("absolute tileset", lambda d: d["tilesets"][0].update(source="/etc/passwd"), "tilesets[0].source: '/etc/passwd' lies outside"),
    ("image escapes", lambda d: d["tilesets"][0].update(image="../../../../secret.png"), "tilesets[0].image: '../../../../secret.png' lies outside"),
    ("ellipse object", lambda d: d["layers"][4]["objects"][0].update(ellipse=True), "layers[4].objects[0]: ellipse objects are not used"),
    ("duplicate ground", lambda d: d["layers"].append({**d["layers"][0], "id": 99}), "layers[6].name: duplicate layer 'ground'"),
    ("tile class type", lambda d: d["tilesets"][0]["tiles"][0].update({"class": 3}), "tilesets[0].tiles[0].class: expected a string"),
    ("missing objects", lambda d: d["layers"][3].pop("objects"), "missing field 'objects'"),
]


@pytest.mark.parametrize("label,mutate,expected", BAD_MAPS, ids=[b[0] for b in BAD_MAPS])
def test_bad_map_names_file_and_field(tmp_path, label, mutate, expected):
    path = write_map(tmp_path, _mutate(mutate))
    with pytest.raises(MapError) as err:
        load_map(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: "), msg
    assert expected in msg, msg


def test_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"width": 3,\n "height": }', encoding="utf-8")
    with pytest.raises(MapError, match=r"broken\.json:2:\d+: invalid JSON"):
        load_map(path)
    with pytest.raises(MapError, match="nope.json: map file not found"):
        load_map(tmp_path / "nope.json")


# -- pathfinding --------------------------------------------------------------------------------
def test_path_goes_around_walls_through_doors(tmp_path):
    m = tiny_map(tmp_path)
    pf = Pathfinder(m)
    path = pf.path((2, 2), (12, 2))
    assert path is not None and path[0] == (2, 2) and path[-1] == (12, 2)
    assert (3, 5) in path and (12, 5) in path  # out through the house door, in through the cafe door
    assert not (set(path) & m.blocked)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(path, path[1:]))
    # shortest: (2,2)->(3,5) is 4 steps, (3,5)->(12,5) around the walls via row 6 is 11, (12,5)->(12,2) is 3
    assert len(path) - 1 == 4 + 11 + 3
    assert pf.path((2, 2), (12, 2)) == path and pf.cache_hits == 1
    assert pf.path((2, 2), (0, 0)) is None  # a wall
    assert pf.travel_minutes((2, 2), (12, 2), tiles_per_tick=6, seconds_per_tick=60) == 3.0
    assert pf.travel_ticks((2, 2), (12, 2), tiles_per_tick=6) == 3


def test_sealed_room_is_unreachable(tmp_path):
    data = tiny_map_dict()
    data["layers"][1]["data"][5 * 16 + 3] = 9  # wall up the house door
    m = load_map(write_map(tmp_path, data))
    pf = Pathfinder(m)
    assert pf.path((2, 2), (12, 2)) is None
    assert not pf.reachable((2, 2), (12, 2)) and pf.reachable((2, 2), (5, 4))


def test_nearest_walkable_and_targets(tmp_path):
    import random

    m = tiny_map(tmp_path)
    pf = Pathfinder(m)
    assert pf.nearest_walkable((0, 0)) == (1, 1)  # the corner of the house: first floor tile inside
    assert m.walkable(pf.nearest_walkable((9, 3)))
    assert pf.nearest_walkable((2, 2)) == (2, 2)
    # next to an object, inside its arena
    bed_tiles = pf.candidate_tiles("House:room:bed")
    assert bed_tiles[0] == (1, 1) and all(max(abs(t[0] - 1), abs(t[1] - 1)) <= 1 for t in bed_tiles)
    assert all(t in m.arenas["House:room"].tiles for t in bed_tiles)
    rng = random.Random(0)
    assert pf.pick_target("House:room:bed", (8, 8), rng) == (1, 1)
    assert pf.pick_target("House:room:bed", (8, 8), rng, occupied={(1, 1)}) == (2, 1)
    for _ in range(20):
        t = pf.pick_target("Cafe:cafe", (8, 8), rng, occupied={(12, 2)})
        assert t in m.arenas["Cafe:cafe"].tiles and t != (12, 2)
    assert pf.pick_target("Cafe:cafe", (12, 2), rng) == (12, 2)  # already there
    with pytest.raises(KeyError):
        pf.candidate_tiles("Nowhere")


# -- the default map ------------------------------------------------------------------------------
def test_the_ville_has_the_places_the_scenarios_need():
    m = load_map(VILLE)
    assert (m.width, m.height, m.tile_size) == (60, 40, 32)
    for home in ("Lin family home", "Moreno family home", "Rodriguez apartment"):
        assert {f"{home}:bedroom", f"{home}:kitchen"} <= set(m.arenas)
        assert {f"{home}:bedroom:bed", f"{home}:bedroom:desk", f"{home}:kitchen:stove"} <= set(m.objects)
    for obj in ("Hobbs Cafe:cafe:counter", "Hobbs Cafe:cafe:coffee machine", "Hobbs Cafe:cafe:cafe table 1",
                "Johnson Park:park:bench", "Johnson Park:park:garden", "Harvey Oak Supply Store:store:shelves",
                "Harvey Oak Supply Store:store:cashier", "Oak Hill College:classroom:desk",
                "Oak Hill College:classroom:blackboard", "Oak Hill College:library:bookshelf"):
        assert obj in m.objects, obj
    assert m.sectors["Hobbs Cafe"].opening_hours == "8am-8pm"
    assert {n for n, s in m.sectors.items() if s.private} == {
        "Lin family home", "Moreno family home", "Rodriguez apartment", "Oak Hill College dorm"}
    assert {a for a, ar in m.arenas.items() if ar.private} == {
        "Oak Hill College dorm:Klaus Mueller's room", "Oak Hill College dorm:Maria Lopez's room"}
    assert all(s.description for s in m.sectors.values())
    assert len(m.blocked) > 100  # walls
    assert m.tileset_images and Path(m.tileset_images[0]["image"]).is_file()
    assert m.tilesets[0].image == Path(m.tileset_images[0]["image"]) and m.tilesets[0].image.is_absolute()
    assert [layer.name for layer in m.tile_layers] == ["ground", "collision"]
    assert not m.tile_layers[1].visible


def test_the_ville_everything_reachable_only_through_doors():
    m = load_map(VILLE)
    pf = Pathfinder(m)
    start = m.spawns["Hobbs Cafe:cafe"]
    for address in [*m.arenas, *m.objects]:
        tiles = pf.candidate_tiles(address)
        assert any(pf.reachable(start, t) for t in tiles), address
    path = pf.path(m.spawns["Rodriguez apartment:bedroom"], start)
    assert path is not None and not (set(path) & m.blocked)
    doors = [t for t in path if m.tile_classes[t[1]][t[0]] == "door"]
    assert len(doors) >= 3  # bedroom door, apartment front door, cafe door


def test_the_ville_json_is_what_the_generator_makes(tmp_path):
    (tmp_path / "tilesets").mkdir()
    shutil.copy(REPO / "maps" / "make_the_ville.py", tmp_path)
    shutil.copy(REPO / "maps" / "town_builder.py", tmp_path)
    shutil.copy(REPO / "maps" / "tilesets" / "town.tsj", tmp_path / "tilesets")
    subprocess.run([sys.executable, str(tmp_path / "make_the_ville.py")], check=True, capture_output=True)
    assert json.loads((tmp_path / "the_ville.json").read_text()) == json.loads(VILLE.read_text())
    assert (tmp_path / "the_ville_tiles.png").read_bytes() == (REPO / "maps" / "the_ville_tiles.png").read_bytes()
    data = json.loads(VILLE.read_text())
    assert data["orientation"] == "orthogonal" and data["infinite"] is False and "tiledversion" in data
    assert data["renderorder"] == "right-down"
