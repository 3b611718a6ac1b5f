"""The generated art and the pixel-art viewer: tileset script, tile layers, sprites, day/night, minimap, agent list.

Off-screen under SDL's dummy drivers; pixels of rendered frames are compared with the tileset images.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import pygame  # noqa: E402
import pytest  # noqa: E402

from town.world.events import Event  # noqa: E402
from town.world.maps import TownMap, load_map  # noqa: E402
from town.viewer.framebench import frame_times, generated_town  # noqa: E402
from town.viewer.renderer import Renderer  # noqa: E402
from town.viewer.sprites import furniture_kind  # noqa: E402
from town.viewer.state import TownState  # noqa: E402
from town.viewer.tiles import LayerView, TilesetView  # noqa: E402
from tests._town_fixtures import as_tiled_saves  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / "maps" / "tilesets"
CLASS_ORDER = ["grass", "grass_dark", "flowers", "tree", "bush", "road", "road_line", "sidewalk", "plaza", "dirt",
               "sand", "water", "floor", "wood", "tile", "carpet", "wall", "door", "fence", "blocked"]
TS = 32
NOON = datetime(2023, 2, 13, 12, 0)


def gid(cls: str) -> int:
    return CLASS_ORDER.index(cls) + 1


def art_map(path: Path, ground: list[list[str]], objects: list[tuple[str, int, int, str]] = ()) -> TownMap:
    """A small Tiled map over the generated tileset; ``wall`` and ``water`` tiles are blocked. Without objects the
    one sector (and its label) lies on an extra row of floor below ``ground``, clear of the tiles tests sample."""
    if not objects:
        ground = [*ground, ["floor"] * len(ground[0])]
    h, w = len(ground), len(ground[0])
    room = (0, 0, w, h) if objects else (0, h - 1, w, 1)
    for name in ("town.tsj", "town.png"):  # an external tileset next to the map, as Tiled keeps it
        (path.parent / name).write_bytes((ART / name).read_bytes())
    tileset = {"firstgid": 1, "source": "town.tsj"}
    g = [gid(c) for row in ground for c in row]
    coll = [gid("blocked") if c in ("wall", "water") else 0 for row in ground for c in row]

    def rect(name: str, x: int, y: int, rw: int, rh: int, **props: str) -> dict:
        return {"name": name, "x": x * TS, "y": y * TS, "width": rw * TS, "height": rh * TS,
                "properties": [{"name": k, "type": "string", "value": v} for k, v in props.items()]}

    data = {
        "orientation": "orthogonal", "infinite": False, "width": w, "height": h, "tilewidth": TS, "tileheight": TS,
        "tilesets": [tileset],
        "layers": [
            {"type": "tilelayer", "name": "ground", "width": w, "height": h, "data": g},
            {"type": "tilelayer", "name": "collision", "width": w, "height": h, "data": coll},
            {"type": "objectgroup", "name": "sectors", "objects": [rect("Home", *room)]},
            {"type": "objectgroup", "name": "arenas", "objects": [rect("room", *room)]},
            {"type": "objectgroup", "name": "objects",
             "objects": [rect(n, x, y, 1, 1, state=s) for n, x, y, s in objects]},
            {"type": "objectgroup", "name": "spawns", "objects": [{"name": "door", "x": 0, "y": (h - 1) * TS}]},
        ],
    }
    path.write_text(json.dumps(as_tiled_saves(data)))
    return load_map(path)


def sheet_tile(cls: str) -> pygame.Surface:
    return pygame.image.load(str(ART / "town.png")).subsurface((CLASS_ORDER.index(cls) * TS, 0, TS, TS))


def native(r: Renderer) -> Renderer:
    """One screen pixel per map pixel, the map's corner one tile right of and three below the clock's corner."""
    r.camera.zoom, r.camera.x, r.camera.y = 1.0, -1.0, -3.0
    return r


def tile_pixels(r: Renderer, tile: tuple[int, int], offsets: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    x0, y0 = r.world_to_screen((tile[0] - 0.5, tile[1] - 0.5))
    return [tuple(r.surface.get_at((x0 + dx, y0 + dy)))[:3] for dx, dy in offsets]  # type: ignore[misc]


OFFSETS = [(3, 20), (9, 27), (16, 16), (25, 24), (30, 30)]  # clear of the sector label in the top-left corner


def agents_at(seq: int, tick: int, when: datetime = NOON, **tiles: tuple[int, int]) -> Event:
    return Event(seq=seq, tick=tick, time=when, type="agents", agent=None, data={"states": {
        n.replace("_", " "): {"tile": list(t), "address": "", "activity": "", "emoji": "", "conversation": None}
        for n, t in tiles.items()}})


# -- the tileset script -------------------------------------------------------------------------
def test_tileset_script_is_deterministic_and_matches_the_committed_art(tmp_path: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        subprocess.run([sys.executable, str(ART / "make_tileset.py"), str(out)], check=True, capture_output=True)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == ["furniture.png", "people.png", "sprites.json", "town.png", "town.tsj"]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
        if name.endswith(".png"):  # pixels, not bytes: PNG encoders may differ between machines
            fresh, committed = (pygame.image.load(str(d / name)) for d in (outs[0], ART))
            assert pygame.image.tobytes(fresh, "RGBA") == pygame.image.tobytes(committed, "RGBA"), name
        else:
            assert (outs[0] / name).read_text() == (ART / name).read_text(), name


def test_tsj_is_a_tiled_tileset_with_the_class_order() -> None:
    ts = json.loads((ART / "town.tsj").read_text())
    assert ts["type"] == "tileset" and ts["image"] == "town.png"
    assert (ts["tilecount"], ts["columns"], ts["tilewidth"], ts["tileheight"]) == (20, 20, 32, 32)
    assert [t["class"] for t in sorted(ts["tiles"], key=lambda t: t["id"])][:20] == CLASS_ORDER
    img = pygame.image.load(str(ART / ts["image"]))
    assert img.get_size() == (ts["imagewidth"], ts["imageheight"]) == (20 * 32, 32)
    # a well-kept Tiled parser reads it the same way
    pytiled = pytest.importorskip("pytiled_parser")
    parsed = pytiled.parse_tileset(ART / "town.tsj")
    assert [parsed.tiles[i].class_ for i in range(20)] == CLASS_ORDER


# -- tiles ----------------------------------------------------------------------------------------
def test_renderer_draws_the_tileset_pixels_and_hides_collision(tmp_path: Path) -> None:
    m = art_map(tmp_path / "m.json", [["grass", "road", "wall", "water"], ["wood", "carpet", "tile", "sidewalk"]])
    r = native(Renderer(m, 800, 400, panel_width=200))
    r.render(TownState())
    for y, row in enumerate([["grass", "road", "wall", "water"], ["wood", "carpet", "tile", "sidewalk"]]):
        for x, cls in enumerate(row):
            want = [tuple(sheet_tile(cls).get_at(o))[:3] for o in OFFSETS]
            assert tile_pixels(r, (x, y), OFFSETS) == want, cls  # blocked wall/water too: collision hidden
    assert r.static.drawn_layers == ["ground"]


def test_every_tile_layer_in_order_invisible_and_collision_skipped(tmp_path: Path) -> None:
    m = art_map(tmp_path / "m.json", [["grass"] * 3, ["grass"] * 3, ["floor"] * 3])
    sheet = TilesetView(1, "town", ART / "town.png", TS, TS, 20, 20, dict(enumerate(CLASS_ORDER)))
    colours = TilesetView(100, "plain", None, TS, TS, 0, 2, {0: "water", 1: "wall"})
    decor = [[0, gid("tree"), 0], [0, 0, 101]]
    m.tile_layers = [  # type: ignore[attr-defined]
        LayerView("ground", [[gid("grass")] * 3, [gid("grass")] * 3, [gid("floor")] * 3]),
        LayerView("decor", [*decor, [0] * 3]),
        LayerView("hidden", [[gid("water")] * 3] * 3, visible=False),
        LayerView("collision", [[gid("blocked")] * 3] * 3),
    ]
    m.tilesets = [colours, sheet]  # type: ignore[attr-defined]
    r = native(Renderer(m, 800, 400, panel_width=200))
    r.render(TownState())
    assert r.static.drawn_layers == ["ground", "decor"]
    grass = [tuple(sheet_tile("grass").get_at(o))[:3] for o in OFFSETS]
    tree = [tuple(sheet_tile("tree").get_at(o))[:3] for o in OFFSETS]
    assert tile_pixels(r, (0, 0), OFFSETS) == grass
    assert tile_pixels(r, (1, 0), OFFSETS) == tree  # the upper layer over the ground
    from town.viewer import colors as C

    assert set(tile_pixels(r, (2, 1), OFFSETS)) == {C.class_color("wall")}  # no image: its class colour


# -- people and furniture ---------------------------------------------------------------------------
def test_facing_and_step_frames_follow_the_moves(tmp_path: Path) -> None:
    m = art_map(tmp_path / "m.json", [["grass"] * 6 for _ in range(5)])
    r = native(Renderer(m, 800, 400, panel_width=200))
    s = TownState()
    s.apply(agents_at(1, 1, Ada=(2, 2)))
    r.render(s)
    assert r.agent_poses["Ada"] == ("down", 0)  # never moved: facing the viewer, standing
    standing = pygame.image.tobytes(r.surface.subsurface(r.agent_rects["Ada"]), "RGB")
    s.apply(agents_at(2, 2, Ada=(3, 2)))
    r.render(s, alpha=0.25)
    first = r.agent_poses["Ada"]
    r.render(s, alpha=0.75)
    second = r.agent_poses["Ada"]
    assert first[0] == second[0] == "right" and {first[1], second[1]} == {1, 2}  # the feet alternate
    r.render(s, alpha=1.0)
    assert r.agent_poses["Ada"] == ("right", 0)
    facing_right = pygame.image.tobytes(r.surface.subsurface(r.agent_rects["Ada"]), "RGB")
    s.apply(agents_at(3, 3, Ada=(3, 1)))
    r.render(s)
    assert r.agent_poses["Ada"] == ("up", 0)
    facing_up = pygame.image.tobytes(r.surface.subsurface(r.agent_rects["Ada"]), "RGB")
    assert len({standing, facing_right, facing_up}) == 3  # three different pictures


def test_furniture_is_drawn_by_kind_and_shows_its_state(tmp_path: Path) -> None:
    kinds = ["bed", "desk", "coffee_machine", "object"]
    assert [furniture_kind(n, kinds) for n in ("bed", "student desk", "Coffee Machine", "mystery box")] == kinds
    m = art_map(tmp_path / "m.json", [["floor"] * 4 for _ in range(3)],
                [("coffee machine", 1, 1, "idle"), ("bed", 2, 1, "idle")])
    r = native(Renderer(m, 800, 400, panel_width=200))
    floor = [tuple(sheet_tile("floor").get_at(o))[:3] for o in OFFSETS]
    s = TownState()
    r.render(s)
    idle = tile_pixels(r, (1, 1), OFFSETS)
    assert idle != floor and tile_pixels(r, (2, 1), OFFSETS) not in (floor, idle)  # each kind its own picture
    s.apply(Event(seq=1, tick=1, time=NOON, type="object_state", agent=None,
                  data={"address": "Home:room:coffee machine", "state": "brewing"}))
    r.render(s)
    assert tile_pixels(r, (1, 1), OFFSETS) != idle


# -- day and night --------------------------------------------------------------------------------
def test_night_is_darker_than_noon_and_dawn_in_between(tmp_path: Path) -> None:
    m = art_map(tmp_path / "m.json", [["grass"] * 6 for _ in range(5)])
    r = native(Renderer(m, 800, 400, panel_width=200))
    area = pygame.Rect(r.world_to_screen((-0.5, 1)), (6 * TS, 2 * TS))  # on the map, below the clock

    def brightness(hour: int) -> float:
        s = TownState()
        s.apply(agents_at(1, 1, when=datetime(2023, 2, 13, hour, 0), Ada=(5, 0)))
        r.render(s)
        return sum(pygame.transform.average_color(r.surface, area)[:3])

    noon, dawn, night = brightness(12), brightness(6), brightness(23)
    assert night < dawn < noon


# -- minimap and agent list ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_town(tmp_path_factory: pytest.TempPathFactory) -> TownMap:
    return load_map(generated_town(tmp_path_factory.mktemp("big"), 60, 40))


def test_minimap_only_when_the_map_does_not_fit_and_a_click_moves_the_camera(big_town: TownMap) -> None:
    r = Renderer(big_town, 1000, 700)
    r.render(TownState())
    assert r.minimap.rect is None  # fitted: the whole town is in view
    r.camera.zoom = 1.0
    r.center_on((5, 5))
    r.render(TownState())
    mini = r.minimap.rect
    assert mini is not None
    target = (mini.x + mini.w * 3 // 4, mini.y + mini.h * 3 // 4)  # about tile (45, 30)
    want = r.minimap.tile_at(target)
    assert want is not None and want[0] > 40 and want[1] > 25
    assert r.click(target)
    got = r.screen_to_tile(r.view.center)
    assert abs(got[0] - want[0]) <= 1 and abs(got[1] - want[1]) <= 1


def test_agent_list_fits_25_people_and_a_click_selects_and_follows(big_town: TownMap) -> None:
    r = Renderer(big_town, 1200, 800)
    names = {f"Person_{i:02d}": (1 + i, 1) for i in range(25)}
    s = TownState()
    s.apply(agents_at(1, 1, **names))
    r.render(s)
    assert sorted(r.panel_rows) == sorted(n.replace("_", " ") for n in names)  # all 25 listed
    assert r.click(r.panel_rows["Person 17"].center)
    assert r.selected == "Person 17" and r.follow
    r.camera.zoom = 1.0
    r.render(s)
    assert r.screen_to_tile(r.view.center) == (18, 1)  # followed: in the middle of the view
    assert not r.panel_rows  # the panel now shows that person
    empty = r.world_to_screen((18, 8))
    assert r.click(empty) and r.selected is None and not r.follow


def test_frame_bench_measures_frames_with_25_people(big_town: TownMap) -> None:
    rows = frame_times(big_town.path, [f"P{i}" for i in range(25)], ticks=2, frames_per_tick=2, width=640, height=400)
    assert [(row["people"], row["view"], row["frames"]) for row in rows] == [
        (25, "whole map", 4), (25, "zoomed, following", 4)]
    assert all(row["mean_ms"] > 0 and row["p95_ms"] > 0 for row in rows)


def test_smallville_as_saved_by_tiled_draws_its_layers(tmp_path: Path) -> None:
    """The shipped map (external .tsj, zlib layers, a decor layer over the ground) shows the tileset's pixels."""
    m = load_map(ROOT / "maps" / "smallville.tmj")
    layers = {layer.name: layer for layer in m.tile_layers}
    assert {"ground", "decor", "collision"} <= set(layers)
    r = Renderer(m, 1000, 700, panel_width=200)
    r.camera.zoom = 1.0
    sheet = pygame.image.load(str(ART / "town.png"))
    near_places = [pygame.Rect(s.rect).inflate(2, 2) for s in m.sectors.values()]
    checked, decor_seen = 0, 0
    for centre in ((70, 50), (12, 12), (12, 88), (128, 88), (70, 94)):  # streets and greens between places
        r.center_on(centre)
        r.render(TownState())
        assert "collision" not in r.static.drawn_layers and r.static.drawn_layers[:2] == ["ground", "decor"]
        shown = r.visible_tiles()
        for y in range(max(0, shown.top), min(m.height, shown.bottom)):
            for x in range(max(0, shown.left), min(m.width, shown.right)):
                x0, y0 = r.world_to_screen((x - 0.5, y - 0.5))
                rect = pygame.Rect(x0, y0, TS, TS)
                if (not r.view.contains(rect) or y0 < 60 or rect.colliderect(r.minimap.rect)
                        or any(p.collidepoint(x, y) for p in near_places)):
                    continue  # under the clock, the minimap or a place's outline and name
                top = layers["decor"].gids[y][x] or layers["ground"].gids[y][x]
                want = [tuple(sheet.get_at(((top - 1) * TS + dx, dy)))[:3] for dx, dy in OFFSETS]
                assert tile_pixels(r, (x, y), OFFSETS) == want, (x, y)
                checked += 1
                decor_seen += bool(layers["decor"].gids[y][x])
    assert checked >= 20 and decor_seen >= 1


def test_a_half_transparent_layer_blends_over_the_one_below(tmp_path: Path) -> None:
    m = art_map(tmp_path / "m.json", [["grass"] * 2, ["grass"] * 2])
    sheet = TilesetView(1, "town", ART / "town.png", TS, TS, 20, 20, dict(enumerate(CLASS_ORDER)))
    m.tile_layers = [LayerView("ground", [[gid("road")] * 2] * 2),  # type: ignore[attr-defined]
                     LayerView("shade", [[gid("sand")] * 2] * 2, opacity=0.5)]
    m.tilesets = [sheet]  # type: ignore[attr-defined]
    r = native(Renderer(m, 800, 400, panel_width=200))
    r.render(TownState())
    road, sand = (tuple(sheet_tile(c).get_at((16, 16)))[:3] for c in ("road", "sand"))
    got = tile_pixels(r, (1, 1), [(16, 16)])[0]
    assert all(abs(g - (a + b) / 2) <= 2 for g, a, b in zip(got, road, sand))
