"""Text for the viewer: fonts, a cache of rendered strings, word wrapping, and boxed labels that avoid each other."""

from __future__ import annotations

import pygame

from town.viewer import colors as C


def _drawable(ch: str) -> bool:
    """False for symbols and emoji, which pygame's default font draws as empty boxes."""
    return ord(ch) < 0x2190


class Text:
    """Three fonts and the rendered strings of the last frames (rendering text is the slow part of a frame)."""

    def __init__(self) -> None:
        pygame.font.init()
        self.small = pygame.font.Font(None, 16)
        self.normal = pygame.font.Font(None, 20)
        self.big = pygame.font.Font(None, 28)
        self._cache: dict[tuple[int, str, C.RGB, C.RGB | None], pygame.Surface] = {}

    def render(self, font: pygame.font.Font, text: str, color: C.RGB, bg: C.RGB | None = None) -> pygame.Surface:
        key = (id(font), text, color, bg)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) > 3000:
                self._cache.clear()
            shown = "".join(ch for ch, met in zip(text, font.metrics(text) or []) if met is not None and _drawable(ch))
            shown = shown.strip()
            surf = font.render(shown, True, color, bg) if bg is not None else font.render(shown, True, color)
            self._cache[key] = surf
        return surf

    def wrap(self, font: pygame.font.Font, text: str, max_w: int, max_lines: int) -> list[str]:
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
            lines[-1] = self.fit(font, lines[-1] + "…", max_w)
        return [self.fit(font, ln, max_w) for ln in lines]

    @staticmethod
    def fit(font: pygame.font.Font, text: str, max_w: int) -> str:
        if font.size(text)[0] <= max_w:
            return text
        while text and font.size(text + "…")[0] > max_w:
            text = text[:-1]
        return text + "…"

    def label(
        self, surface: pygame.Surface, text: str, center_x: int, top: int, font: pygame.font.Font,
        taken: list[pygame.Rect], color: C.RGB = C.LABEL_TEXT, *, shift: int = 0,
    ) -> pygame.Rect | None:
        """Draw a boxed label unless it would cover one already placed in ``taken``; with ``shift``,
        try moving it that many pixels (down if positive) first. Returns where it went, or None."""
        img = self.render(font, text, color)
        rect = img.get_rect(midtop=(center_x, top)).inflate(6, 2)
        if rect.collidelist(taken) != -1 and shift:
            rect = rect.move(0, shift)
        if rect.collidelist(taken) != -1:
            return None
        bg = pygame.Surface(rect.size, pygame.SRCALPHA)
        bg.fill((*C.LABEL_BG, 170))
        surface.blit(bg, rect)
        surface.blit(img, img.get_rect(center=rect.center))
        taken.append(rect)
        return rect
