"""The side panel: the list of people (click one to follow it) or the selected person's mind.

With many people the list switches to one line per person so a town of 25 fits; each row's rectangle is kept
in ``Renderer.panel_rows`` for clicks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import pygame

from town.viewer import colors as C
from town.viewer.state import AgentView, TownState
from town.viewer.text import Text
from town.world.maps import TownMap

ROW_FULL = 32  # a name line and an activity line
ROW_COMPACT = 18  # name and activity on one line



class PanelCanvas(Protocol):
    """What the panel draws on and records rows into; ``town.viewer.renderer.Renderer`` is one (a protocol, so
    this module does not import the renderer that imports it)."""

    town_map: TownMap
    surface: pygame.Surface
    panel: pygame.Rect
    text: Text
    selected: str | None
    panel_rows: dict[str, pygame.Rect]

class _Column:
    """A text cursor down the panel that stops writing at ``bottom``."""

    def __init__(self, r: PanelCanvas, y: int, bottom: int) -> None:
        self.r, self.y, self.bottom = r, y, bottom
        self.x, self.w = r.panel.x + 10, r.panel.w - 20

    def line(self, text: str, font: pygame.font.Font | None = None, color: C.RGB = C.PANEL_TEXT) -> None:
        tx = self.r.text
        font = font or tx.small
        for ln in tx.wrap(font, text, self.w, 3):
            img = tx.render(font, ln, color)
            if self.y + img.get_height() > self.bottom:
                return
            self.r.surface.blit(img, (self.x, self.y))
            self.y += img.get_height() + 1

    def section(self, title: str, items: Iterable[str], limit: int) -> None:
        items = list(items)
        if not items:
            return
        self.y += 4
        self.line(title, self.r.text.normal, C.PANEL_HEAD)
        for item in items[:limit]:
            self.line(f"- {item}")
        if len(items) > limit:
            self.line(f"  (+{len(items) - limit} more)", color=C.PANEL_DIM)


def draw_panel(r: PanelCanvas, state: TownState, names: list[str], keys_help: Sequence[str] = ()) -> None:
    r.panel_rows = {}
    if r.panel.w == 0:
        return
    s, p, tx = r.surface, r.panel, r.text
    s.fill(C.PANEL_BG, p)
    s.set_clip(p)
    x, w = p.x + 10, p.w - 20
    bottom = p.bottom - 8  # nothing is drawn below this; the key help takes the foot of the panel
    if keys_help:
        foot = [tx.render(tx.small, tx.fit(tx.small, k, w), C.PANEL_DIM) for k in keys_help]
        top = p.bottom - 8 - sum(img.get_height() + 1 for img in foot)
        fy = top
        for img in foot:
            s.blit(img, (x, fy))
            fy += img.get_height() + 1
        bottom = top - 8
    col = _Column(r, p.y + 10, bottom)
    a = state.agents.get(r.selected) if r.selected else None
    if a is None:
        col.line(f"{r.town_map.name}", tx.big, C.PANEL_HEAD)
        col.line(f"{len(names)} people - click one to follow", color=C.PANEL_DIM)
        _agent_list(r, state, names, col.y + 6, bottom)
    else:
        _agent_detail(r, state, a, names, col)
    s.set_clip(None)


def _agent_list(r: PanelCanvas, state: TownState, names: list[str], y: int, bottom: int) -> None:
    s, p, tx = r.surface, r.panel, r.text
    x, w = p.x + 10, p.w - 20
    compact = len(names) * ROW_FULL > bottom - y
    row_h = ROW_COMPACT if compact else ROW_FULL
    for name in names:
        if y > bottom - row_h:
            break
        ag = state.agents[name]
        doing = f"{ag.emoji} {ag.activity}".strip() or "-"
        color = C.agent_color(name, names)
        if compact:
            pygame.draw.circle(s, color, (x + 5, y + 7), 5)
            img = tx.render(tx.small, tx.fit(tx.small, name, w // 2 - 16), C.PANEL_TEXT)
            s.blit(img, (x + 14, y + 1))
            sub = tx.render(tx.small, tx.fit(tx.small, doing, w - w // 2 - 4), C.PANEL_DIM)
            s.blit(sub, (x + w // 2 + 4, y + 1))
        else:
            pygame.draw.circle(s, color, (x + 6, y + 7), 6)
            img = tx.render(tx.normal, name, C.PANEL_TEXT)
            s.blit(img, (x + 18, y))
            sub = tx.render(tx.small, tx.fit(tx.small, doing, w - 18), C.PANEL_DIM)
            s.blit(sub, (x + 18, y + img.get_height() + 1))
        r.panel_rows[name] = pygame.Rect(p.x, y - 2, p.w, row_h)
        y += row_h


def _agent_detail(r: PanelCanvas, state: TownState, a: AgentView, names: list[str], col: _Column) -> None:
    s, tx = r.surface, r.text
    pygame.draw.circle(s, C.agent_color(a.name, names), (col.x + 8, col.y + 10), 8)
    img = tx.render(tx.big, tx.fit(tx.big, a.name, col.w - 24), C.PANEL_HEAD)
    s.blit(img, (col.x + 22, col.y))
    col.y += img.get_height() + 4
    col.line(f"at {a.address or 'outdoors'}" + (f"  {a.tile}" if a.tile else ""), color=C.PANEL_DIM)
    col.line(f"{a.emoji} {a.activity}".strip() or "(no action yet)", tx.normal)
    if a.destination and a.tile is not None and r.town_map.address_at(a.tile) != a.destination:
        col.line(f"heading to {a.destination}", color=C.PANEL_DIM)
    if a.conversation:
        chat = [f"{e.speaker.split()[0]}: {e.text}" for e in state.chats.get(a.conversation, [])]
        col.section("Conversation", chat, 4)
    col.section("Now", a.subtasks, 5)
    col.section("Today's plan", a.plan, 8)
    col.section("Schedule", a.schedule, 8)
    col.section("Recent memories", reversed(a.memories), 6)
    col.section("Reflections", reversed(a.reflections), 4)
    col.section("Tool calls", reversed(a.tools), 4)
    col.y += 4
    col.line(f"LLM calls {a.llm_calls}   fallbacks {a.fallbacks}", color=C.PANEL_DIM)
    col.line("click the empty map: back to all people", color=C.PANEL_DIM)
