"""What is drawn over the town each frame: day/night tint, speech bubbles, world events, the clock, the seek bar.

Each function draws onto the renderer's surface (clipped to the map view) and records hit areas on it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Protocol

import pygame

from town.viewer import colors as C
from town.viewer.state import TownState
from town.viewer.text import Text
from town.world.maps import TownMap

BUBBLE_TICKS = 3  # a chat line stays on screen this many ticks
TIMELINE_H = 22
DAWN = (5.0, 7.0)  # hours: night -> day
DUSK = (18.0, 20.5)  # hours: day -> night
NIGHT: C.RGB = (70, 84, 150)  # multiplied into the scene at full night: darker and blue
TWILIGHT_WARMTH = (0, 28, 70)  # taken off green and blue at half light: an orange dawn and dusk



class Canvas(Protocol):
    """What the overlays draw on and record hit areas into; ``town.viewer.renderer.Renderer`` is one (a protocol,
    so this module does not import the renderer that imports it)."""

    town_map: TownMap
    surface: pygame.Surface
    view: pygame.Rect
    text: Text
    bubble_rects: dict[str, pygame.Rect]
    timeline_rect: pygame.Rect | None
    timeline_span: tuple[int, int] | None

    @property
    def tile_px(self) -> int: ...

    def sprite_half(self) -> int: ...

    def world_to_screen(self, tile: tuple[float, float]) -> tuple[int, int]: ...

def _smooth(a: float, b: float, x: float) -> float:
    t = min(1.0, max(0.0, (x - a) / (b - a)))
    return t * t * (3 - 2 * t)


def daylight(t: datetime | None) -> float:
    """1.0 by day, 0.0 at night, easing smoothly through dawn and dusk (no clock yet: day)."""
    if t is None:
        return 1.0
    h = t.hour + t.minute / 60 + t.second / 3600
    return _smooth(*DAWN, h) * (1 - _smooth(*DUSK, h))


def tint_color(t: datetime | None) -> C.RGB:
    """The colour the scene is multiplied by at time ``t`` (white by day)."""
    d = daylight(t)
    warm = math.sin(math.pi * d)  # strongest half way through dawn and dusk
    return tuple(  # type: ignore[return-value]
        max(0, min(255, round(n + (255 - n) * d - w * warm))) for n, w in zip(NIGHT, TWILIGHT_WARMTH)
    )


_glows: dict[tuple[int, int], pygame.Surface] = {}
_tints: dict[tuple[tuple[int, int], C.RGB], pygame.Surface] = {}
LAMP: C.RGB = (90, 70, 30)  # added around things in use after dark


def _glow(radius: int, strength: int) -> pygame.Surface:
    """A soft warm disc to add onto the scene (brightest in the middle)."""
    key = (radius, strength)
    if key not in _glows:
        surf = pygame.Surface((radius * 2, radius * 2))
        for i in range(radius, 0, -max(1, radius // 6)):
            f = (1 - i / radius) * strength / 16
            pygame.draw.circle(surf, tuple(min(255, round(c * f)) for c in LAMP), (radius, radius), i)
        _glows[key] = surf
    return _glows[key]


def draw_tint(r: Canvas, state: TownState) -> None:
    """Darken the map view by the hour; after dusk, things in use (lamps, stoves, screens) light their spot."""
    color = tint_color(state.time)
    if color == (255, 255, 255):
        return
    # a blit with a blend flag takes pygame's SIMD path; fill with one is ~25x slower on a 960x800 view
    key = (r.view.size, color)
    if key not in _tints:
        if len(_tints) > 64:
            _tints.clear()
        _tints[key] = pygame.Surface(r.view.size, 0, 32)
        _tints[key].fill(color)
    r.surface.blit(_tints[key], r.view, special_flags=pygame.BLEND_RGB_MULT)
    strength = round(16 * (1 - daylight(state.time)))
    if strength < 4:
        return
    radius = max(4, round(r.tile_px * 1.5))
    glow = _glow(radius, strength)
    for addr, obj in r.town_map.objects.items():
        if state.object_states.get(addr, obj.state) != "idle":
            cx, cy = r.world_to_screen(obj.tile)
            r.surface.blit(glow, (cx - radius, cy - radius), special_flags=pygame.BLEND_ADD)


def draw_bubbles(r: Canvas, state: TownState, positions: dict[str, tuple[float, float]]) -> None:
    s, tx = r.surface, r.text
    r.bubble_rects = {}
    latest: dict[str, str] = {}
    for entry in state.recent_chat(BUBBLE_TICKS):
        latest[entry.speaker] = entry.text
    head = r.sprite_half()
    placed: list[pygame.Rect] = []
    for speaker, text in latest.items():
        if speaker not in positions:
            continue
        cx, cy = r.world_to_screen(positions[speaker])
        lines = tx.wrap(tx.small, text, 200, 3) or ["…"]
        imgs = [tx.render(tx.small, ln, C.BUBBLE_TEXT) for ln in lines]
        w = max(i.get_width() for i in imgs) + 12
        h = sum(i.get_height() for i in imgs) + 8
        rect = pygame.Rect(0, 0, w, h)
        rect.midbottom = (cx, cy - head - 20)
        while rect.collidelist(placed) != -1:  # stack above bubbles already drawn
            rect.bottom = placed[rect.collidelist(placed)].top - 4
        tail = [(cx - 5, rect.bottom - 1), (cx + 5, rect.bottom - 1), (cx, cy - head - 12)]
        pygame.draw.polygon(s, C.BUBBLE_BG, tail)
        pygame.draw.rect(s, C.BUBBLE_BG, rect, border_radius=6)
        pygame.draw.rect(s, C.BUBBLE_BORDER, rect, 1, border_radius=6)
        y = rect.top + 4
        for img in imgs:
            s.blit(img, (rect.left + 6, y))
            y += img.get_height()
        r.bubble_rects[speaker] = rect
        placed.append(rect)


def draw_world_events(r: Canvas, state: TownState) -> None:
    tx = r.text
    recent = [e for e in state.world_events if state.tick - e.tick < 60]
    y = 40
    for e in recent[-3:]:
        text = f"! {e.description}" + (f" @ {e.address}" if e.address else "")
        img = tx.render(tx.normal, tx.fit(tx.normal, text, r.view.w - 40), C.WORLD_EVENT, C.LABEL_BG)
        r.surface.blit(img, img.get_rect(midtop=(r.view.centerx, y)))
        y += img.get_height() + 2


def draw_clock(r: Canvas, state: TownState, paused: bool, speed: float | None, status: str) -> None:
    tx = r.text
    clock = state.time.strftime("%a %b %d %Y  %H:%M") if state.time is not None else "--:--"
    img = tx.render(tx.big, clock, C.LABEL_TEXT, C.LABEL_BG)
    r.surface.blit(img, (r.view.x + 8, r.view.y + 8))
    mode = "PAUSED" if paused else ("PLAY" + (f"  {speed:g} ticks/s" if speed is not None else ""))
    parts = [f"tick {max(state.tick, 0)}", mode]
    if state.ended:
        parts.append("run ended")
    if status:
        parts.append(status)
    info = tx.render(tx.normal, "   ".join(parts), C.PANEL_HEAD if paused else C.LABEL_TEXT, C.LABEL_BG)
    r.surface.blit(info, (r.view.x + 8, r.view.y + 8 + img.get_height() + 2))


def draw_timeline(r: Canvas, first: int, last: int, current: int) -> None:
    if last < first:
        raise ValueError(f"timeline: last tick {last} before first {first}")
    rect = pygame.Rect(r.view.x + 10, r.view.bottom - TIMELINE_H - 6, r.view.w - 20, TIMELINE_H)
    pygame.draw.rect(r.surface, C.TIMELINE_BG, rect, border_radius=4)
    frac = 0.0 if last == first else (min(max(current, first), last) - first) / (last - first)
    done = pygame.Rect(rect.x, rect.y, max(2, round(rect.w * frac)), rect.h)
    pygame.draw.rect(r.surface, C.TIMELINE_FG, done, border_radius=4)
    label = r.text.render(r.text.small, f"{current} / {last}", C.LABEL_TEXT)
    r.surface.blit(label, label.get_rect(center=rect.center))
    r.timeline_rect = rect
    r.timeline_span = (first, last)
