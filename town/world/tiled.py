"""Read a map as the Tiled editor saves it (JSON ``.tmj/.json`` or ``.tmx``, embedded or external ``.tsj/.tsx``
tilesets, CSV or base64 + zlib/gzip layers) through pytiled-parser, into plain layers, tilesets and objects.

Maps are untrusted: every file the map names must stay inside the allowed folders, and every problem is one
:class:`MapError` line naming the file and the field. The town's own meaning (sectors, arenas...) is in maps.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytiled_parser
from pytiled_parser import layer as tl
from pytiled_parser import tiled_object as to

GID_MASK = 0x0FFFFFFF  # Tiled keeps flip/rotation flags in the top four bits of a gid


class MapError(ValueError):
    """A map file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class TileLayer:
    """One tile layer, in Tiled drawing order."""

    name: str
    gids: list[list[int]]  # [y][x], 0 empty, flip bits stripped
    visible: bool = True
    opacity: float = 1.0


@dataclass(frozen=True)
class Tileset:
    firstgid: int
    name: str
    image: Path | None  # absolute
    tilewidth: int
    tileheight: int
    columns: int
    tilecount: int
    classes: dict[int, str] = field(default_factory=dict)  # local tile id -> class


@dataclass(frozen=True)
class MapObject:
    """An object of an object layer, in pixels; ``where`` is its field path for error messages."""

    where: str
    name: str
    x: float
    y: float
    width: float
    height: float
    properties: dict[str, Any]


@dataclass(frozen=True)
class TiledFile:
    path: Path
    width: int
    height: int
    tile_size: int
    properties: dict[str, Any]
    tilesets: list[Tileset]
    tile_layers: list[tuple[str, TileLayer]]  # (where, layer)
    object_layers: list[tuple[str, str, list[MapObject]]]  # (where, name, objects)


def fail(path: Path, where: str, msg: str) -> MapError:
    return MapError(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` (symlinks resolved) lies in one of the ``roots`` folder trees."""
    real = path.resolve()
    return any(real.is_relative_to(root.resolve()) for root in roots)


def _referenced_files(path: Path, text: str) -> Iterator[tuple[str, str]]:
    """(field, relative path) of every file the map itself names: external tilesets, templates, images."""
    if text.lstrip().startswith("<"):
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            line, col = exc.position
            raise MapError(f"{path}:{line}:{col}: invalid XML: {exc.msg if hasattr(exc, 'msg') else exc}") from exc
        for el in root.iter():
            for key in ("source", "template"):
                if key in el.attrib:
                    yield f"<{el.tag} {key}>", el.attrib[key]
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MapError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise fail(path, "", "expected a JSON object (a Tiled map)")
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            sub = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
            if key in ("source", "template", "image") and isinstance(value, str):
                yield sub, value
            elif isinstance(value, (dict, list)):
                stack.append((sub, value))


def _parse(path: Path) -> Any:
    try:
        return pytiled_parser.parse_map(path)
    except KeyError as exc:
        raise fail(path, "", f"missing field {exc.args[0]!r} (save the map from Tiled)") from exc
    except MapError:
        raise
    except Exception as exc:  # noqa: BLE001 - pytiled-parser raises whatever its decoding hit on bad data
        detail = " ".join(str(exc).split())  # one line, whatever the decoder said
        raise fail(path, "", f"not a map Tiled could have saved: {type(exc).__name__}: {detail}") from exc


def _flatten(layers: Sequence[Any], where: str) -> Iterator[tuple[str, Any]]:
    for i, layer in enumerate(layers):
        if isinstance(layer, tl.LayerGroup):
            yield from _flatten(layer.layers or [], f"{where}[{i}].layers")
        else:
            yield f"{where}[{i}]", layer


def _tilesets(path: Path, parsed: Any, roots: Sequence[Path]) -> list[Tileset]:
    out = []
    for i, (firstgid, ts) in enumerate(sorted(parsed.tilesets.items())):
        where = f"tilesets[{i}]"
        image = None
        if ts.image is not None:
            image = Path(ts.image) if Path(ts.image).is_absolute() else path.parent / ts.image
            if not inside(image, roots):
                raise fail(path, f"{where}.image", f"{str(ts.image)!r} lies outside the map's folder")
            image = image.resolve()
        classes = {}
        for tid, tile in (ts.tiles or {}).items():
            cls = tile.class_ or ""
            if not isinstance(cls, str):
                raise fail(path, f"{where}.tiles[{tid}].class", f"expected a string, got {cls!r}")
            classes[int(tid)] = cls
        out.append(Tileset(firstgid=firstgid, name=ts.name, image=image, tilewidth=ts.tile_width,
                           tileheight=ts.tile_height, columns=ts.columns, tilecount=ts.tile_count, classes=classes))
    return out


def _tile_layer(path: Path, layer: Any, where: str, width: int, height: int) -> TileLayer:
    rows = layer.data
    if rows is None:
        raise fail(path, f"{where}.data", "chunked (infinite) layer data is not supported")
    count = sum(len(r) for r in rows)
    if len(rows) != height or any(len(r) != width for r in rows):
        raise fail(path, f"{where}.data", f"expected {width}x{height}={width * height} gids, got {count}")
    gids = []
    for y, row in enumerate(rows):
        for x, g in enumerate(row):
            if not isinstance(g, int) or isinstance(g, bool) or g < 0:
                raise fail(path, f"{where}.data[{y * width + x}]", f"expected a non-negative int gid, got {g!r}")
        gids.append([g & GID_MASK for g in row])
    return TileLayer(name=layer.name, gids=gids, visible=bool(layer.visible), opacity=float(layer.opacity))


def _objects(path: Path, layer: Any, where: str) -> list[MapObject]:
    out = []
    for i, o in enumerate(layer.tiled_objects):
        ow = f"{where}.objects[{i}]"
        if not isinstance(o, (to.Rectangle, to.Point)):
            raise fail(path, ow, f"{type(o).__name__.lower()} objects are not used: draw a rectangle or a point")
        name = o.name
        if not isinstance(name, str):
            raise fail(path, f"{ow}.name", f"expected str, got {name!r}")
        x, y = o.coordinates
        w, h = (0, 0) if isinstance(o, to.Point) else o.size
        for label, v in (("x", x), ("y", y), ("width", w), ("height", h)):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise fail(path, f"{ow}.{label}", f"expected a number, got {v!r}")
        if w < 0 or h < 0:
            raise fail(path, f"{ow}.width", f"bad size {w!r}x{h!r}")
        out.append(MapObject(where=ow, name=name, x=x, y=y, width=w, height=h, properties=dict(o.properties or {})))
    return out


def read_tiled(path: Path, roots: Sequence[Path]) -> TiledFile:
    """Parse a Tiled map; every file it names must lie inside ``roots`` (the map itself too)."""
    if not inside(path, roots):
        raise fail(path, "", "the map lies outside the allowed folders")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise MapError(f"{path}: map file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MapError(f"{path}: cannot read the map: {exc}") from exc
    if not text.strip():
        raise fail(path, "", "empty file")
    for where, ref in _referenced_files(path, text):
        if Path(ref).is_absolute() or not inside(path.parent / ref, roots):
            raise fail(path, where, f"{ref!r} lies outside the map's folder")
        if not where.endswith("image") and not (path.parent / ref).is_file():
            raise fail(path, where, f"{ref!r} not found next to the map")
    parsed = _parse(path)
    if parsed.orientation != "orthogonal":
        raise fail(path, "orientation", f"only orthogonal maps are supported, got {parsed.orientation!r}")
    if parsed.infinite:
        raise fail(path, "infinite", "infinite maps are not supported: save the map as fixed-size")
    width, height = parsed.map_size
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (width, height)):
        raise fail(path, "width", f"expected int, got {width!r}x{height!r}")
    if width < 1 or height < 1:
        raise fail(path, "width", f"map size must be positive, got {width}x{height}")
    tile_w, tile_h = parsed.tile_size
    if tile_w != tile_h or not isinstance(tile_w, int) or tile_w < 1:
        raise fail(path, "tileheight", f"tiles must be square: tilewidth {tile_w}, tileheight {tile_h}")
    tile_layers, object_layers = [], []
    for where, layer in _flatten(parsed.layers, "layers"):
        if isinstance(layer, tl.TileLayer):
            tile_layers.append((where, _tile_layer(path, layer, where, width, height)))
        elif isinstance(layer, tl.ObjectLayer):
            object_layers.append((where, layer.name, _objects(path, layer, where)))
    return TiledFile(path=path, width=width, height=height, tile_size=tile_w, properties=dict(parsed.properties or {}),
                     tilesets=_tilesets(path, parsed, roots), tile_layers=tile_layers, object_layers=object_layers)
