"""Draw a :class:`~town.viewer.state.TownState` over a :class:`~town.maps.TownMap` onto an off-screen surface.

The renderer never opens a window: it draws onto ``Renderer.surface`` (a plain
``pygame.Surface``), which the live viewer and replay blit to the display and tests read
pixels from. The static map (ground tiles, blocked tiles) is drawn once at the map's own tile
size and scaled once per zoom level; everything that changes (agents, bubbles, panel) is drawn
on top each frame. Hit areas of what was drawn (agents, bubbles, panel rows, timeline) are kept
for mouse handling and tests.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pygame

from town.maps import TownMap
from town.viewer import colors as C
from town.viewer.state import AgentView, TownState

log = logging.getLogger("town.viewer")

Tile = tuple[int, int]
BUBBLE_TICKS = 3  # a chat line stays on screen this many ticks
MAX_MAP_PIXELS = 16_000_000  # cap on the size of a pre-scaled map (limits the zoom on big maps)
MAX_TILE_PX = 96
MIN_TILE_PX = 4
TIMELINE_H = 22
_SCALED_CACHE = 3  # zoom levels kept pre-scaled


def _drawable(ch: str) -> bool:
    """False for symbols and emoji, which pygame's default font draws as empty boxes."""
    return ord(ch) < 0x2190


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
        pygame.font.init()
        self.town_map = town_map
        self.width = width
        self.height = height
        self.surface = pygame.Surface((width, height))
        self.view = pygame.Rect(0, 0, width - panel_width, height)
        self.panel = pygame.Rect(width - panel_width, 0, panel_width, height)
        self.font_small = pygame.font.Font(None, 16)
        self.font = pygame.font.Font(None, 20)
        self.font_big = pygame.font.Font(None, 28)
        self._text_cache: dict[tuple[int, str, C.RGB, C.RGB | None], pygame.Surface] = {}
        self._base = self._draw_base_map()
        self._scaled: OrderedDict[int, pygame.Surface] = OrderedDict()
        area = town_map.width * town_map.height
        self.max_tile_px = max(MIN_TILE_PX, min(MAX_TILE_PX, int(math.sqrt(MAX_MAP_PIXELS / area))))
        self.camera = Camera()
        self.selected: str | None = None
        # hit areas of the last render
        self.agent_rects: dict[str, pygame.Rect] = {}
        self.bubble_rects: dict[str, pygame.Rect] = {}
        self.panel_rows: dict[str, pygame.Rect] = {}
        self.timeline_rect: pygame.Rect | None = None
        self._timeline_span: tuple[int, int] | None = None
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
        """Move the view by screen pixels."""
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
        ts = self.town_map.tile_size
        new = max(MIN_TILE_PX, min(self.max_tile_px, round(old * factor)))
        if new == old:  # make every step count at small sizes
            new = max(MIN_TILE_PX, min(self.max_tile_px, old + (1 if factor > 1 else -1)))
        self.camera.zoom = new / ts
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
        if self.timeline_rect is None or self._timeline_span is None or not self.timeline_rect.collidepoint(pos):
            return None
        first, last = self._timeline_span
        frac = (pos[0] - self.timeline_rect.x) / max(1, self.timeline_rect.w - 1)
        return first + round(frac * (last - first))

    # -- static map ---------------------------------------------------------------------------
    def _tileset_lookup(self) -> list[tuple[int, pygame.Surface, dict]]:
        sheets = []
        for ts in sorted(self.town_map.tileset_images, key=lambda t: t["firstgid"]):
            try:
                image = pygame.image.load(ts["image"])
            except (pygame.error, FileNotFoundError) as exc:
                log.warning("tileset image %s cannot be loaded (%s); drawing tiles by class colour", ts["image"], exc)
                return []
            sheets.append((ts["firstgid"], image, ts))
        return sheets

    def _draw_base_map(self) -> pygame.Surface:
        m = self.town_map
        ts = m.tile_size
        base = pygame.Surface((m.width * ts, m.height * ts))
        base.fill(C.BACKGROUND)
        sheets = self._tileset_lookup()
        tiles: dict[int, pygame.Surface | None] = {}

        def tile_image(gid: int) -> pygame.Surface | None:
            if gid not in tiles:
                tiles[gid] = None
                for firstgid, image, info in reversed(sheets):
                    if gid >= firstgid:
                        idx = gid - firstgid
                        tw, th, cols = info["tilewidth"], info["tileheight"], info["columns"]
                        src = pygame.Rect((idx % cols) * tw, (idx // cols) * th, tw, th)
                        if cols > 0 and image.get_rect().contains(src):
                            sub = image.subsurface(src)
                            tiles[gid] = sub if (tw, th) == (ts, ts) else pygame.transform.scale(sub, (ts, ts))
                        break
            return tiles[gid]

        shade = pygame.Surface((ts, ts), pygame.SRCALPHA)
        shade.fill((0, 0, 0, round(255 * (1 - C.BLOCKED_SHADE))))
        for y in range(m.height):
            for x in range(m.width):
                blocked = (x, y) in m.blocked
                gid = m.gids[y][x]
                img = tile_image(gid) if gid and sheets else None
                rect = pygame.Rect(x * ts, y * ts, ts, ts)
                if img is not None:
                    base.blit(img, rect)
                    if blocked:
                        base.blit(shade, rect)
                else:
                    color = C.class_color(m.tile_classes[y][x])
                    base.fill(C.shade(color, C.BLOCKED_SHADE) if blocked else color, rect)
        return base

    def _scaled_map(self) -> pygame.Surface:
        tp = self.tile_px
        surf = self._scaled.get(tp)
        if surf is None:
            m = self.town_map
            surf = (
                self._base
                if tp == m.tile_size
                else pygame.transform.scale(self._base, (m.width * tp, m.height * tp))
            )
            self._scaled[tp] = surf
            while len(self._scaled) > _SCALED_CACHE:
                self._scaled.popitem(last=False)
        else:
            self._scaled.move_to_end(tp)
        return surf

    # -- text ---------------------------------------------------------------------------------
    def _text(self, font: pygame.font.Font, text: str, color: C.RGB, bg: C.RGB | None = None) -> pygame.Surface:
        key = (id(font), text, color, bg)
        surf = self._text_cache.get(key)
        if surf is None:
            if len(self._text_cache) > 3000:
                self._text_cache.clear()
            shown = "".join(ch for ch, met in zip(text, font.metrics(text) or []) if met is not None and _drawable(ch))
            shown = shown.strip()
            surf = font.render(shown, True, color, bg) if bg is not None else font.render(shown, True, color)
            self._text_cache[key] = surf
        return surf

    def _wrap(self, font: pygame.font.Font, text: str, max_w: int, max_lines: int) -> list[str]:
        """Word-wrap ``text`` to ``max_w`` pixels; more than ``max_lines`` lines end in an ellipsis."""
        lines: list[str] = []
        cur = ""
        for word in text.split():
            cand = f"{cur} {word}" if cur else word
            if not cur or font.size(cand)[0] <= max_w:
                cur = cand
            else:
                lines.append(cur)
                cur = word
        if cur:
            lines.append(cur)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self._fit(font, lines[-1] + "…", max_w)
        return [self._fit(font, ln, max_w) for ln in lines]

    @staticmethod
    def _fit(font: pygame.font.Font, text: str, max_w: int) -> str:
        if font.size(text)[0] <= max_w:
            return text
        while text and font.size(text + "…")[0] > max_w:
            text = text[:-1]
        return text + "…"

    def _label(
        self, text: str, center_x: int, top: int, font: pygame.font.Font, taken: list[pygame.Rect],
        color: C.RGB = C.LABEL_TEXT, *, shift: int = 0,
    ) -> pygame.Rect | None:
        """Draw a boxed label unless it would cover one already placed in ``taken``; with ``shift``,
        try moving it that many pixels (down if positive) first. Returns where it went, or None."""
        img = self._text(font, text, color)
        rect = img.get_rect(midtop=(center_x, top)).inflate(6, 2)
        if rect.collidelist(taken) != -1 and shift:
            rect = rect.move(0, shift)
        if rect.collidelist(taken) != -1:
            return None
        bg = pygame.Surface(rect.size, pygame.SRCALPHA)
        bg.fill((*C.LABEL_BG, 170))
        self.surface.blit(bg, rect)
        self.surface.blit(img, img.get_rect(center=rect.center))
        taken.append(rect)
        return rect

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
        s = self.surface
        s.fill(C.BACKGROUND)
        s.set_clip(self.view)
        tp = self.tile_px
        s.blit(self._scaled_map(), (self.view.x - round(self.camera.x * tp), self.view.y - round(self.camera.y * tp)))
        self._draw_places(state)
        names = sorted(state.agents)
        positions = {n: self._agent_pos(a, state.tick, alpha) for n, a in state.agents.items() if a.tile is not None}
        self._draw_agents(state, names, positions)
        self._draw_bubbles(state, positions)
        self._draw_world_events(state)
        self._draw_clock(state, paused, speed, status)
        self.timeline_rect = None
        self._timeline_span = None
        if timeline is not None:
            self._draw_timeline(*timeline)
        s.set_clip(None)
        self._draw_panel(state, names, keys_help)
        return s

    def _agent_pos(self, a: AgentView, tick: int, alpha: float) -> tuple[float, float]:
        assert a.tile is not None
        if a.moved_tick == tick and a.prev_tile is not None and alpha < 1.0:
            (px, py), (x, y) = a.prev_tile, a.tile
            return px + (x - px) * alpha, py + (y - py) * alpha
        return float(a.tile[0]), float(a.tile[1])

    def _draw_places(self, state: TownState) -> None:
        s, tp, m = self.surface, self.tile_px, self.town_map
        for sector in m.sectors.values():
            x, y, w, h = sector.rect
            left, top = self.world_to_screen((x - 0.5, y - 0.5))
            pygame.draw.rect(s, C.SECTOR_BORDER, pygame.Rect(left, top, w * tp, h * tp), 1)
        if tp >= 22:
            for arena in m.arenas.values():
                x, y, _, _ = arena.rect
                left, top = self.world_to_screen((x - 0.5, y - 0.5))
                s.blit(self._text(self.font_small, arena.name, C.PANEL_DIM), (left + 3, top + 14))
        for sector in m.sectors.values():
            x, y, _, _ = sector.rect
            left, top = self.world_to_screen((x - 0.5, y - 0.5))
            img = self._text(self.font_small if tp < 16 else self.font, sector.name, C.LABEL_TEXT, C.LABEL_BG)
            s.blit(img, (left + 2, top + 1))
        mark = max(3, tp // 4)
        for addr, obj in m.objects.items():
            value = state.object_states.get(addr, obj.state)
            cx, cy = self.world_to_screen(obj.tile)
            rect = pygame.Rect(cx + tp // 2 - mark - 1, cy - tp // 2 + 1, mark, mark)
            active = value != "idle"
            pygame.draw.rect(s, C.OBJECT_ACTIVE if active else C.OBJECT_IDLE, rect)
            pygame.draw.rect(s, C.LABEL_BG, rect, 1)
            if active and tp >= 20:
                s.blit(self._text(self.font_small, f"{obj.name}: {value}", C.OBJECT_ACTIVE, C.LABEL_BG), (rect.right + 2, rect.top))

    def _draw_agents(self, state: TownState, names: list[str], positions: dict[str, tuple[float, float]]) -> None:
        s, tp = self.surface, self.tile_px
        radius = max(5, int(tp * 0.42))
        self.agent_rects = {}
        order = sorted(positions, key=lambda n: (positions[n][1], n))
        for name in order:
            cx, cy = self.world_to_screen(positions[name])
            color = C.agent_color(name, names)
            if name == self.selected:
                pygame.draw.circle(s, C.TIMELINE_FG, (cx, cy), radius + 4, 3)
            pygame.draw.circle(s, color, (cx, cy), radius)
            pygame.draw.circle(s, C.LABEL_BG, (cx, cy), radius, 1)
            if radius >= 9:
                ini = self._text(self.font_small, C.initials(name), C.LABEL_BG if sum(color) > 450 else C.LABEL_TEXT)
                s.blit(ini, ini.get_rect(center=(cx, cy)))
            self.agent_rects[name] = pygame.Rect(cx - radius, cy - radius, 2 * radius, 2 * radius)
        # labels: the selected agent's first; a label that would cover another is moved once, else left out
        taken = list(self.agent_rects.values())
        for name in sorted(order, key=lambda n: n != self.selected):
            if tp < 12 and name != self.selected:
                continue
            a = state.agents[name]
            cx, cy = self.world_to_screen(positions[name])
            self._label(name, cx, cy + radius + 1, self.font_small, taken, shift=14)
            doing = f"{a.emoji} {a.activity}".strip()
            if doing:
                self._label(self._fit(self.font_small, doing, 180), cx, cy - radius - 15, self.font_small, taken,
                            C.PANEL_HEAD, shift=-14)

    def _draw_bubbles(self, state: TownState, positions: dict[str, tuple[float, float]]) -> None:
        s, tp = self.surface, self.tile_px
        self.bubble_rects = {}
        latest: dict[str, str] = {}
        for entry in state.recent_chat(BUBBLE_TICKS):
            latest[entry.speaker] = entry.text
        radius = max(5, int(tp * 0.42))
        placed: list[pygame.Rect] = []
        for speaker, text in latest.items():
            if speaker not in positions:
                continue
            cx, cy = self.world_to_screen(positions[speaker])
            lines = self._wrap(self.font_small, text, 200, 3) or ["…"]
            imgs = [self._text(self.font_small, ln, C.BUBBLE_TEXT) for ln in lines]
            w = max(i.get_width() for i in imgs) + 12
            h = sum(i.get_height() for i in imgs) + 8
            rect = pygame.Rect(0, 0, w, h)
            rect.midbottom = (cx, cy - radius - 20)
            while rect.collidelist(placed) != -1:  # stack above bubbles already drawn
                rect.bottom = placed[rect.collidelist(placed)].top - 4
            tail = [(cx - 5, rect.bottom - 1), (cx + 5, rect.bottom - 1), (cx, cy - radius - 12)]
            pygame.draw.polygon(s, C.BUBBLE_BG, tail)
            pygame.draw.rect(s, C.BUBBLE_BG, rect, border_radius=6)
            pygame.draw.rect(s, C.BUBBLE_BORDER, rect, 1, border_radius=6)
            y = rect.top + 4
            for img in imgs:
                s.blit(img, (rect.left + 6, y))
                y += img.get_height()
            self.bubble_rects[speaker] = rect
            placed.append(rect)

    def _draw_world_events(self, state: TownState) -> None:
        recent = [e for e in state.world_events if state.tick - e.tick < 60]
        y = 40
        for e in recent[-3:]:
            text = f"! {e.description}" + (f" @ {e.address}" if e.address else "")
            img = self._text(self.font, self._fit(self.font, text, self.view.w - 40), C.WORLD_EVENT, C.LABEL_BG)
            self.surface.blit(img, img.get_rect(midtop=(self.view.centerx, y)))
            y += img.get_height() + 2

    def _draw_clock(self, state: TownState, paused: bool, speed: float | None, status: str) -> None:
        clock = state.time.strftime("%a %b %d %Y  %H:%M") if state.time is not None else "--:--"
        img = self._text(self.font_big, clock, C.LABEL_TEXT, C.LABEL_BG)
        self.surface.blit(img, (self.view.x + 8, self.view.y + 8))
        mode = "PAUSED" if paused else ("PLAY" + (f"  {speed:g} ticks/s" if speed is not None else ""))
        parts = [f"tick {max(state.tick, 0)}", mode]
        if state.ended:
            parts.append("run ended")
        if status:
            parts.append(status)
        info = self._text(self.font, "   ".join(parts), C.PANEL_HEAD if paused else C.LABEL_TEXT, C.LABEL_BG)
        self.surface.blit(info, (self.view.x + 8, self.view.y + 8 + img.get_height() + 2))

    def _draw_timeline(self, first: int, last: int, current: int) -> None:
        if last < first:
            raise ValueError(f"timeline: last tick {last} before first {first}")
        rect = pygame.Rect(self.view.x + 10, self.view.bottom - TIMELINE_H - 6, self.view.w - 20, TIMELINE_H)
        pygame.draw.rect(self.surface, C.TIMELINE_BG, rect, border_radius=4)
        frac = 0.0 if last == first else (min(max(current, first), last) - first) / (last - first)
        done = pygame.Rect(rect.x, rect.y, max(2, round(rect.w * frac)), rect.h)
        pygame.draw.rect(self.surface, C.TIMELINE_FG, done, border_radius=4)
        label = self._text(self.font_small, f"{current} / {last}", C.LABEL_TEXT)
        self.surface.blit(label, label.get_rect(center=rect.center))
        self.timeline_rect = rect
        self._timeline_span = (first, last)

    # -- side panel ---------------------------------------------------------------------------
    def _draw_panel(self, state: TownState, names: list[str], keys_help: Sequence[str] = ()) -> None:
        self.panel_rows = {}
        if self.panel.w == 0:
            return
        s, p = self.surface, self.panel
        s.fill(C.PANEL_BG, p)
        s.set_clip(p)
        x, y, w = p.x + 10, p.y + 10, p.w - 20
        bottom = p.bottom - 8  # nothing is drawn below this; the key help takes the foot of the panel
        if keys_help:
            foot = [self._text(self.font_small, self._fit(self.font_small, k, w), C.PANEL_DIM) for k in keys_help]
            top = p.bottom - 8 - sum(img.get_height() + 1 for img in foot)
            fy = top
            for img in foot:
                s.blit(img, (x, fy))
                fy += img.get_height() + 1
            bottom = top - 8

        def line(text: str, font: pygame.font.Font = self.font_small, color: C.RGB = C.PANEL_TEXT) -> None:
            nonlocal y
            for ln in self._wrap(font, text, w, 3):
                img = self._text(font, ln, color)
                if y + img.get_height() > bottom:
                    return
                s.blit(img, (x, y))
                y += img.get_height() + 1

        def section(title: str, items: Iterable[str], limit: int) -> None:
            nonlocal y
            items = list(items)
            if not items:
                return
            y += 4
            line(title, self.font, C.PANEL_HEAD)
            for item in items[:limit]:
                line(f"- {item}")
            if len(items) > limit:
                line(f"  (+{len(items) - limit} more)", color=C.PANEL_DIM)

        a = state.agents.get(self.selected) if self.selected else None
        if a is None:
            line(f"{self.town_map.name}", self.font_big, C.PANEL_HEAD)
            line("click an agent to follow it", color=C.PANEL_DIM)
            y += 6
            for name in names:
                if y > bottom - 32:  # a row is a name and an activity line
                    break
                top = y
                ag = state.agents[name]
                pygame.draw.circle(s, C.agent_color(name, names), (x + 6, y + 7), 6)
                img = self._text(self.font, name, C.PANEL_TEXT)
                s.blit(img, (x + 18, y))
                y += img.get_height() + 1
                doing = f"{ag.emoji} {ag.activity}".strip() or "-"
                sub = self._text(self.font_small, self._fit(self.font_small, doing, w - 18), C.PANEL_DIM)
                s.blit(sub, (x + 18, y))
                y += sub.get_height() + 5
                self.panel_rows[name] = pygame.Rect(p.x, top - 2, p.w, y - top)
        else:
            pygame.draw.circle(s, C.agent_color(a.name, names), (x + 8, y + 10), 8)
            img = self._text(self.font_big, self._fit(self.font_big, a.name, w - 24), C.PANEL_HEAD)
            s.blit(img, (x + 22, y))
            y += img.get_height() + 4
            line(f"at {a.address or 'outdoors'}" + (f"  {a.tile}" if a.tile else ""), color=C.PANEL_DIM)
            line(f"{a.emoji} {a.activity}".strip() or "(no action yet)", self.font)
            if a.destination and a.tile is not None and self.town_map.address_at(a.tile) != a.destination:
                line(f"heading to {a.destination}", color=C.PANEL_DIM)
            if a.conversation:
                chat = [f"{e.speaker.split()[0]}: {e.text}" for e in state.chats.get(a.conversation, [])]
                section("Conversation", chat, 4)
            section("Now", a.subtasks, 5)
            section("Today's plan", a.plan, 8)
            section("Schedule", a.schedule, 8)
            section("Recent memories", reversed(a.memories), 6)
            section("Reflections", reversed(a.reflections), 4)
            section("Tool calls", reversed(a.tools), 4)
            y += 4
            line(f"LLM calls {a.llm_calls}   fallbacks {a.fallbacks}", color=C.PANEL_DIM)
            line("click the empty map: back to all agents", color=C.PANEL_DIM)
        s.set_clip(None)
