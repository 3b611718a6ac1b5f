"""Draw a :class:`~town.viewer.state.TownState` over a :class:`~town.world.maps.TownMap` onto an off-screen surface.

The renderer never opens a window: it draws onto ``Renderer.surface`` (a plain ``pygame.Surface``), which the
live viewer and replay blit to the display and tests read pixels from. The tile layers are drawn once and scaled
once per zoom level (``tiles``); people and furniture (``sprites``), the day/night tint and bubbles
(``overlays``), the minimap and the side panel are drawn on top each frame. Hit areas of what was drawn (people,
bubbles, panel rows, timeline, minimap) are kept for mouse handling and tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pygame

from town.world.maps import TownMap
from town.viewer import colors as C
from town.viewer import overlays
from town.viewer.minimap import Minimap
from town.viewer.overlays import BUBBLE_TICKS  # noqa: F401 (re-exported for callers and tests)
from town.viewer.panel import draw_panel
from town.viewer.sprites import Sprites, furniture_kind, pose
from town.viewer.state import AgentView, TownState
from town.viewer.text import Text
from town.viewer.tiles import StaticMap

Tile = tuple[int, int]
MAX_MAP_PIXELS = 16_000_000  # cap on the size of a pre-scaled map (limits the zoom on big maps)
MAX_TILE_PX = 96
MIN_TILE_PX = 4
MIN_SPRITE_PX = 16  # people stay this big when the map is zoomed far out


@dataclass
class Camera:
    """The view onto the map: ``x, y`` is the world point (in tiles) at the view's top-left corner;
    ``zoom`` scales the map's own tile size (1.0 = one map pixel per screen pixel)."""

    x: float = 0.0
    y: float = 0.0
    zoom: float = 1.0


class Renderer:
    """Renders the town onto ``self.surface`` (``width`` x ``height``), with a side panel on the right."""

    def __init__(self, town_map: TownMap, width: int, height: int, *, panel_width: int = 320) -> None:
        if width < 200 or height < 150:
            raise ValueError(f"viewer size {width}x{height} is too small (at least 200x150)")
        if not 0 <= panel_width <= width - 100:
            raise ValueError(f"panel_width {panel_width} must leave at least 100 px of map in a {width} px wide view")
        self.town_map = town_map
        self.width, self.height = width, height
        self.surface = pygame.Surface((width, height), 0, 32)
        self.view = pygame.Rect(0, 0, width - panel_width, height)
        self.panel = pygame.Rect(width - panel_width, 0, panel_width, height)
        self.text = Text()
        self.static = StaticMap(town_map)
        self.sprites = Sprites()
        self.minimap = Minimap(self.static.base, town_map.width, town_map.height)
        self.kinds = {addr: furniture_kind(o.name, self.sprites.kinds) for addr, o in town_map.objects.items()}
        area = town_map.width * town_map.height
        self.max_tile_px = max(MIN_TILE_PX, min(MAX_TILE_PX, int(math.sqrt(MAX_MAP_PIXELS / area))))
        self.camera = Camera()
        self.selected: str | None = None
        self.follow = False  # keep the selected person in the middle of the view
        # hit areas and poses of the last render
        self.agent_rects: dict[str, pygame.Rect] = {}
        self.agent_poses: dict[str, tuple[str, int]] = {}
        self.bubble_rects: dict[str, pygame.Rect] = {}
        self.panel_rows: dict[str, pygame.Rect] = {}
        self.timeline_rect: pygame.Rect | None = None
        self.timeline_span: tuple[int, int] | None = None
        self.fit()

    # -- camera -------------------------------------------------------------------------------
    @property
    def tile_px(self) -> int:
        """Screen pixels per tile at the current zoom."""
        return max(MIN_TILE_PX, min(self.max_tile_px, round(self.town_map.tile_size * self.camera.zoom)))

    def fit(self) -> None:
        """Zoom and centre so the whole map fits in the view."""
        m = self.town_map
        tp = max(MIN_TILE_PX, min(self.view.w // m.width, self.view.h // m.height, self.max_tile_px))
        self.camera.zoom = tp / m.tile_size
        self.camera.x = m.width / 2 - self.view.w / tp / 2
        self.camera.y = m.height / 2 - self.view.h / tp / 2

    def center_on(self, tile: tuple[float, float]) -> None:
        """Put the centre of ``tile`` in the middle of the view."""
        tp = self.tile_px
        self.camera.x = tile[0] + 0.5 - self.view.w / tp / 2
        self.camera.y = tile[1] + 0.5 - self.view.h / tp / 2
        self._clamp()

    def pan(self, dx_px: float, dy_px: float) -> None:
        """Move the view by screen pixels (and stop following: the user took the camera)."""
        self.follow = False
        tp = self.tile_px
        self.camera.x += dx_px / tp
        self.camera.y += dy_px / tp
        self._clamp()

    def zoom_at(self, factor: float, screen_pos: tuple[int, int] | None = None) -> None:
        """Zoom by ``factor`` keeping the world point under ``screen_pos`` (default: view centre) in place."""
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor}")
        sx, sy = screen_pos if screen_pos is not None else self.view.center
        old = self.tile_px
        wx, wy = self.camera.x + sx / old, self.camera.y + sy / old
        new = max(MIN_TILE_PX, min(self.max_tile_px, round(old * factor)))
        if new == old:  # make every step count at small sizes
            new = max(MIN_TILE_PX, min(self.max_tile_px, old + (1 if factor > 1 else -1)))
        self.camera.zoom = new / self.town_map.tile_size
        self.camera.x, self.camera.y = wx - sx / new, wy - sy / new
        self._clamp()

    def _clamp(self) -> None:
        tp = self.tile_px
        vw, vh = self.view.w / tp, self.view.h / tp
        m = self.town_map
        self.camera.x = min(max(self.camera.x, -vw / 2), m.width - vw / 2)
        self.camera.y = min(max(self.camera.y, -vh / 2), m.height - vh / 2)

    def world_to_screen(self, tile: tuple[float, float]) -> tuple[int, int]:
        """Screen pixel of the centre of ``tile`` (fractional tiles allowed, for moving agents)."""
        tp = self.tile_px
        return (
            self.view.x + math.floor((tile[0] + 0.5 - self.camera.x) * tp),
            self.view.y + math.floor((tile[1] + 0.5 - self.camera.y) * tp),
        )

    def screen_to_tile(self, pos: tuple[int, int]) -> Tile:
        """The tile under a screen pixel (may be outside the map)."""
        tp = self.tile_px
        return (
            math.floor(self.camera.x + (pos[0] - self.view.x) / tp),
            math.floor(self.camera.y + (pos[1] - self.view.y) / tp),
        )

    def map_fits(self) -> bool:
        """True when the whole map is inside the view at the current zoom (then no minimap is needed)."""
        tp = self.tile_px
        x0, y0 = self.world_to_screen((-0.5, -0.5))
        rect = pygame.Rect(x0, y0, self.town_map.width * tp, self.town_map.height * tp)
        return self.view.contains(rect)

    # -- hit tests ----------------------------------------------------------------------------
    def agent_at(self, pos: tuple[int, int]) -> str | None:
        """The agent drawn (sprite or panel row) at a screen pixel in the last render, if any."""
        for name, rect in self.panel_rows.items():
            if rect.collidepoint(pos):
                return name
        for name, rect in reversed(list(self.agent_rects.items())):  # topmost drawn last
            if rect.collidepoint(pos):
                return name
        return None

    def timeline_tick_at(self, pos: tuple[int, int]) -> int | None:
        """The tick under a click on the timeline bar of the last render, or None if it missed the bar."""
        if self.timeline_rect is None or self.timeline_span is None or not self.timeline_rect.collidepoint(pos):
            return None
        first, last = self.timeline_span
        frac = (pos[0] - self.timeline_rect.x) / max(1, self.timeline_rect.w - 1)
        return first + round(frac * (last - first))

    def click(self, pos: tuple[int, int]) -> bool:
        """A left click on the last frame: the minimap moves the camera, a person (on the map or in the list)
        is selected (from the list also followed), the empty map clears the selection. True if it hit any."""
        tile = self.minimap.tile_at(pos)
        if tile is not None:
            self.follow = False
            self.center_on(tile)
            return True
        name = self.agent_at(pos)
        if name is not None:
            self.selected = name
            self.follow = name in self.panel_rows and self.panel_rows[name].collidepoint(pos)
            return True
        if self.view.collidepoint(pos):
            self.selected = None
            self.follow = False
            return True
        return False

    def sprite_half(self) -> int:
        """Half the drawn height of a person at the current zoom (bubbles and labels sit above and below)."""
        return min(MAX_TILE_PX, max(MIN_SPRITE_PX, self.tile_px)) // 2

    # -- frame --------------------------------------------------------------------------------
    def render(
        self,
        state: TownState,
        *,
        alpha: float = 1.0,
        paused: bool = False,
        speed: float | None = None,
        status: str = "",
        timeline: tuple[int, int, int] | None = None,
        keys_help: Sequence[str] = (),
    ) -> pygame.Surface:
        """Draw one frame and return ``self.surface``.

        ``alpha`` (0..1) interpolates agents that moved this tick between their old and new tile;
        ``speed`` is shown as ticks per second; ``timeline`` = (first, last, current) tick draws a
        seek bar at the bottom of the map view (replay); ``keys_help`` lines (the viewer's keys) are
        written at the foot of the side panel.
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        names = sorted(state.agents)
        positions = {n: self._agent_pos(a, state.tick, alpha) for n, a in state.agents.items() if a.tile is not None}
        if self.follow and self.selected in positions:
            self.center_on(positions[self.selected])
        s = self.surface
        s.set_clip(self.view)
        tp = self.tile_px
        origin = (self.view.x - round(self.camera.x * tp), self.view.y - round(self.camera.y * tp))
        picture = self.static.scaled(tp)
        if not picture.get_rect(topleft=origin).contains(self.view):  # only around a map smaller than the view
            s.fill(C.BACKGROUND, self.view)
        s.blit(picture, origin)
        self._draw_furniture(state)
        self._draw_agents(state, names, positions, alpha)
        overlays.draw_tint(self, state)
        self._draw_places(state)
        self._draw_labels(state, positions)
        overlays.draw_bubbles(self, state, positions)
        overlays.draw_world_events(self, state)
        overlays.draw_clock(self, state, paused, speed, status)
        self.minimap.rect = None
        if not self.map_fits() and self.view.w >= 300:
            cam = (self.camera.x, self.camera.y, self.view.w / tp, self.view.h / tp)
            colors = {n: C.agent_color(n, names) for n in positions}
            self.minimap.draw(s, self.view, cam, positions, colors, self.selected)
        self.timeline_rect = None
        self.timeline_span = None
        if timeline is not None:
            overlays.draw_timeline(self, *timeline)
        s.set_clip(None)
        draw_panel(self, state, names, keys_help)
        return s

    def _agent_pos(self, a: AgentView, tick: int, alpha: float) -> tuple[float, float]:
        assert a.tile is not None
        if self._moving(a, tick, alpha):
            (px, py), (x, y) = a.prev_tile, a.tile  # type: ignore[misc]
            return px + (x - px) * alpha, py + (y - py) * alpha
        return float(a.tile[0]), float(a.tile[1])

    @staticmethod
    def _moving(a: AgentView, tick: int, alpha: float) -> bool:
        return a.moved_tick == tick and a.prev_tile is not None and a.prev_tile != a.tile and alpha < 1.0

    def visible_tiles(self) -> pygame.Rect:
        """The tiles (x, y, w, h) the view shows, one tile of margin around."""
        tp = self.tile_px
        x0, y0 = math.floor(self.camera.x) - 1, math.floor(self.camera.y) - 1
        return pygame.Rect(x0, y0, self.view.w // tp + 3, self.view.h // tp + 3)

    def _draw_furniture(self, state: TownState) -> None:
        tp = self.tile_px
        half = tp // 2
        shown = self.visible_tiles()
        for addr, obj in self.town_map.objects.items():
            if not shown.collidepoint(obj.tile):
                continue
            cx, cy = self.world_to_screen(obj.tile)
            active = state.object_states.get(addr, obj.state) != "idle"
            self.surface.blit(self.sprites.thing(self.kinds[addr], active, tp), (cx - half, cy - half))

    def _draw_agents(
        self, state: TownState, names: list[str], positions: dict[str, tuple[float, float]], alpha: float
    ) -> None:
        s = self.surface
        size = self.sprite_half() * 2
        self.agent_rects, self.agent_poses = {}, {}
        for name in sorted(positions, key=lambda n: (positions[n][1], n)):  # farther up the map drawn first
            a = state.agents[name]
            cx, cy = self.world_to_screen(positions[name])
            rect = pygame.Rect(0, 0, size, size)
            rect.midbottom = (cx, cy + self.tile_px // 2)
            moving = self._moving(a, state.tick, alpha)
            facing, step = pose(a.tile, a.prev_tile, moving, state.tick, alpha)  # type: ignore[arg-type]
            if name == self.selected:
                ring = pygame.Rect(0, 0, size * 3 // 4, max(4, size // 4))
                ring.center = (cx, rect.bottom - size // 16)
                pygame.draw.ellipse(s, C.TIMELINE_FG, ring, 2)
            look = names.index(name)
            s.blit(self.sprites.person(look, C.agent_color(name, names), facing, step, size), rect)
            self.agent_rects[name] = rect
            self.agent_poses[name] = (facing, step)

    def _draw_labels(self, state: TownState, positions: dict[str, tuple[float, float]]) -> None:
        """Names under people and what they do above; the selected person's first, none that cover another."""
        tx, half = self.text, self.sprite_half()
        taken = list(self.agent_rects.values())
        for name in sorted(self.agent_rects, key=lambda n: n != self.selected):
            if self.tile_px < 12 and name != self.selected:
                continue
            a = state.agents[name]
            cx, cy = self.world_to_screen(positions[name])
            tx.label(self.surface, name, cx, self.agent_rects[name].bottom + 1, tx.small, taken, shift=14)
            doing = f"{a.emoji} {a.activity}".strip()
            if doing:
                tx.label(self.surface, tx.fit(tx.small, doing, 180), cx, self.agent_rects[name].top - 15, tx.small,
                         taken, C.PANEL_HEAD, shift=-14)

    def _draw_places(self, state: TownState) -> None:
        s, tp, m, tx = self.surface, self.tile_px, self.town_map, self.text
        for sector in m.sectors.values():
            x, y, w, h = sector.rect
            left, top = self.world_to_screen((x - 0.5, y - 0.5))
            pygame.draw.rect(s, C.SECTOR_BORDER, pygame.Rect(left, top, w * tp, h * tp), 1)
        if tp >= 22:
            for arena in m.arenas.values():
                x, y, _, _ = arena.rect
                left, top = self.world_to_screen((x - 0.5, y - 0.5))
                s.blit(tx.render(tx.small, arena.name, C.PANEL_DIM), (left + 3, top + 14))
        font = tx.small if tp < 16 else tx.normal
        for sector in m.sectors.values():
            x, y, w, _ = sector.rect
            left, top = self.world_to_screen((x - 0.5, y - 0.5))
            name = tx.fit(font, sector.name, max(12, w * tp - 4))  # neighbours' names must not run together
            s.blit(tx.render(font, name, C.LABEL_TEXT, C.LABEL_BG), (left + 2, top + 1))
        if tp < 20:
            return
        for addr, obj in m.objects.items():  # what is in use, by name
            value = state.object_states.get(addr, obj.state)
            if value != "idle":
                cx, cy = self.world_to_screen(obj.tile)
                img = tx.render(tx.small, f"{obj.name}: {value}", C.OBJECT_ACTIVE, C.LABEL_BG)
                s.blit(img, (cx + tp // 2 + 1, cy - tp // 2))
