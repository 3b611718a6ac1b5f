"""Load and validate a Tiled JSON town map (see "Tiled map convention" in docs/ARCHITECTURE.md).

Every problem raises :class:`MapError` with the file and the JSON path of the field, e.g.
``maps/x.json: layers[3].objects[2].name: empty name``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

Tile = tuple[int, int]
Rect = tuple[int, int, int, int]  # x, y, w, h in tiles

GID_MASK = 0x0FFFFFFF  # Tiled keeps flip/rotation flags in the top four bits of a gid
REQUIRED_LAYERS = ("ground", "sectors")
KNOWN_OBJECT_LAYERS = ("sectors", "arenas", "objects", "spawns")


class MapError(ValueError):
    """A map file that cannot be used; the message names the file and the field."""


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
    tileset_images: list[dict[str, Any]]
    gids: list[list[int]]  # [y][x] ground gid
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
class _Ctx:
    """Error helper: knows the file, raises MapError with a field path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, msg: str) -> MapError:
        return MapError(f"{self.path}: {where}: {msg}" if where else f"{self.path}: {msg}")

    def get(self, obj: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
        if key not in obj:
            raise self.fail(f"{where}.{key}" if where else key, "missing")
        value = obj[key]
        if isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
            raise self.fail(f"{where}.{key}" if where else key, f"expected {_tname(typ)}, got {value!r}")
        if not isinstance(value, typ):
            raise self.fail(f"{where}.{key}" if where else key, f"expected {_tname(typ)}, got {value!r}")
        return value


def _tname(typ: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__


def _properties(ctx: _Ctx, obj: dict[str, Any], where: str) -> dict[str, Any]:
    props = obj.get("properties", [])
    if not isinstance(props, list):
        raise ctx.fail(f"{where}.properties", "expected a list of {name, type, value}")
    out: dict[str, Any] = {}
    for i, p in enumerate(props):
        pw = f"{where}.properties[{i}]"
        if not isinstance(p, dict):
            raise ctx.fail(pw, "expected an object {name, type, value}")
        name = ctx.get(p, "name", str, pw)
        if "value" not in p:
            raise ctx.fail(f"{pw}.value", "missing")
        if name in out:
            raise ctx.fail(f"{pw}.name", f"duplicate property {name!r}")
        out[name] = p["value"]
    return out


def _str_prop(ctx: _Ctx, props: dict[str, Any], key: str, where: str) -> str | None:
    if key not in props:
        return None
    value = props[key]
    if not isinstance(value, str):
        raise ctx.fail(f"{where}.properties.{key}", f"expected a string, got {value!r}")
    return value


def _bool_prop(ctx: _Ctx, props: dict[str, Any], key: str, where: str) -> bool:
    value = props.get(key, False)
    if not isinstance(value, bool):
        raise ctx.fail(f"{where}.properties.{key}", f"expected a bool (Tiled type 'bool'), got {value!r}")
    return value


def _flatten_layers(ctx: _Ctx, layers: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(layers, list):
        raise ctx.fail(where, "expected a list of layers")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, layer in enumerate(layers):
        lw = f"{where}[{i}]"
        if not isinstance(layer, dict):
            raise ctx.fail(lw, "expected a layer object")
        ltype = ctx.get(layer, "type", str, lw)
        if ltype == "group":
            out.extend(_flatten_layers(ctx, layer.get("layers", []), f"{lw}.layers"))
        else:
            out.append((lw, layer))
    return out


def _tile_classes(ctx: _Ctx, data: dict[str, Any], base: Path) -> tuple[dict[int, str], list[dict[str, Any]]]:
    tilesets = ctx.get(data, "tilesets", list, "")
    classes: dict[int, str] = {}
    images: list[dict[str, Any]] = []
    for i, ts in enumerate(tilesets):
        tw = f"tilesets[{i}]"
        if not isinstance(ts, dict):
            raise ctx.fail(tw, "expected a tileset object")
        firstgid = ctx.get(ts, "firstgid", int, tw)
        if firstgid < 1:
            raise ctx.fail(f"{tw}.firstgid", f"must be >= 1, got {firstgid}")
        if "source" in ts:
            raise ctx.fail(f"{tw}.source", "external tilesets are not supported: embed the tileset in the map")
        tiles = ts.get("tiles", [])
        if not isinstance(tiles, list):
            raise ctx.fail(f"{tw}.tiles", "expected a list")
        for j, tile in enumerate(tiles):
            tlw = f"{tw}.tiles[{j}]"
            if not isinstance(tile, dict):
                raise ctx.fail(tlw, "expected a tile object")
            tid = ctx.get(tile, "id", int, tlw)
            cls = tile.get("class", tile.get("type", ""))
            if not isinstance(cls, str):
                raise ctx.fail(f"{tlw}.class", f"expected a string, got {cls!r}")
            classes[firstgid + tid] = cls
        if "image" in ts:
            image = ctx.get(ts, "image", str, tw)
            images.append(
                {
                    "firstgid": firstgid,
                    "image": str((base / image).resolve()),
                    "tilewidth": ctx.get(ts, "tilewidth", int, tw),
                    "tileheight": ctx.get(ts, "tileheight", int, tw),
                    "columns": ctx.get(ts, "columns", int, tw),
                }
            )
    return classes, images


def _tile_layer(ctx: _Ctx, layer: dict[str, Any], where: str, width: int, height: int) -> list[list[int]]:
    if layer.get("type") != "tilelayer":
        raise ctx.fail(f"{where}.type", f"layer {layer.get('name')!r} must be a tilelayer, got {layer.get('type')!r}")
    if "encoding" in layer and layer["encoding"] != "csv":
        raise ctx.fail(f"{where}.encoding", f"only CSV tile data is supported, got {layer['encoding']!r}")
    cells = ctx.get(layer, "data", list, where)
    if len(cells) != width * height:
        raise ctx.fail(f"{where}.data", f"expected {width}x{height}={width * height} gids, got {len(cells)}")
    rows: list[list[int]] = []
    for y in range(height):
        row = []
        for x in range(width):
            g = cells[y * width + x]
            if not isinstance(g, int) or isinstance(g, bool) or g < 0:
                raise ctx.fail(f"{where}.data[{y * width + x}]", f"expected a non-negative int gid, got {g!r}")
            row.append(g & GID_MASK)
        rows.append(row)
    return rows


def _rect(ctx: _Ctx, obj: dict[str, Any], where: str, ts: int) -> Rect:
    x = ctx.get(obj, "x", (int, float), where)
    y = ctx.get(obj, "y", (int, float), where)
    w = obj.get("width", 0)
    h = obj.get("height", 0)
    if not isinstance(w, (int, float)) or not isinstance(h, (int, float)) or w < 0 or h < 0:
        raise ctx.fail(f"{where}.width", f"bad size {w!r}x{h!r}")
    tx, ty = int(x // ts), int(y // ts)
    tw = max(1, math.ceil((x + w) / ts) - tx) if w else 0
    th = max(1, math.ceil((y + h) / ts) - ty) if h else 0
    return tx, ty, tw, th


def _name(ctx: _Ctx, obj: dict[str, Any], where: str) -> str:
    name = ctx.get(obj, "name", str, where).strip()
    if not name:
        raise ctx.fail(f"{where}.name", "empty name")
    if ":" in name:
        raise ctx.fail(f"{where}.name", f"{name!r}: ':' is the address separator and cannot be in a name")
    return name


def _objects(ctx: _Ctx, layer: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    if layer.get("type") != "objectgroup":
        raise ctx.fail(f"{where}.type", f"layer {layer.get('name')!r} must be an objectgroup, got {layer.get('type')!r}")
    objs = ctx.get(layer, "objects", list, where)
    out = []
    for i, o in enumerate(objs):
        if not isinstance(o, dict):
            raise ctx.fail(f"{where}.objects[{i}]", "expected an object")
        out.append((f"{where}.objects[{i}]", o))
    return out


def load_map(path: str | Path) -> TownMap:
    """Read and validate a Tiled JSON map."""
    path = Path(path)
    ctx = _Ctx(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise MapError(f"{path}: map file not found") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MapError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ctx.fail("", "expected a JSON object (a Tiled map)")
    orientation = ctx.get(data, "orientation", str, "")
    if orientation != "orthogonal":
        raise ctx.fail("orientation", f"only orthogonal maps are supported, got {orientation!r}")
    if ctx.get(data, "infinite", bool, ""):
        raise ctx.fail("infinite", "infinite maps are not supported: save the map as fixed-size")
    width = ctx.get(data, "width", int, "")
    height = ctx.get(data, "height", int, "")
    if width < 1 or height < 1:
        raise ctx.fail("width", f"map size must be positive, got {width}x{height}")
    tile_size = ctx.get(data, "tilewidth", int, "")
    if ctx.get(data, "tileheight", int, "") != tile_size or tile_size < 1:
        raise ctx.fail("tileheight", f"tiles must be square: tilewidth {tile_size}, tileheight {data['tileheight']}")
    map_props = _properties(ctx, data, "")
    name = _str_prop(ctx, map_props, "name", "") or path.stem

    classes, images = _tile_classes(ctx, data, path.parent)
    layers = _flatten_layers(ctx, ctx.get(data, "layers", list, ""), "layers")
    by_name: dict[str, tuple[str, dict[str, Any]]] = {}
    for lw, layer in layers:
        lname = ctx.get(layer, "name", str, lw)
        if lname in by_name and lname in ("ground", "collision", *KNOWN_OBJECT_LAYERS):
            raise ctx.fail(f"{lw}.name", f"duplicate layer {lname!r} (also {by_name[lname][0]})")
        by_name.setdefault(lname, (lw, layer))
    for required in REQUIRED_LAYERS:
        if required not in by_name:
            raise ctx.fail("layers", f"no layer named {required!r}")

    gw, ground = by_name["ground"]
    gids = _tile_layer(ctx, ground, gw, width, height)
    tile_classes = [[classes.get(g, "") if g else "" for g in row] for row in gids]
    blocked: set[Tile] = set()
    if "collision" in by_name:
        cw, collision = by_name["collision"]
        for y, row in enumerate(_tile_layer(ctx, collision, cw, width, height)):
            blocked.update((x, y) for x, g in enumerate(row) if g)

    def check_in_map(rect: Rect, where: str) -> None:
        x, y, w, h = rect
        if x < 0 or y < 0 or x + max(w, 1) > width or y + max(h, 1) > height:
            raise ctx.fail(where, f"outside the {width}x{height} map (tile rect {rect})")

    sectors: dict[str, Sector] = {}
    sw, slayer = by_name["sectors"]
    for ow, o in _objects(ctx, slayer, sw):
        sname = _name(ctx, o, ow)
        rect = _rect(ctx, o, ow, tile_size)
        if rect[2] == 0 or rect[3] == 0:
            raise ctx.fail(ow, f"sector {sname!r} must be a rectangle with a size")
        check_in_map(rect, ow)
        if sname in sectors:
            raise ctx.fail(f"{ow}.name", f"duplicate sector {sname!r}")
        props = _properties(ctx, o, ow)
        sectors[sname] = Sector(
            name=sname,
            rect=rect,
            description=_str_prop(ctx, props, "description", ow) or "",
            opening_hours=_str_prop(ctx, props, "opening_hours", ow),
            private=_bool_prop(ctx, props, "private", ow),
        )

    arenas: dict[str, Arena] = {}
    if "arenas" in by_name:
        aw, alayer = by_name["arenas"]
        for ow, o in _objects(ctx, alayer, aw):
            aname = _name(ctx, o, ow)
            rect = _rect(ctx, o, ow, tile_size)
            if rect[2] == 0 or rect[3] == 0:
                raise ctx.fail(ow, f"arena {aname!r} must be a rectangle with a size")
            check_in_map(rect, ow)
            owners = [s for s in sectors.values() if rect_contains(s.rect, rect)]
            if not owners:
                raise ctx.fail(ow, f"arena {aname!r} (tile rect {rect}) lies in no sector rectangle")
            sector = min(owners, key=lambda s: s.rect[2] * s.rect[3])
            address = f"{sector.name}:{aname}"
            if address in arenas:
                raise ctx.fail(f"{ow}.name", f"duplicate arena {address!r}")
            for other in arenas.values():
                if other.tiles & rect_tiles(rect):
                    raise ctx.fail(ow, f"arena {address!r} overlaps arena {other.address!r}")
            props = _properties(ctx, o, ow)
            arenas[address] = Arena(
                address=address,
                sector=sector.name,
                name=aname,
                rect=rect,
                tiles=rect_tiles(rect),
                description=_str_prop(ctx, props, "description", ow) or "",
                private=_bool_prop(ctx, props, "private", ow),
            )

    arena_of: dict[Tile, str] = {t: a.address for a in arenas.values() for t in a.tiles}
    objects: dict[str, GameObject] = {}
    if "objects" in by_name:
        ow_, olayer = by_name["objects"]
        for ow, o in _objects(ctx, olayer, ow_):
            oname = _name(ctx, o, ow)
            _rect(ctx, o, ow, tile_size)  # validates position and size
            # the tile under the object's centre (a point object: the tile under the point)
            tile = (
                int((o["x"] + o.get("width", 0) / 2) // tile_size),
                int((o["y"] + o.get("height", 0) / 2) // tile_size),
            )
            check_in_map((tile[0], tile[1], 1, 1), ow)
            arena = arena_of.get(tile)
            if arena is None:
                raise ctx.fail(ow, f"object {oname!r} at tile {tile} lies in no arena")
            address = f"{arena}:{oname}"
            if address in objects:
                raise ctx.fail(f"{ow}.name", f"duplicate object {address!r}: give objects in one arena distinct names")
            props = _properties(ctx, o, ow)
            state = _str_prop(ctx, props, "state", ow)
            objects[address] = GameObject(
                address=address,
                name=oname,
                arena=arena,
                tile=tile,
                state=state if state is not None else "idle",
                description=_str_prop(ctx, props, "description", ow) or "",
            )

    spawns: dict[str, Tile] = {}
    if "spawns" in by_name:
        spw, splayer = by_name["spawns"]
        for ow, o in _objects(ctx, splayer, spw):
            sname = ctx.get(o, "name", str, ow).strip()
            if not sname:
                raise ctx.fail(f"{ow}.name", "empty name")
            x, y, _, _ = _rect(ctx, o, ow, tile_size)
            check_in_map((x, y, 1, 1), ow)
            if (x, y) in blocked:
                raise ctx.fail(ow, f"spawn {sname!r} is on a blocked tile {(x, y)}")
            if sname in spawns:
                raise ctx.fail(f"{ow}.name", f"duplicate spawn {sname!r}")
            spawns[sname] = (x, y)

    return TownMap(
        path=path.resolve(),
        name=name,
        width=width,
        height=height,
        tile_size=tile_size,
        tile_classes=tile_classes,
        blocked=blocked,
        sectors=sectors,
        arenas=arenas,
        objects=objects,
        spawns=spawns,
        tileset_images=images,
        gids=gids,
    )
