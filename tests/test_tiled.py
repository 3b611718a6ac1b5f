"""Maps as the Tiled editor saves them: TMX and JSON, external tilesets, base64 + zlib/gzip and CSV layers, escapes."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import struct
from pathlib import Path

import pytest

from town.world.maps import MapError, load_map
from town.world.pathfinding import Pathfinder
from tests._town_fixtures import tiny_map_dict, write_map

DATA = Path(__file__).resolve().parent / "data" / "tinytown"
REPO = Path(__file__).resolve().parent.parent


def test_tiny_town_tmx_with_external_tsx_and_zlib_layer():
    text = (DATA / "tinytown.tmx").read_text()
    assert 'source="tiny.tsx"' in text and 'compression="zlib"' in text and 'encoding="csv"' in text
    m = load_map(DATA / "tinytown.tmx")
    assert (m.name, m.width, m.height, m.tile_size) == ("Tiny Town", 16, 10, 32)
    assert [la.name for la in m.tile_layers] == ["ground", "decor", "collision"]
    assert [la.visible for la in m.tile_layers] == [True, True, False]
    (ts,) = m.tilesets
    assert (ts.firstgid, ts.name, ts.tilecount, ts.columns) == (1, "tiny", 6, 6)
    assert ts.image == (DATA / "tiny.png").resolve() and ts.image.is_file()
    assert ts.classes == {0: "grass", 1: "road", 2: "floor", 3: "wall", 4: "door", 5: "tree"}
    # the zlib layer decoded: walls round the cottage, its door, the road
    assert m.tile_classes[0][0] == "wall" and m.tile_classes[4][3] == "door" and m.tile_classes[5][7] == "road"
    assert m.tile_layers[1].gids[8][9] == 6 and (9, 8) in m.blocked  # a tree on the CSV decor layer blocks
    assert m.sectors["Home"].private and not m.sectors["Corner Cafe"].private
    assert m.sectors["Corner Cafe"].opening_hours == "7am-7pm"
    assert m.arenas["Home:bedroom"].private and m.arenas["Home:bedroom"].tiles == {
        (x, y) for x in range(1, 5) for y in range(1, 4)}
    assert m.objects["Home:bedroom:lamp"].state == "off" and m.objects["Corner Cafe:cafe:counter"].state == "idle"
    assert m.spawns == {"Home:bedroom": (2, 2), "Corner Cafe:cafe": (12, 2)}
    assert Pathfinder(m).path((2, 2), (12, 2)) is not None


def _grid_b64(grid: list[list[int]], compress) -> str:
    raw = b"".join(struct.pack("<I", g) for row in grid for g in row)
    return base64.b64encode(compress(raw)).decode()


@pytest.mark.parametrize("compression", ["gzip", "zlib", ""])
def test_json_map_with_base64_layers(tmp_path, compression):
    import zlib

    data = tiny_map_dict()
    plain = load_map(write_map(tmp_path, data, "plain.json"))
    squeeze = {"gzip": lambda b: gzip.compress(b, mtime=0), "zlib": zlib.compress, "": lambda b: b}[compression]
    for layer in data["layers"][:2]:
        layer.update(encoding="base64", compression=compression, data=_grid_b64(
            [layer["data"][y * 16:(y + 1) * 16] for y in range(10)], squeeze))
    m = load_map(write_map(tmp_path, data))
    assert m.gids == plain.gids and m.blocked == plain.blocked and m.tile_classes == plain.tile_classes


def test_json_map_with_external_tsj_tileset(tmp_path):
    data = tiny_map_dict()
    embedded = data["tilesets"][0]
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "t.tsj").write_text(json.dumps(
        {k: v for k, v in embedded.items() if k != "firstgid"} | {"image": "t.png", "type": "tileset"}))
    data["tilesets"] = [{"firstgid": 1, "source": "sets/t.tsj"}]
    m = load_map(write_map(tmp_path, data))
    assert m.tile_classes[0][0] == "wall" and m.tilesets[0].image == (tmp_path / "sets" / "t.png").resolve()
    assert m.tileset_images[0]["image"] == str((tmp_path / "sets" / "t.png").resolve())


def _tmx_copy(tmp_path: Path, edit) -> Path:
    town = tmp_path / "town"
    shutil.copytree(DATA, town)
    path = town / "tinytown.tmx"
    path.write_text(edit(path.read_text()))
    return path


@pytest.mark.parametrize("edit,expected", [
    (lambda t: t.replace('source="tiny.tsx"', 'source="../../../../etc/passwd"'),
     "<tileset source>: '../../../../etc/passwd' lies outside the map's folder"),
    (lambda t: t.replace('<object id="1" name="Home"', '<object id="1" template="/etc/x.tx" name="Home"'),
     "<object template>: '/etc/x.tx' lies outside the map's folder"),
    (lambda t: t.replace('source="tiny.tsx"', 'source="gone.tsx"'), "<tileset source>: 'gone.tsx' not found"),
    (lambda t: t.replace("</map>", ""), "invalid XML"),
    (lambda t: t.replace('name="bed"', 'name="b:ed"'), "layers[5].objects[0].name: 'b:ed'"),
    (lambda t: t.replace('name="cafe" x="320"', 'name="cafe" x="224"'), "layers[4].objects[1]: arena 'cafe'"),
    (lambda t: t.replace('<property name="private" type="bool" value="true"/>',
                         '<property name="private" value="yes"/>', 1),
     "layers[3].objects[0].properties.private: expected a bool"),
    (lambda t: t.replace('infinite="0"', 'infinite="1"'), "infinite"),
    (lambda t: t.replace('orientation="orthogonal"', 'orientation="isometric"'), "orientation: only orthogonal"),
])
def test_bad_tmx_names_file_and_field(tmp_path, edit, expected):
    path = _tmx_copy(tmp_path, edit)
    with pytest.raises(MapError) as err:
        load_map(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and expected in msg and "\n" not in msg, msg


def test_tileset_image_outside_the_folders_is_refused(tmp_path):
    town = tmp_path / "town"
    shutil.copytree(DATA, town)
    tsx = town / "tiny.tsx"
    tsx.write_text(tsx.read_text().replace('source="tiny.png"', 'source="../../outside.png"'))
    with pytest.raises(MapError, match=r"tilesets\[0\]\.image: .*outside\.png' lies outside"):
        load_map(town / "tinytown.tmx")


def test_roots_confine_the_map_itself(tmp_path):
    path = write_map(tmp_path, tiny_map_dict())
    with pytest.raises(MapError, match="lies outside the allowed folders"):
        load_map(path, roots=[tmp_path / "elsewhere"])
    assert load_map(path, roots=[tmp_path]).name == "Tinytown"


def test_layers_inside_a_group_count_as_top_level(tmp_path):
    data = tiny_map_dict()
    places = data["layers"][2:]
    data["layers"] = data["layers"][:2] + [{"id": 20, "name": "places", "type": "group", "opacity": 1,
                                            "visible": True, "x": 0, "y": 0, "layers": places}]
    m = load_map(write_map(tmp_path, data))
    assert set(m.sectors) == {"House", "Cafe", "Garden"} and m.spawns["Cafe:cafe"] == (12, 2)
    data["layers"][2]["layers"][0]["objects"][0]["name"] = ""
    with pytest.raises(MapError, match=r"layers\[2\]\.layers\[0\]\.objects\[0\]\.name: empty name"):
        load_map(write_map(tmp_path, data))
