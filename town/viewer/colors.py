"""Colours of the viewer: ground classes, agents, UI. Plain RGB tuples, no pygame needed."""

from __future__ import annotations

import zlib

RGB = tuple[int, int, int]

# ground tile classes (docs/ARCHITECTURE.md "Tiled map convention")
CLASS_COLORS: dict[str, RGB] = {
    "grass": (104, 168, 80),
    "grass_dark": (70, 124, 60),
    "flowers": (150, 170, 110),
    "tree": (52, 110, 52),
    "bush": (66, 136, 64),
    "road": (158, 158, 150),
    "road_line": (150, 148, 120),
    "sidewalk": (186, 184, 178),
    "plaza": (190, 164, 138),
    "dirt": (150, 112, 74),
    "tile": (220, 228, 232),
    "carpet": (150, 58, 70),
    "fence": (200, 184, 160),
    "floor": (214, 194, 150),
    "wall": (96, 78, 66),
    "water": (70, 130, 205),
    "sand": (226, 208, 150),
    "wood": (160, 116, 74),
    "door": (190, 128, 60),
    "blocked": (70, 70, 70),
    "": (24, 26, 30),  # no ground tile
}
BACKGROUND: RGB = (24, 26, 30)
BLOCKED_SHADE = 0.62  # blocked tiles are drawn this much darker

SECTOR_BORDER: RGB = (250, 240, 210)
LABEL_TEXT: RGB = (255, 255, 255)
LABEL_BG: RGB = (20, 20, 28)
OBJECT_IDLE: RGB = (120, 110, 130)
OBJECT_ACTIVE: RGB = (255, 150, 40)
BUBBLE_BG: RGB = (255, 255, 250)
BUBBLE_TEXT: RGB = (20, 20, 20)
BUBBLE_BORDER: RGB = (40, 40, 40)
PANEL_BG: RGB = (34, 36, 44)
PANEL_TEXT: RGB = (225, 225, 230)
PANEL_HEAD: RGB = (255, 210, 110)
PANEL_DIM: RGB = (150, 150, 160)
TIMELINE_BG: RGB = (60, 62, 72)
TIMELINE_FG: RGB = (255, 190, 70)
WORLD_EVENT: RGB = (255, 120, 110)

# saturated colours that stand out from every ground class above
AGENT_PALETTE: list[RGB] = [
    (230, 40, 60),
    (40, 90, 235),
    (240, 0, 200),
    (255, 225, 0),
    (0, 215, 220),
    (140, 40, 220),
    (255, 110, 0),
    (0, 160, 90),
    (255, 120, 170),
    (120, 200, 255),
    (190, 255, 60),
    (150, 0, 60),
]


def class_color(cls: str) -> RGB:
    """The colour of a ground class; unknown classes get a stable grey-ish tone from their name."""
    if cls in CLASS_COLORS:
        return CLASS_COLORS[cls]
    h = zlib.crc32(cls.encode("utf-8"))
    return (90 + h % 90, 90 + (h >> 8) % 90, 90 + (h >> 16) % 90)


def shade(color: RGB, factor: float) -> RGB:
    """``color`` scaled by ``factor`` (0..1 darker)."""
    r, g, b = color
    return (int(r * factor), int(g * factor), int(b * factor))


def lit(color: RGB, f: float) -> RGB:
    """``color`` brightened towards white (f > 0) or darkened towards black (f < 0); the same rounding as the
    sprite script, so shades computed here match pixels it drew."""
    target = (255, 255, 255) if f >= 0 else (0, 0, 0)
    t = abs(f)
    return (round(color[0] + (target[0] - color[0]) * t), round(color[1] + (target[1] - color[1]) * t),
            round(color[2] + (target[2] - color[2]) * t))


def agent_color(name: str, names: list[str] | None = None) -> RGB:
    """A stable colour per agent: by position in ``names`` (distinct for up to 12), else by name hash."""
    if names and name in names:
        return AGENT_PALETTE[names.index(name) % len(AGENT_PALETTE)]
    return AGENT_PALETTE[zlib.crc32(name.encode("utf-8")) % len(AGENT_PALETTE)]


def initials(name: str) -> str:
    """``"Isabella Rodriguez"`` -> ``"IR"``; one word -> its first two letters."""
    parts = [p for p in name.split() if p]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:2].upper()
    return (parts[0][0] + parts[-1][0]).upper()
