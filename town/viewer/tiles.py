"""The static town picture: every visible tile layer in Tiled order, drawn once off-screen and scaled once per zoom.

Reads the map's ``tile_layers`` and ``tilesets`` (older maps without them get one ``ground`` layer built from the
ground gids); a layer named ``collision`` is never drawn. Tiles of a tileset without a usable image are filled with
their class colour, as are gids no tileset covers.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygame

from town.world.maps import TownMap
from town.viewer import colors as C

log = logging.getLogger("town.viewer")

GID_MASK = 0x0FFFFFFF  # Tiled keeps flip flags in the top bits of a gid
HIDDEN_LAYERS = {"collision"}
SCALED_KEPT = 3  # zoom levels kept pre-scaled


@dataclass
class LayerView:
    """A tile layer as the viewer needs it (the same fields as the loader's ``TileLayer``)."""

    name: str
    gids: list[list[int]]
    visible: bool = True
    opacity: float = 1.0


@dataclass
class TilesetView:
    """A tileset as the viewer needs it (the same fields as the loader's ``Tileset``)."""

    firstgid: int
    name: str
    image: Path | None
    tilewidth: int
    tileheight: int
    columns: int
    tilecount: int
    classes: dict[int, str] = field(default_factory=dict)  # local tile id -> class


def map_layers(m: TownMap) -> tuple[list[Any], list[Any]]:
    """The map's tile layers and tilesets; a map loaded without them yields its ground layer and image tilesets."""
    layers = getattr(m, "tile_layers", None)
    tilesets = getattr(m, "tilesets", None)
    if layers:  # a map built in code may leave them empty
        return list(layers), sorted(tilesets or [], key=lambda t: t.firstgid)
    # class per gid, read off the ground layer, so colour fallback works without tileset records
    classes: dict[int, str] = {}
    for gid_row, cls_row in zip(m.gids, m.tile_classes):
        for g, cls in zip(gid_row, cls_row):
            if g:
                classes.setdefault(g, cls)
    sets = []
    for info in sorted(m.tileset_images, key=lambda t: t["firstgid"]):
        cols = info["columns"]
        sets.append(TilesetView(info["firstgid"], Path(info["image"]).stem, Path(info["image"]), info["tilewidth"],
                                info["tileheight"], cols, 0, {}))
    return [LayerView("ground", m.gids)], sets


class TileImages:
    """Tile pictures by gid, cut from tileset sheets and scaled to the map's tile size (None: draw by class)."""

    def __init__(self, tilesets: list[Any], tile_size: int, gid_classes: dict[int, str]) -> None:
        self.tilesets = tilesets
        self.ts = tile_size
        self.gid_classes = gid_classes
        self.sheets: dict[int, pygame.Surface | None] = {}
        self._cache: dict[int, pygame.Surface | None] = {}

    def _sheet(self, tset: Any) -> pygame.Surface | None:
        if tset.firstgid not in self.sheets:
            image = None
            if tset.image is not None:
                try:
                    image = pygame.image.load(str(tset.image))
                except (pygame.error, FileNotFoundError) as exc:
                    log.warning("tileset image %s cannot be loaded (%s); drawing its tiles by class colour",
                                tset.image, exc)
            self.sheets[tset.firstgid] = image
        return self.sheets[tset.firstgid]

    def tileset_of(self, gid: int) -> Any | None:
        found = None
        for tset in self.tilesets:
            if gid >= tset.firstgid:
                found = tset
        return found

    def get(self, gid: int) -> pygame.Surface | None:
        if gid not in self._cache:
            self._cache[gid] = None
            tset = self.tileset_of(gid)
            sheet = self._sheet(tset) if tset is not None else None
            if tset is not None and sheet is not None and tset.columns > 0:
                idx = gid - tset.firstgid
                tw, th = tset.tilewidth, tset.tileheight
                src = pygame.Rect((idx % tset.columns) * tw, (idx // tset.columns) * th, tw, th)
                if sheet.get_rect().contains(src):
                    sub = sheet.subsurface(src)
                    self._cache[gid] = sub if (tw, th) == (self.ts, self.ts) else pygame.transform.scale(
                        sub, (self.ts, self.ts))
        return self._cache[gid]

    def class_of(self, gid: int) -> str:
        if gid in self.gid_classes:
            return self.gid_classes[gid]
        tset = self.tileset_of(gid)
        return tset.classes.get(gid - tset.firstgid, "") if tset is not None else ""


class StaticMap:
    """The pre-rendered map at its own tile size, and copies scaled to the last few zoom levels."""

    def __init__(self, m: TownMap) -> None:
        self.map = m
        self.layers, self.tilesets = map_layers(m)
        gid_classes = {g: cls for gr, cr in zip(m.gids, m.tile_classes) for g, cls in zip(gr, cr) if g and cls}
        self.images = TileImages(self.tilesets, m.tile_size, gid_classes)
        self.drawn_layers: list[str] = []
        self.base = self._draw()
        self._scaled: OrderedDict[int, pygame.Surface] = OrderedDict()

    def _draw(self) -> pygame.Surface:
        m, ts = self.map, self.map.tile_size
        base = pygame.Surface((m.width * ts, m.height * ts), 0, 32)
        base.fill(C.BACKGROUND)
        any_image = False
        for layer in self.layers:
            if not layer.visible or layer.name.lower() in HIDDEN_LAYERS or layer.opacity <= 0:
                continue
            target = base
            if layer.opacity < 1:  # draw apart, then blend the whole layer at its opacity
                target = pygame.Surface(base.get_size(), pygame.SRCALPHA, 32)
            any_image |= self._draw_layer(target, layer)
            if target is not base:
                target.set_alpha(round(255 * layer.opacity))
                base.blit(target, (0, 0))
            self.drawn_layers.append(layer.name)
        if not any_image:  # a map drawn only by class colours: mark what cannot be walked
            for x, y in m.blocked:
                rect = pygame.Rect(x * ts, y * ts, ts, ts)
                under = tuple(base.get_at(rect.topleft))[:3]
                base.fill(C.shade(under, C.BLOCKED_SHADE), rect)  # type: ignore[arg-type]
        return base

    def _draw_layer(self, target: pygame.Surface, layer: Any) -> bool:
        """Blit one layer's tiles; True when at least one came from a tileset image."""
        ts, used_image = self.map.tile_size, False
        for y, row in enumerate(layer.gids):
            for x, raw in enumerate(row):
                gid = raw & GID_MASK
                if not gid:
                    continue
                img = self.images.get(gid)
                if img is not None:
                    target.blit(img, (x * ts, y * ts))
                    used_image = True
                else:
                    target.fill(C.class_color(self.images.class_of(gid)), (x * ts, y * ts, ts, ts))
        return used_image

    def scaled(self, tile_px: int) -> pygame.Surface:
        """The map with ``tile_px`` pixels per tile (nearest-neighbour up, smoothed down)."""
        surf = self._scaled.get(tile_px)
        if surf is None:
            m = self.map
            size = (m.width * tile_px, m.height * tile_px)
            if tile_px == m.tile_size:
                surf = self.base
            elif tile_px > m.tile_size:
                surf = pygame.transform.scale(self.base, size)
            else:
                surf = pygame.transform.smoothscale(self.base, size)
            self._scaled[tile_px] = surf
            while len(self._scaled) > SCALED_KEPT:
                self._scaled.popitem(last=False)
        else:
            self._scaled.move_to_end(tile_px)
        return surf
