"""The overview map in the corner of the view: the whole town small, a dot per person, the visible area boxed.

Shown only while the map does not fit in the view; a click on it moves the camera there.
"""

from __future__ import annotations

import pygame

from town.viewer import colors as C

MAX_W, MAX_H = 200, 150
MARGIN = 8


class Minimap:
    """The town scaled down once; ``rect`` is where the last frame put it (None when it was not shown)."""

    def __init__(self, base: pygame.Surface, map_w: int, map_h: int) -> None:
        self.map_w, self.map_h = map_w, map_h
        scale = min(MAX_W / map_w, MAX_H / map_h)
        self.size = (max(1, round(map_w * scale)), max(1, round(map_h * scale)))
        self.image = pygame.transform.smoothscale(base, self.size)
        self.rect: pygame.Rect | None = None

    def draw(
        self, surface: pygame.Surface, view: pygame.Rect, camera_tiles: pygame.Rect | tuple[float, float, float, float],
        agents: dict[str, tuple[float, float]], colors: dict[str, C.RGB], selected: str | None,
    ) -> None:
        """Draw at the view's top-right corner; ``camera_tiles`` = (x, y, w, h) of the visible area in tiles."""
        self.rect = pygame.Rect(0, 0, *self.size)
        self.rect.topright = (view.right - MARGIN, view.top + MARGIN)
        frame = self.rect.inflate(4, 4)
        pygame.draw.rect(surface, C.LABEL_BG, frame)
        surface.blit(self.image, self.rect)
        sx, sy = self.size[0] / self.map_w, self.size[1] / self.map_h
        for name, (x, y) in agents.items():
            px, py = self.rect.x + round((x + 0.5) * sx), self.rect.y + round((y + 0.5) * sy)
            radius = 3 if name == selected else 2
            pygame.draw.circle(surface, C.LABEL_BG, (px, py), radius + 1)
            pygame.draw.circle(surface, colors[name], (px, py), radius)
        cx, cy, cw, ch = camera_tiles
        box = pygame.Rect(self.rect.x + round(cx * sx), self.rect.y + round(cy * sy), round(cw * sx), round(ch * sy))
        pygame.draw.rect(surface, C.LABEL_TEXT, box.clip(self.rect), 1)
        pygame.draw.rect(surface, C.SECTOR_BORDER, frame, 1)

    def tile_at(self, pos: tuple[int, int]) -> tuple[int, int] | None:
        """The map tile under a click on the minimap of the last frame, or None if the click missed it."""
        if self.rect is None or not self.rect.collidepoint(pos):
            return None
        x = int((pos[0] - self.rect.x) * self.map_w / self.size[0])
        y = int((pos[1] - self.rect.y) * self.map_h / self.size[1])
        return min(x, self.map_w - 1), min(y, self.map_h - 1)
