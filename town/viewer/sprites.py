"""People and furniture sprites cut from the generated sheets in ``maps/tilesets`` (see ``sprites.json`` there).

A person is drawn in a look of the sheet with the shirt recoloured to the agent's own colour (the same colour as
the side panel's dot), facing the way of their last step, with a step frame while moving between tiles. An object
is drawn by the kind read off its name, in its idle or in-use frame.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pygame

from town.world.resources import data_dir
from town.viewer import colors as C

SHEETS = data_dir("maps") / "tilesets"
FACINGS = ("down", "left", "right", "up")

# words in an object's name -> furniture kind; the first rule that matches wins (so "bookshelf" before "shelf")
KIND_WORDS: list[tuple[str, str]] = [
    ("coffee_machine", r"coffee|espresso"),
    ("bookshelf", r"bookshelf|bookcase|books|library"),
    ("shelf", r"shel(f|ves)|rack|cabinet|closet|wardrobe|supply|supplies|pantry"),
    ("computer", r"computer|laptop|pc\b|monitor"),
    ("tv", r"\btv\b|television|console|video game"),
    ("bed", r"\bbed\b|\bbunk"),
    ("desk", r"desk|workbench"),
    ("table", r"table"),
    ("stove", r"stove|oven|cook|grill|kitchenette|microwave"),
    ("fridge", r"fridge|refrigerator|freezer"),
    ("sink", r"sink|basin"),
    ("toilet", r"toilet"),
    ("shower", r"shower|bath"),
    ("piano", r"piano|keyboard|organ"),
    ("easel", r"easel|canvas|paint|blackboard|whiteboard"),
    ("sofa", r"sofa|couch"),
    ("bench", r"bench"),
    ("plant", r"plant|flower|garden|tree"),
    ("counter", r"counter|cashier|register|bar\b|checkout|till|reception"),
    ("chair", r"chair|stool|seat"),
]


def furniture_kind(name: str, kinds: list[str]) -> str:
    """The sheet's kind for an object name (``"coffee machine"`` -> ``coffee_machine``); ``object`` if unknown."""
    low = name.lower()
    for kind, pattern in KIND_WORDS:
        if kind in kinds and re.search(pattern, low):
            return kind
    return "object"


def pose(tile: tuple[int, int], prev: tuple[int, int] | None, moving: bool, tick: int, alpha: float) -> tuple[str, int]:
    """(facing, step frame): facing from the last tile move (down before any), frames 1/2 alternate mid-move."""
    facing = "down"
    if prev is not None and prev != tile:
        dx, dy = tile[0] - prev[0], tile[1] - prev[1]
        if abs(dx) > abs(dy):
            facing = "right" if dx > 0 else "left"
        else:
            facing = "down" if dy > 0 else "up"
    if not moving:
        return facing, 0
    return facing, 1 + (tick + (1 if alpha >= 0.5 else 0)) % 2


class Sprites:
    """The people and furniture sheets, with frames scaled and recoloured on demand and kept."""

    def __init__(self, folder: Path = SHEETS) -> None:
        meta = json.loads((folder / "sprites.json").read_text(encoding="utf-8"))
        self.people_meta = meta["people"]
        self.furniture_meta = meta["furniture"]
        self.people = pygame.image.load(str(folder / self.people_meta["image"]))
        self.furniture = pygame.image.load(str(folder / self.furniture_meta["image"]))
        self.kinds: list[str] = list(self.furniture_meta["kinds"])
        self.looks = len(self.people_meta["looks"])
        self._cache: dict[tuple, pygame.Surface] = {}

    def _keep(self, key: tuple, surf: pygame.Surface) -> pygame.Surface:
        if len(self._cache) > 4000:  # zooming through many sizes: start over rather than grow without bound
            self._cache.clear()
        self._cache[key] = surf
        return surf

    def person(self, look: int, color: C.RGB, facing: str, step: int, size: int) -> pygame.Surface:
        """One frame of a person in ``look`` wearing ``color``, ``size`` pixels square."""
        key = ("p", look % self.looks, color, facing, step, size)
        if key in self._cache:
            return self._cache[key]
        fr = self.people_meta["frame"]
        row = (look % self.looks) * len(self.people_meta["facings"]) + self.people_meta["facings"].index(facing)
        frame = self.people.subsurface(pygame.Rect(step * fr, row * fr, fr, fr)).copy()
        shirt = tuple(self.people_meta["looks"][look % self.looks]["shirt"])
        pixels = pygame.PixelArray(frame)
        for f in self.people_meta["shirt_shades"]:
            pixels.replace(C.lit(shirt, f), C.lit(color, f))  # type: ignore[arg-type]
        del pixels  # unlocks the surface
        if size != fr:
            frame = pygame.transform.scale(frame, (size, size))
        return self._keep(key, frame)

    def thing(self, kind: str, active: bool, size: int) -> pygame.Surface:
        """The furniture frame of ``kind`` (idle or in use), ``size`` pixels square."""
        key = ("f", kind, active, size)
        if key in self._cache:
            return self._cache[key]
        fr = self.furniture_meta["frame"]
        col = self.kinds.index(kind if kind in self.kinds else "object")
        frame = self.furniture.subsurface(pygame.Rect(col * fr, (1 if active else 0) * fr, fr, fr))
        frame = frame.copy() if size == fr else pygame.transform.scale(frame, (size, size))
        return self._keep(key, frame)
