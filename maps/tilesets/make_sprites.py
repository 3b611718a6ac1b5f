"""Character and furniture sprite sheets for ``make_tileset.py`` (which runs this; see its docstring and ``LICENSE``).

``people.png``: one 32x32 frame per (look, facing, step); row = look * 4 + facing, column = step.
``furniture.png``: one 32x32 frame per kind; row 0 idle, row 1 in use (lit screens, flames, steam, a glow).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pygame
from make_tileset import FACINGS, FRAMES, FURNITURE, OUTLINE, RGB, SEED, STATES, TS, lit

# (skin, hair, long hair, shirt, trousers): distinct at a glance on a crowded map
LOOKS: list[tuple[RGB, RGB, bool, RGB, RGB]] = [
    ((241, 200, 160), (92, 58, 34), False, (208, 64, 64), (52, 60, 96)),
    ((198, 140, 100), (30, 24, 22), True, (60, 120, 210), (60, 50, 44)),
    ((120, 80, 56), (20, 18, 18), False, (238, 196, 64), (40, 44, 60)),
    ((236, 190, 150), (214, 170, 80), True, (120, 190, 90), (90, 70, 120)),
    ((250, 214, 180), (180, 80, 40), False, (150, 80, 190), (70, 70, 76)),
    ((160, 110, 76), (60, 40, 30), True, (240, 140, 60), (40, 80, 70)),
    ((226, 176, 136), (140, 140, 150), False, (90, 100, 110), (30, 34, 44)),
    ((96, 64, 46), (40, 30, 26), True, (230, 110, 170), (50, 56, 90)),
    ((244, 206, 170), (40, 36, 34), False, (60, 170, 170), (120, 90, 60)),
    ((206, 154, 112), (120, 70, 40), True, (250, 250, 245), (70, 90, 140)),
    ((180, 126, 90), (230, 220, 200), False, (140, 40, 50), (60, 60, 60)),
    ((236, 196, 156), (30, 30, 60), True, (250, 210, 110), (110, 50, 60)),
]
# twelve more, mixed from the first twelve, so a town of 25 shows few twins
LOOKS += [
    (LOOKS[i % 12][0], LOOKS[(i * 5 + 3) % 12][1], not LOOKS[i % 12][2], LOOKS[(i * 7 + 1) % 12][3],
     LOOKS[(i * 5 + 2) % 12][4])
    for i in range(12, 24)
]
SHIRT_SHADES = [0.0, 0.2, -0.15, -0.3]  # every shade of the shirt drawn below, for the viewer's recolouring


def _outline(s: pygame.Surface) -> None:
    """A 1 px dark outline around every opaque shape, as pixel-art sprites have."""
    w, h = s.get_size()
    solid = {(x, y) for y in range(h) for x in range(w) if s.get_at((x, y)).a > 200}
    for x, y in solid:
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in solid:
                s.set_at((nx, ny), OUTLINE)


def _person(look: tuple[RGB, RGB, bool, RGB, RGB], facing: str, step: int) -> pygame.Surface:
    skin, hair, long_hair, shirt, pants = look
    s = pygame.Surface((TS, TS), pygame.SRCALPHA)
    swing = (0, -2, 2)[step]  # the left leg's stride (the right one mirrors it)
    side = facing in ("left", "right")
    if side:
        s.fill(lit(pants, -0.2), (14 - swing, 23, 4, 6))  # back leg
        s.fill(pants, (14 + swing, 23, 4, 6))
        s.fill(shirt, (12, 15, 8, 9))
        arm_x = 15 + swing // 2
        s.fill(lit(shirt, -0.3), (arm_x, 16, 3, 7))
        s.fill(skin, (arm_x, 22, 3, 2))
    else:
        s.fill(pants, (11, 23 + max(0, -swing) // 2, 4, 6 - max(0, -swing) // 2))
        s.fill(pants, (17, 23 + max(0, swing) // 2, 4, 6 - max(0, swing) // 2))
        s.fill(shirt, (10, 15, 12, 9))
        s.fill(lit(shirt, 0.2), (11, 15, 10, 1))
        for ax, d in ((8, swing), (22, -swing)):  # arms swing against the legs
            s.fill(lit(shirt, -0.15), (ax, 16 + d // 2, 2, 6))
            s.fill(skin, (ax, 22 + d // 2, 2, 2))
    pygame.draw.circle(s, skin, (16, 9), 6)
    if facing == "up":
        pygame.draw.circle(s, hair, (16, 9), 6)
        if long_hair:
            s.fill(hair, (10, 9, 12, 7))
    else:
        pygame.draw.circle(s, hair, (16, 7), 6, draw_top_left=True, draw_top_right=True)
        s.fill(hair, (10, 5, 12, 2))
        if long_hair:
            if facing in ("down", "right"):
                s.fill(hair, (10, 6, 2, 9))
            if facing in ("down", "left"):
                s.fill(hair, (20, 6, 2, 9))
        eyes = {"down": (13, 18), "left": (12,), "right": (19,)}[facing]
        for ex in eyes:
            s.fill(OUTLINE, (ex, 10, 1, 2))
        if facing == "down":
            s.fill(lit(skin, -0.3), (15, 13, 2, 1))  # mouth
    _outline(s)
    shadow = pygame.Surface((TS, TS), pygame.SRCALPHA)
    pygame.draw.ellipse(shadow, (0, 0, 0, 70), (9, 27, 14, 5))
    shadow.blit(s, (0, 0))
    return shadow


def draw_people() -> pygame.Surface:
    sheet = pygame.Surface((TS * FRAMES, TS * len(FACINGS) * len(LOOKS)), pygame.SRCALPHA)
    for li, look in enumerate(LOOKS):
        for fi, facing in enumerate(FACINGS):
            for step in range(FRAMES):
                sheet.blit(_person(look, facing, step), (step * TS, (li * len(FACINGS) + fi) * TS))
    return sheet


# -- furniture ---------------------------------------------------------------------------------------
WOOD: RGB = (150, 100, 60)
METAL: RGB = (176, 182, 190)
GLOW: RGB = (255, 214, 90)


def _box(s: pygame.Surface, rect: tuple[int, int, int, int], c: RGB) -> None:
    """A shaded block: lit top edge, dark bottom edge."""
    r = pygame.Rect(rect)
    s.fill(c, r)
    s.fill(lit(c, 0.25), (r.x, r.y, r.w, 2))
    s.fill(lit(c, -0.3), (r.x, r.bottom - 2, r.w, 2))


def _screen(s: pygame.Surface, rect: tuple[int, int, int, int], on: bool) -> None:
    r = pygame.Rect(rect)
    s.fill((36, 40, 48), r)
    inner = r.inflate(-2, -2)
    s.fill((120, 210, 250) if on else (24, 30, 40), inner)
    if on:
        s.fill((230, 250, 255), (inner.x + 1, inner.y + 1, inner.w // 2, 1))


def f_bed(s: pygame.Surface, on: bool) -> None:
    _box(s, (6, 2, 20, 28), WOOD)
    s.fill((240, 240, 236), (8, 4, 16, 6))  # pillow
    _box(s, (8, 12, 16, 16), (80, 110, 190))
    if on:  # someone asleep under the blanket
        pygame.draw.circle(s, (236, 190, 150), (16, 8), 4)
        pygame.draw.ellipse(s, (100, 130, 210), (9, 12, 14, 12))


def f_desk(s: pygame.Surface, on: bool) -> None:
    _box(s, (2, 8, 28, 14), WOOD)
    s.fill(lit(WOOD, -0.35), (4, 22, 3, 7))
    s.fill(lit(WOOD, -0.35), (25, 22, 3, 7))
    s.fill((240, 240, 230), (8, 11, 8, 6))
    if on:
        s.fill((40, 40, 40), (9, 12, 6, 1))
        s.fill((40, 40, 40), (9, 14, 4, 1))
        pygame.draw.circle(s, GLOW, (24, 12), 3)


def f_chair(s: pygame.Surface, on: bool) -> None:
    _box(s, (9, 4, 14, 8), lit(WOOD, -0.1))
    _box(s, (9, 12, 14, 10), WOOD)
    s.fill(lit(WOOD, -0.4), (10, 22, 2, 7))
    s.fill(lit(WOOD, -0.4), (20, 22, 2, 7))
    if on:
        s.fill((200, 80, 80), (11, 13, 10, 6))


def f_table(s: pygame.Surface, on: bool) -> None:
    pygame.draw.ellipse(s, lit(WOOD, 0.1), (3, 6, 26, 18))
    pygame.draw.ellipse(s, lit(WOOD, 0.3), (6, 8, 14, 6))
    s.fill(lit(WOOD, -0.4), (14, 23, 4, 6))
    if on:  # plates
        pygame.draw.circle(s, (250, 250, 250), (11, 15), 3)
        pygame.draw.circle(s, (250, 250, 250), (21, 15), 3)


def f_stove(s: pygame.Surface, on: bool) -> None:
    _box(s, (4, 4, 24, 24), (220, 220, 224))
    for cx, cy in ((11, 11), (21, 11), (11, 20), (21, 20)):
        pygame.draw.circle(s, (230, 80, 30) if on else (60, 60, 66), (cx, cy), 3)
        if on:
            s.set_at((cx, cy), (255, 220, 90))


def f_coffee_machine(s: pygame.Surface, on: bool) -> None:
    _box(s, (8, 6, 16, 22), (60, 56, 60))
    s.fill(METAL, (10, 9, 12, 4))
    s.fill((240, 240, 236), (13, 20, 6, 6))
    s.fill((230, 60, 40) if on else (80, 40, 40), (20, 15, 2, 2))
    if on:  # steam and a full cup
        s.fill((110, 70, 40), (14, 21, 4, 2))
        for i, x in enumerate((13, 16, 19)):
            pygame.draw.line(s, (240, 240, 250), (x, 4 - i % 2), (x, 0), 1)


def f_shelf(s: pygame.Surface, on: bool) -> None:
    _box(s, (3, 2, 26, 28), WOOD)
    rng = random.Random(SEED + 7)
    for y in (5, 14, 23):
        s.fill(lit(WOOD, -0.4), (5, y + 6, 22, 1))
        for x in range(6, 26, 5):
            s.fill(rng.choice([(200, 80, 60), (80, 150, 90), (230, 200, 90), (90, 110, 200)]), (x, y + 1, 4, 5))
    if on:
        pygame.draw.rect(s, GLOW, (3, 2, 26, 28), 1)


def f_counter(s: pygame.Surface, on: bool) -> None:
    _box(s, (0, 8, 32, 18), (180, 150, 120))
    s.fill((230, 226, 220), (0, 8, 32, 4))
    if on:  # a register with a lit display
        _box(s, (18, 2, 10, 8), (70, 70, 80))
        s.fill((120, 250, 140), (20, 4, 6, 2))


def f_piano(s: pygame.Surface, on: bool) -> None:
    _box(s, (2, 4, 28, 16), (36, 30, 34))
    s.fill((250, 250, 250), (3, 20, 26, 7))
    for x in range(5, 28, 3):
        s.fill((20, 20, 20), (x, 20, 1, 4))
    if on:  # notes in the air
        for x, y in ((8, 2), (20, 0)):
            s.fill(GLOW, (x, y, 3, 3))
            s.fill(GLOW, (x + 2, y - 3, 1, 4))


def f_computer(s: pygame.Surface, on: bool) -> None:
    _box(s, (2, 14, 28, 14), WOOD)
    _screen(s, (8, 2, 16, 12), on)
    s.fill((60, 60, 66), (14, 14, 4, 2))
    s.fill((200, 200, 206), (9, 18, 14, 4))


def f_sofa(s: pygame.Surface, on: bool) -> None:
    c = (110, 140, 90)
    _box(s, (2, 6, 28, 10), lit(c, -0.1))
    _box(s, (2, 14, 28, 12), c)
    _box(s, (0, 10, 5, 16), lit(c, -0.2))
    _box(s, (27, 10, 5, 16), lit(c, -0.2))
    if on:
        s.fill((240, 220, 120), (8, 15, 6, 5))


def f_tv(s: pygame.Surface, on: bool) -> None:
    _box(s, (4, 20, 24, 8), WOOD)
    _screen(s, (3, 3, 26, 17), on)


def f_fridge(s: pygame.Surface, on: bool) -> None:
    _box(s, (7, 1, 18, 30), (232, 236, 240))
    s.fill((180, 186, 194), (7, 11, 18, 1))
    s.fill((120, 126, 134), (21, 4, 2, 5))
    if on:  # the door open: cold light inside
        s.fill((200, 240, 255), (8, 12, 10, 18))
        s.fill((230, 90, 80), (10, 16, 3, 3))


def f_sink(s: pygame.Surface, on: bool) -> None:
    _box(s, (3, 8, 26, 18), (220, 224, 230))
    pygame.draw.ellipse(s, (150, 160, 170), (7, 12, 18, 11))
    s.fill(METAL, (15, 4, 2, 8))
    if on:
        pygame.draw.ellipse(s, (110, 180, 240), (9, 14, 14, 7))
        s.fill((160, 210, 250), (15, 12, 1, 4))


def f_toilet(s: pygame.Surface, on: bool) -> None:
    _box(s, (9, 2, 14, 8), (236, 238, 240))
    pygame.draw.ellipse(s, (236, 238, 240), (8, 10, 16, 18))
    pygame.draw.ellipse(s, (110, 170, 220) if on else (180, 200, 214), (11, 13, 10, 11))


def f_shower(s: pygame.Surface, on: bool) -> None:
    s.fill((200, 226, 236), (3, 3, 26, 26))
    pygame.draw.rect(s, (150, 170, 180), (3, 3, 26, 26), 2)
    s.fill(METAL, (14, 4, 4, 3))
    if on:
        for x in range(9, 25, 3):
            s.fill((80, 160, 240), (x, 8 + x % 5, 1, 4))
            s.fill((80, 160, 240), (x + 1, 16 + x % 4, 1, 4))


def f_bookshelf(s: pygame.Surface, on: bool) -> None:
    f_shelf(s, False)
    if on:  # a book taken out
        s.fill((60, 60, 40), (16, 6, 4, 5))
        pygame.draw.rect(s, GLOW, (3, 2, 26, 28), 1)


def f_easel(s: pygame.Surface, on: bool) -> None:
    pygame.draw.line(s, WOOD, (8, 30), (14, 4), 2)
    pygame.draw.line(s, WOOD, (24, 30), (18, 4), 2)
    _box(s, (7, 5, 18, 16), (246, 244, 236))
    if on:  # paint on the canvas
        pygame.draw.circle(s, (230, 90, 80), (12, 11), 3)
        pygame.draw.circle(s, (80, 130, 220), (19, 14), 3)
        s.fill((90, 180, 90), (10, 16, 10, 2))


def f_bench(s: pygame.Surface, on: bool) -> None:
    _box(s, (1, 8, 30, 5), lit(WOOD, -0.1))
    _box(s, (1, 14, 30, 8), WOOD)
    s.fill((60, 60, 66), (3, 22, 3, 7))
    s.fill((60, 60, 66), (26, 22, 3, 7))
    if on:
        s.fill((220, 200, 110), (12, 15, 8, 4))


def f_plant(s: pygame.Surface, on: bool) -> None:
    _box(s, (10, 20, 12, 10), (190, 100, 60))
    for cx, cy, r in ((16, 12, 7), (10, 15, 5), (22, 15, 5)):
        pygame.draw.circle(s, (60, 140, 60), (cx, cy), r)
    pygame.draw.circle(s, (100, 180, 90), (14, 10), 3)
    if on:  # watered: drops
        for x, y in ((8, 4), (16, 2), (24, 5)):
            s.fill((110, 180, 240), (x, y, 2, 3))


def f_object(s: pygame.Surface, on: bool) -> None:
    _box(s, (7, 9, 18, 18), (160, 150, 170))
    s.fill(lit((160, 150, 170), 0.3), (9, 11, 6, 3))
    if on:
        pygame.draw.circle(s, GLOW, (16, 18), 4)


FURNITURE_PAINTERS: dict[str, Callable[[pygame.Surface, bool], None]] = {
    "bed": f_bed, "desk": f_desk, "chair": f_chair, "table": f_table, "stove": f_stove,
    "coffee_machine": f_coffee_machine, "shelf": f_shelf, "counter": f_counter, "piano": f_piano,
    "computer": f_computer, "sofa": f_sofa, "tv": f_tv, "fridge": f_fridge, "sink": f_sink, "toilet": f_toilet,
    "shower": f_shower, "bookshelf": f_bookshelf, "easel": f_easel, "bench": f_bench, "plant": f_plant,
    "object": f_object,
}


def draw_furniture() -> pygame.Surface:
    sheet = pygame.Surface((TS * len(FURNITURE), TS * len(STATES)), pygame.SRCALPHA)
    for ki, kind in enumerate(FURNITURE):
        for row, state in enumerate(STATES):
            s = pygame.Surface((TS, TS), pygame.SRCALPHA)
            FURNITURE_PAINTERS[kind](s, state == "active")
            _outline(s)
            if state == "active":  # a warm rim so "in use" reads even at small zoom
                rim = pygame.Surface((TS, TS), pygame.SRCALPHA)
                pygame.draw.rect(rim, (*GLOW, 150), rim.get_rect(), 2, border_radius=4)
                s.blit(rim, (0, 0))
            sheet.blit(s, (ki * TS, row * TS))
    return sheet


def sprites_json() -> dict:
    """What the viewer needs to cut the sheets (paths relative to this folder)."""
    return {
        "people": {
            "image": "people.png", "frame": TS, "facings": FACINGS, "steps": FRAMES, "shirt_shades": SHIRT_SHADES,
            "looks": [{"shirt": list(look[3])} for look in LOOKS],
        },
        "furniture": {"image": "furniture.png", "frame": TS, "kinds": FURNITURE, "states": STATES},
    }
