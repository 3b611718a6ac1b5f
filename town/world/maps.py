"""The town map: sectors, arenas, objects and spawns read from a Tiled map (docs/MAKE_A_TOWN.md), checked strictly.

Tiled files are read by town/tiled.py; every problem here raises :class:`MapError` with the file and the field,
e.g. ``maps/x.json: layers[3].objects[2].name: empty name``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from town.world.resources import data_dir
from town.world.tiled import GID_MASK, MapError, MapObject, TiledFile, TileLayer, Tileset, fail, inside, read_tiled

__all__ = ["GID_MASK", "MapError", "TileLayer", "Tileset", "TownMap", "Sector", "Arena", "GameObject", "load_map",
           "inside"]

Tile = tuple[int, int]
Rect = tuple[int, int, int, int]  # x, y, w, h in tiles

REQUIRED_LAYERS = ("ground", "sectors")
KNOWN_OBJECT_LAYERS = ("sectors", "arenas", "objects", "spawns")


@dataclass
class Sector:
    name: str
    rect: Rect
    description: str
    opening_hours: str | None
    private: bool = False  # a home: only the people who live there go in


@dataclass
class Arena:
    address: str
    sector: str
    name: str
    rect: Rect
    tiles: set[Tile]
    description: str
    private: bool = False  # a bedroom: only the person who lives there goes in


@dataclass
class GameObject:
    address: str
    name: str
    arena: str  # the arena's address
    tile: Tile
    state: str
    description: str


@dataclass
class TownMap:
    path: Path
    name: str
    width: int
    height: int
    tile_size: int
    tile_classes: list[list[str]]  # [y][x]
    blocked: set[Tile]
    sectors: dict[str, Sector]
    arenas: dict[str, Arena]
    objects: dict[str, GameObject]
    spawns: dict[str, Tile]
    tileset_images: list[dict[str, Any]]  # older view of ``tilesets`` (those with an image), kept for the renderer
    gids: list[list[int]]  # [y][x] ground gid
    tile_layers: list[TileLayer] = field(default_factory=list)  # every tile layer in Tiled drawing order
    tilesets: list[Tileset] = field(default_factory=list)
    _address_of: dict[Tile, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self._address_of:
            for sector in self.sectors.values():
                for t in rect_tiles(sector.rect):
                    self._address_of.setdefault(t, sector.name)
            for arena in self.arenas.values():
                for t in arena.tiles:
                    self._address_of[t] = arena.address

    def in_bounds(self, tile: Tile) -> bool:
        return 0 <= tile[0] < self.width and 0 <= tile[1] < self.height

    def address_at(self, tile: Tile) -> str:
        """``"Sector:arena"`` if the tile is in an arena, else ``"Sector"``, else ``""`` (the open town)."""
        return self._address_of.get(tuple(tile), "")  # type: ignore[arg-type]

    def arena_at(self, tile: Tile) -> str:
        """The arena address of a tile, or ``""`` when it is in no arena."""
        addr = self.address_at(tile)
        return addr if addr in self.arenas else ""

    def walkable(self, tile: Tile) -> bool:
        return self.in_bounds(tile) and tuple(tile) not in self.blocked

    def kind_of(self, address: str) -> str | None:
        """``"sector"``, ``"arena"``, ``"object"`` or None for an unknown address."""
        if address in self.sectors:
            return "sector"
        if address in self.arenas:
            return "arena"
        if address in self.objects:
            return "object"
        return None

    def location_tree(self) -> nx.DiGraph:
        """town > sector > arena > object; nodes are addresses (the town node is the map name), attr ``kind``."""
        g = nx.DiGraph()
        g.add_node(self.name, kind="town")
        for name in sorted(self.sectors):
            g.add_node(name, kind="sector")
            g.add_edge(self.name, name)
        for addr in sorted(self.arenas):
            g.add_node(addr, kind="arena")
            g.add_edge(self.arenas[addr].sector, addr)
        for addr in sorted(self.objects):
            g.add_node(addr, kind="object")
            g.add_edge(self.objects[addr].arena, addr)
        return g


def rect_tiles(rect: Rect) -> set[Tile]:
    x, y, w, h = rect
    return {(i, j) for j in range(y, y + h) for i in range(x, x + w)}


def rect_contains(outer: Rect, inner: Rect) -> bool:
    ox, oy, ow, oh = outer
    ix, iy, iw, ih = inner
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


# --------------------------------------------------------------------------------------------
def _str_prop(path: Path, props: dict[str, Any], key: str, where: str) -> str | None:
    if key not in props:
        return None
    value = props[key]
    if not isinstance(value, str):
        raise fail(path, f"{where}.properties.{key}".lstrip("."), f"expected a string, got {value!r}")
    return value


def _bool_prop(path: Path, props: dict[str, Any], key: str, where: str) -> bool:
    value = props.get(key, False)
    if not isinstance(value, bool):
        raise fail(path, f"{where}.properties.{key}", f"expected a bool (Tiled type 'bool'), got {value!r}")
    return value


def _rect(o: MapObject, ts: int) -> Rect:
    tx, ty = int(o.x // ts), int(o.y // ts)
    tw = max(1, math.ceil((o.x + o.width) / ts) - tx) if o.width else 0
    th = max(1, math.ceil((o.y + o.height) / ts) - ty) if o.height else 0
    return tx, ty, tw, th


def _name(path: Path, o: MapObject) -> str:
    name = o.name.strip()
    if not name:
        raise fail(path, f"{o.where}.name", "empty name")
    if ":" in name:
        raise fail(path, f"{o.where}.name", f"{name!r}: ':' is the address separator and cannot be in a name")
    return name


class _Checker:
    """Turns the object layers of a parsed Tiled file into sectors, arenas, objects and spawns, strictly."""

    def __init__(self, tf: TiledFile, blocked: set[Tile]) -> None:
        self.tf, self.path, self.ts, self.blocked = tf, tf.path, tf.tile_size, blocked
        self.layers: dict[str, list[MapObject]] = {}
        for where, name, objs in tf.object_layers:
            if name in self.layers and name in KNOWN_OBJECT_LAYERS:
                raise fail(self.path, f"{where}.name", f"duplicate layer {name!r}")
            self.layers.setdefault(name, objs)

    def in_map(self, rect: Rect, where: str) -> None:
        x, y, w, h = rect
        if x < 0 or y < 0 or x + max(w, 1) > self.tf.width or y + max(h, 1) > self.tf.height:
            raise fail(self.path, where, f"outside the {self.tf.width}x{self.tf.height} map (tile rect {rect})")

    def area(self, o: MapObject, kind: str) -> tuple[str, Rect]:
        name, rect = _name(self.path, o), _rect(o, self.ts)
        if rect[2] == 0 or rect[3] == 0:
            raise fail(self.path, o.where, f"{kind} {name!r} must be a rectangle with a size")
        self.in_map(rect, o.where)
        return name, rect

    def sectors(self) -> dict[str, Sector]:
        out: dict[str, Sector] = {}
        for o in self.layers["sectors"]:
            name, rect = self.area(o, "sector")
            if name in out:
                raise fail(self.path, f"{o.where}.name", f"duplicate sector {name!r}")
            out[name] = Sector(name=name, rect=rect,
                               description=_str_prop(self.path, o.properties, "description", o.where) or "",
                               opening_hours=_str_prop(self.path, o.properties, "opening_hours", o.where),
                               private=_bool_prop(self.path, o.properties, "private", o.where))
        return out

    def arenas(self, sectors: dict[str, Sector]) -> dict[str, Arena]:
        out: dict[str, Arena] = {}
        for o in self.layers.get("arenas", []):
            name, rect = self.area(o, "arena")
            owners = [s for s in sectors.values() if rect_contains(s.rect, rect)]
            if not owners:
                raise fail(self.path, o.where, f"arena {name!r} (tile rect {rect}) lies in no sector rectangle")
            sector = min(owners, key=lambda s: s.rect[2] * s.rect[3])
            address = f"{sector.name}:{name}"
            if address in out:
                raise fail(self.path, f"{o.where}.name", f"duplicate arena {address!r}")
            tiles = rect_tiles(rect)
            for other in out.values():
                if other.tiles & tiles:
                    raise fail(self.path, o.where, f"arena {address!r} overlaps arena {other.address!r}")
            out[address] = Arena(address=address, sector=sector.name, name=name, rect=rect, tiles=tiles,
                                 description=_str_prop(self.path, o.properties, "description", o.where) or "",
                                 private=_bool_prop(self.path, o.properties, "private", o.where))
        return out

    def objects(self, arenas: dict[str, Arena]) -> dict[str, GameObject]:
        arena_of: dict[Tile, str] = {t: a.address for a in arenas.values() for t in a.tiles}
        out: dict[str, GameObject] = {}
        for o in self.layers.get("objects", []):
            name = _name(self.path, o)
            # the tile under the object's centre (a point object: the tile under the point)
            tile = (int((o.x + o.width / 2) // self.ts), int((o.y + o.height / 2) // self.ts))
            self.in_map((tile[0], tile[1], 1, 1), o.where)
            arena = arena_of.get(tile)
            if arena is None:
                raise fail(self.path, o.where, f"object {name!r} at tile {tile} lies in no arena")
            address = f"{arena}:{name}"
            if address in out:
                raise fail(self.path, f"{o.where}.name",
                           f"duplicate object {address!r}: give objects in one arena distinct names")
            state = _str_prop(self.path, o.properties, "state", o.where)
            out[address] = GameObject(address=address, name=name, arena=arena, tile=tile,
                                      state=state if state is not None else "idle",
                                      description=_str_prop(self.path, o.properties, "description", o.where) or "")
        return out

    def spawns(self) -> dict[str, Tile]:
        out: dict[str, Tile] = {}
        for o in self.layers.get("spawns", []):
            name = o.name.strip()
            if not name:
                raise fail(self.path, f"{o.where}.name", "empty name")
            x, y, _, _ = _rect(o, self.ts)
            self.in_map((x, y, 1, 1), o.where)
            if (x, y) in self.blocked:
                raise fail(self.path, o.where, f"spawn {name!r} is on a blocked tile {(x, y)}")
            if name in out:
                raise fail(self.path, f"{o.where}.name", f"duplicate spawn {name!r}")
            out[name] = (x, y)
        return out


def default_roots(path: Path) -> list[Path]:
    """Where a map loaded on its own may reach: its own folder tree and the packaged maps folder."""
    return [path.parent, data_dir("maps")]


def load_map(path: str | Path, roots: Sequence[Path] | None = None) -> TownMap:
    """Read and validate a Tiled map (JSON or TMX); it and every file it names must lie inside ``roots``."""
    path = Path(path)
    tf = read_tiled(path, default_roots(path) if roots is None else roots)
    tile_by_name: dict[str, tuple[str, TileLayer]] = {}
    for where, layer in tf.tile_layers:
        if layer.name in tile_by_name and layer.name in ("ground", "collision"):
            raise fail(path, f"{where}.name", f"duplicate layer {layer.name!r} (also {tile_by_name[layer.name][0]})")
        tile_by_name.setdefault(layer.name, (where, layer))
    object_names = {name: where for where, name, _ in tf.object_layers}
    for required in REQUIRED_LAYERS:
        if required not in tile_by_name and required not in object_names:
            raise fail(path, "layers", f"no layer named {required!r}")
    for name in ("ground", "collision"):
        if name in object_names:
            raise fail(path, f"{object_names[name]}.type", f"layer {name!r} must be a tilelayer, got an objectgroup")
    for name in KNOWN_OBJECT_LAYERS:
        if name in tile_by_name:
            raise fail(path, f"{tile_by_name[name][0]}.type", f"layer {name!r} must be an objectgroup, got a tilelayer")

    classes = {ts.firstgid + tid: cls for ts in tf.tilesets for tid, cls in ts.classes.items()}
    gids = tile_by_name["ground"][1].gids
    blocked: set[Tile] = set()
    if "collision" in tile_by_name:
        for y, row in enumerate(tile_by_name["collision"][1].gids):
            blocked.update((x, y) for x, g in enumerate(row) if g)
    checker = _Checker(tf, blocked)
    sectors = checker.sectors()
    arenas = checker.arenas(sectors)
    name = _str_prop(path, tf.properties, "name", "") or path.stem
    return TownMap(
        path=path.resolve(), name=name, width=tf.width, height=tf.height, tile_size=tf.tile_size,
        tile_classes=[[classes.get(g, "") if g else "" for g in row] for row in gids],
        blocked=blocked, sectors=sectors, arenas=arenas, objects=checker.objects(arenas), spawns=checker.spawns(),
        tileset_images=[{"firstgid": ts.firstgid, "image": str(ts.image), "tilewidth": ts.tilewidth,
                         "tileheight": ts.tileheight, "columns": ts.columns}
                        for ts in tf.tilesets if ts.image is not None],
        gids=gids, tile_layers=[layer for _, layer in tf.tile_layers], tilesets=list(tf.tilesets),
    )
