"""The pygame renderer, live viewer and replay, off-screen (SDL dummy video driver)."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import json  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import pygame  # noqa: E402
import pytest  # noqa: E402

from town.world.events import Event, EventLog  # noqa: E402
from town.world.maps import TownMap, load_map  # noqa: E402
from town.viewer import colors as C  # noqa: E402
from town.viewer.renderer import BUBBLE_TICKS, Renderer  # noqa: E402
from town.viewer.state import TownState  # noqa: E402
from tests._town_fixtures import as_tiled_saves  # noqa: E402

TS = 16  # map tile size in pixels
W, H = 12, 9
T0 = datetime(2023, 2, 13, 8, 0)
CLASSES = ["grass", "road", "wall", "floor", "water"]
ROOT = Path(__file__).resolve().parent.parent


def _gid(cls: str) -> int:
    return CLASSES.index(cls) + 1


def tiny_map_json(path: Path, *, image: str | None = None) -> Path:
    """A 12x9 town: grass, a road on row 5, a walled cafe (tiles 1..4 x 1..3), a pond at (9..10, 1..2)."""
    ground = [[_gid("grass")] * W for _ in range(H)]
    collision = [[0] * W for _ in range(H)]
    for x in range(W):
        ground[5][x] = _gid("road")
    for y in range(1, 4):
        for x in range(1, 5):
            wall = x in (1, 4) or y in (1, 3)
            ground[y][x] = _gid("wall" if wall else "floor")
            collision[y][x] = 1 if wall else 0
    for y in (1, 2):
        for x in (9, 10):
            ground[y][x] = _gid("water")
            collision[y][x] = 1

    def rect(name: str, x: int, y: int, w: int, h: int, **props: str) -> dict:
        return {"name": name, "x": x * TS, "y": y * TS, "width": w * TS, "height": h * TS,
                "properties": [{"name": k, "type": "string", "value": v} for k, v in props.items()]}

    tileset: dict = {"firstgid": 1, "name": "t", "tilewidth": TS, "tileheight": TS, "tilecount": len(CLASSES),
                     "columns": len(CLASSES), "tiles": [{"id": i, "class": c} for i, c in enumerate(CLASSES)]}
    if image is not None:
        tileset["image"] = image
    data = {
        "orientation": "orthogonal", "infinite": False, "width": W, "height": H, "tilewidth": TS, "tileheight": TS,
        "tilesets": [tileset],
        "layers": [
            {"type": "tilelayer", "name": "ground", "width": W, "height": H, "data": sum(ground, [])},
            {"type": "tilelayer", "name": "collision", "width": W, "height": H, "data": sum(collision, [])},
            {"type": "objectgroup", "name": "sectors", "objects": [rect("Cafe", 1, 1, 4, 3, description="a cafe")]},
            {"type": "objectgroup", "name": "arenas", "objects": [rect("cafe", 1, 1, 4, 3)]},
            {"type": "objectgroup", "name": "objects", "objects": [rect("stove", 2, 2, 1, 1)]},
            {"type": "objectgroup", "name": "spawns", "objects": [{"name": "home", "x": 3 * TS, "y": 7 * TS}]},
        ],
    }
    path.write_text(json.dumps(as_tiled_saves(data)))
    return path


@pytest.fixture
def town_map(tmp_path: Path) -> TownMap:
    return load_map(tiny_map_json(tmp_path / "tiny.json"))


def ev(seq: int, tick: int, type: str, agent: str | None = None, **data: object) -> Event:
    return Event(seq=seq, tick=tick, time=T0 + timedelta(seconds=10 * tick), type=type, agent=agent, data=data)


def agents_ev(seq: int, tick: int, **tiles: tuple[int, int]) -> Event:
    return ev(seq, tick, "agents", states={
        name.replace("_", " "): {"tile": list(t), "address": "", "activity": "walking", "emoji": "", "conversation": None}
        for name, t in tiles.items()})


def px(r: Renderer, pos: tuple[int, int]) -> tuple[int, int, int]:
    return tuple(r.surface.get_at(pos))[:3]  # type: ignore[return-value]


def box_colors(r: Renderer, center: tuple[int, int], half: int = 3) -> set[tuple[int, int, int]]:
    cx, cy = center
    return {px(r, (x, y)) for x in range(cx - half, cx + half + 1) for y in range(cy - half, cy + half + 1)}


def image_around(img: pygame.Surface, center: tuple[int, int], half: int = 2) -> set[tuple[int, int, int]]:
    cx, cy = center
    return {tuple(img.get_at((cx + dx, cy + dy)))[:3] for dx in range(-half, half + 1)  # type: ignore[misc]
            for dy in range(-half, half + 1)}


def make_renderer(town_map: TownMap, zoom_tile_px: int = 40) -> Renderer:
    r = Renderer(town_map, 800, 480, panel_width=240)
    r.camera.zoom = zoom_tile_px / town_map.tile_size
    r.camera.x = r.camera.y = 0.0
    return r


# -- renderer -------------------------------------------------------------------------------------
def test_tile_class_colours_and_blocked_tiles(town_map: TownMap) -> None:
    r = make_renderer(town_map)
    r.render(TownState())
    assert px(r, r.world_to_screen((8, 7))) == C.CLASS_COLORS["grass"]
    assert px(r, r.world_to_screen((8, 5))) == C.CLASS_COLORS["road"]
    assert px(r, r.world_to_screen((3, 2))) == C.CLASS_COLORS["floor"]
    assert px(r, r.world_to_screen((4, 2))) == C.shade(C.CLASS_COLORS["wall"], C.BLOCKED_SHADE)
    assert px(r, r.world_to_screen((10, 2))) == C.shade(C.CLASS_COLORS["water"], C.BLOCKED_SHADE)


def test_tileset_image_is_used_when_present(tmp_path: Path) -> None:
    sheet = pygame.Surface((TS * len(CLASSES), TS))
    tile_colors = [(10, 200, 10), (200, 10, 10), (10, 10, 200), (200, 200, 10), (10, 200, 200)]
    for i, c in enumerate(tile_colors):
        sheet.fill(c, pygame.Rect(i * TS, 0, TS, TS))
    pygame.image.save(sheet, str(tmp_path / "sheet.png"))
    m = load_map(tiny_map_json(tmp_path / "img.json", image="sheet.png"))
    r = make_renderer(m)
    r.render(TownState())
    assert px(r, r.world_to_screen((8, 7))) == tile_colors[0]
    assert px(r, r.world_to_screen((8, 5))) == tile_colors[1]
    # blocked, but drawn with tileset art: the wall tile as it is (the collision layer stays hidden)
    assert px(r, r.world_to_screen((4, 2))) == tile_colors[2]
    assert r.static.drawn_layers == ["ground"]


def test_agent_sprite_is_drawn_at_its_tile_and_moves(town_map: TownMap) -> None:
    r = make_renderer(town_map)
    s = TownState()
    s.apply(agents_ev(1, 1, Ada_Lovelace=(7, 7), Bob_Smith=(10, 4)))
    r.render(s)
    ada = C.agent_color("Ada Lovelace", ["Ada Lovelace", "Bob Smith"])
    bob = C.agent_color("Bob Smith", ["Ada Lovelace", "Bob Smith"])
    assert ada != bob
    assert ada in box_colors(r, r.world_to_screen((7, 7)))
    assert ada not in box_colors(r, r.world_to_screen((3, 7)))
    assert bob in box_colors(r, r.world_to_screen((10, 4)))
    s.apply(agents_ev(2, 2, Ada_Lovelace=(3, 7), Bob_Smith=(10, 4)))
    r.render(s)
    assert ada in box_colors(r, r.world_to_screen((3, 7)))
    assert ada not in box_colors(r, r.world_to_screen((7, 7)))
    # halfway through the tick the sprite is between the two tiles
    r.render(s, alpha=0.5)
    assert ada in box_colors(r, r.world_to_screen((5, 7)))
    assert ada not in box_colors(r, r.world_to_screen((3, 7)), half=1)
    assert r.agent_at(r.world_to_screen((5, 7))) == "Ada Lovelace"


def test_speech_bubble_after_chat_and_gone_later(town_map: TownMap) -> None:
    r = make_renderer(town_map)
    s = TownState()
    s.apply(agents_ev(1, 1, Ada_Lovelace=(6, 7)))
    r.render(s)
    assert r.bubble_rects == {}
    s.apply(ev(2, 1, "chat", conversation="c1", speaker="Ada Lovelace", listeners=["Bob"], text="Hello there, Bob!"))
    r.render(s)
    rect = r.bubble_rects["Ada Lovelace"]
    probe = (rect.right - 3, rect.centery)  # inside the bubble's padding
    assert px(r, probe) == C.BUBBLE_BG
    assert rect.bottom < r.world_to_screen((6, 7))[1]  # above the speaker
    s.apply(agents_ev(3, 1 + BUBBLE_TICKS, Ada_Lovelace=(6, 7)))
    r.render(s)
    assert r.bubble_rects == {}
    assert px(r, probe) != C.BUBBLE_BG


def test_camera_mapping_pan_and_zoom(town_map: TownMap) -> None:
    r = make_renderer(town_map)
    assert r.tile_px == 40
    assert r.world_to_screen((0, 0)) == (20, 20)
    assert r.screen_to_tile(r.world_to_screen((5, 3))) == (5, 3)
    r.pan(80, 40)
    assert r.world_to_screen((2, 1)) == (20, 20)
    anchor = r.world_to_screen((6, 4))
    r.zoom_at(1.5, anchor)
    assert r.tile_px == 60
    assert r.screen_to_tile(anchor) == (6, 4)  # the point under the cursor stays put
    r.zoom_at(1 / 100)
    assert r.tile_px == 4  # clamped
    with pytest.raises(ValueError):
        r.zoom_at(0)


def test_fit_shows_whole_map(town_map: TownMap) -> None:
    r = Renderer(town_map, 800, 480, panel_width=240)
    x0, y0 = r.world_to_screen((0, 0))
    x1, y1 = r.world_to_screen((W - 1, H - 1))
    assert r.view.collidepoint(x0, y0) and r.view.collidepoint(x1, y1)


def test_selection_panel_and_timeline(town_map: TownMap) -> None:
    r = make_renderer(town_map)
    s = TownState()
    s.apply(agents_ev(1, 1, Ada_Lovelace=(6, 7)))
    s.apply(ev(2, 1, "plan", "Ada Lovelace", plan=["write notes", "visit cafe"]))
    r.render(s, timeline=(0, 100, 50))
    row = r.panel_rows["Ada Lovelace"]
    assert r.agent_at(row.center) == "Ada Lovelace"
    before = r.surface.subsurface(r.panel).copy()
    r.selected = "Ada Lovelace"
    r.render(s, paused=True, timeline=(0, 100, 50))
    assert r.panel_rows == {}
    after = r.surface.subsurface(r.panel)
    diff = sum(1 for x in range(0, r.panel.w, 4) for y in range(0, r.panel.h, 4)
               if before.get_at((x, y)) != after.get_at((x, y)))
    assert diff > 20  # the panel now shows the agent's page
    tl = r.timeline_rect
    assert tl is not None
    assert r.timeline_tick_at((tl.left, tl.centery)) == 0
    assert r.timeline_tick_at((tl.right - 1, tl.centery)) == 100
    assert r.timeline_tick_at((tl.left, tl.top - 5)) is None


def test_key_help_sits_at_the_foot_of_the_panel_and_pushes_nothing_over_it(town_map: TownMap) -> None:
    r = make_renderer(town_map)
    keys = ("space pause", "Esc/q quit")

    def rows_with_ink() -> set[int]:
        p = r.panel
        return {y for y in range(p.top, p.bottom) for x in range(p.left, p.right, 2)
                if tuple(r.surface.get_at((x, y)))[:3] != C.PANEL_BG}

    r.render(TownState(), keys_help=keys)  # no agents: the panel holds its title and the help alone
    half = r.panel.centery
    help_rows = {y for y in rows_with_ink() if y > half}
    assert help_rows and max(help_rows) <= r.panel.bottom - 8
    help_top = min(help_rows)

    s = TownState()
    s.apply(agents_ev(1, 1, Ada_Lovelace=(6, 7)))
    long = "a long stretch of work that the side panel wraps over several lines of text"
    s.apply(ev(2, 1, "plan", "Ada Lovelace", plan=[f"{i}: {long}" for i in range(8)]))
    s.apply(ev(3, 1, "schedule", "Ada Lovelace",
               blocks=[{"start": f"{h:02d}:00", "end": f"{h + 1:02d}:00", "activity": long} for h in range(8, 16)]))
    for i in range(6):
        s.apply(ev(4 + i, 1, "memory", "Ada Lovelace", text=f"memory {i}: {long}"))
    r.selected = "Ada Lovelace"
    r.render(s)
    plain = rows_with_ink()
    assert max(plain) > help_top  # without help the long page runs down into the foot
    r.render(s, keys_help=keys)
    helped = rows_with_ink()
    assert {y for y in helped if y >= help_top} == help_rows  # the foot holds the help and nothing else
    assert max(y for y in helped if y < help_top) <= help_top - 8  # the page stops short of it


def test_bad_sizes_raise(town_map: TownMap) -> None:
    with pytest.raises(ValueError, match="too small"):
        Renderer(town_map, 50, 50)
    with pytest.raises(ValueError, match="panel_width"):
        Renderer(town_map, 400, 300, panel_width=350)
    r = make_renderer(town_map)
    with pytest.raises(ValueError, match="alpha"):
        r.render(TownState(), alpha=2.0)


def test_the_ville_renders(tmp_path: Path) -> None:
    path = ROOT / "maps" / "the_ville.json"
    if not path.exists():
        pytest.skip("maps/the_ville.json not there")
    m = load_map(path)
    r = Renderer(m, 1280, 800)
    r.render(TownState())
    grass = next((x, y) for y in range(m.height) for x in range(m.width)
                 if m.tile_classes[y][x] == "grass" and (x, y) not in m.blocked)
    road = next((x, y) for y in range(m.height) for x in range(m.width) if m.tile_classes[y][x] == "road")
    assert px(r, r.world_to_screen(grass)) != px(r, r.world_to_screen(road))


# -- live viewer ----------------------------------------------------------------------------------
class FakeTown:
    """A fake async simulation: agent A walks east one tile per tick and talks on tick 3."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.tick = 0
        self.threads: set[int] = set()
        self.closed_in: int | None = None

    async def step(self) -> None:
        import asyncio
        import threading

        self.threads.add(threading.get_ident())
        await asyncio.sleep(0)  # a real await, as an LLM call would be
        self.tick += 1
        t = T0 + timedelta(seconds=10 * self.tick)
        self.log.emit(self.tick, t, "tick")
        if self.tick == 3:
            self.log.emit(self.tick, t, "chat", "A", conversation="c", speaker="A", listeners=[], text="hi")
        self.log.emit(self.tick, t, "agents", states={
            "A": {"tile": [self.tick, 7], "address": "", "activity": "walking", "emoji": "", "conversation": None}})

    async def close(self) -> None:
        import threading

        self.closed_in = threading.get_ident()


def test_run_live_runs_the_sim_in_another_thread_and_screenshots(town_map: TownMap, tmp_path: Path) -> None:
    import threading

    from town.viewer.live import run_live

    log = EventLog(None)
    town = FakeTown(log)
    shot = tmp_path / "shots" / "live.png"
    ran = run_live(town_map, log, town.step, ticks=50, width=640, height=400, tps=60, close=town.close,
                   screenshot=shot, screenshot_after_ticks=5)
    assert ran == 5 and town.tick == 5  # held at the screenshot tick, then stopped cleanly
    assert town.threads and threading.get_ident() not in town.threads
    assert town.closed_in in town.threads
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = pygame.image.load(str(shot))
    assert img.get_size() == (640, 400)
    # the picture shows tick 5: agent A on tile (5, 7), not where it was before or after
    r = Renderer(town_map, 640, 400)  # same size, same fitted camera as the live window
    a_color = C.agent_color("A", ["A"])

    assert a_color in image_around(img, r.world_to_screen((5, 7)))
    assert a_color not in image_around(img, r.world_to_screen((2, 7))) | image_around(img, r.world_to_screen((8, 7)))


def test_run_live_reraises_sim_errors(town_map: TownMap) -> None:
    from town.viewer.live import run_live

    async def broken() -> None:
        raise RuntimeError("engine bug")

    with pytest.raises(RuntimeError, match="engine bug"):
        run_live(town_map, EventLog(None), broken, ticks=3, width=640, height=400, screenshot=Path("/nonexistent/x.png"))


def test_run_live_argument_errors(town_map: TownMap, tmp_path: Path) -> None:
    from town.viewer.live import run_live

    async def step() -> None:
        return None

    with pytest.raises(ValueError, match="ticks"):
        run_live(town_map, EventLog(None), step, ticks=-1)
    with pytest.raises(ValueError, match="needs screenshot"):
        run_live(town_map, EventLog(None), step, ticks=1, screenshot_after_ticks=1)
    with pytest.raises(ValueError, match="tps"):
        run_live(town_map, EventLog(None), step, ticks=1, tps=0, screenshot=tmp_path / "x.png")


def test_controller_pause_holds_the_sim_thread() -> None:
    import asyncio
    import threading
    import time

    from town.viewer.live import SimController

    ctl = SimController(tps=60)
    started: list[float] = []
    three_started = threading.Event()

    async def loop() -> None:
        while await ctl.wait_turn():
            started.append(time.monotonic())
            if len(started) >= 3:
                three_started.set()

    ctl.toggle_pause()
    t = threading.Thread(target=asyncio.run, args=(loop(),), daemon=True)
    t.start()
    try:
        time.sleep(0.2)  # a window for a (wrong) tick to start; a loaded machine only narrows it, never fails it
        assert started == []  # paused: no tick starts
        ctl.toggle_pause()
        assert three_started.wait(timeout=30)  # runs again once unpaused
    finally:
        ctl.stop()
    t.join(timeout=30)
    assert not t.is_alive()
    gaps = [b - a for a, b in zip(started, started[1:])]
    assert min(gaps) >= 1 / 60  # no faster than 60 ticks/s (a lower bound: load only widens the gaps)


# -- replay ---------------------------------------------------------------------------------------
def write_run_dir(run_dir: Path, map_ref: str, ticks: int = 8) -> None:
    """A run folder whose agent A stands on tile (tick, 7) at each tick; the log ends in a torn line."""

    log = EventLog(run_dir / "events.jsonl")
    log.emit(0, T0, "run_start", seed=1, map=map_ref, scenario="t", agents=["A"], seconds_per_tick=10, start=T0.isoformat())
    for t in range(1, ticks + 1):
        time = T0 + timedelta(seconds=10 * t)
        log.emit(t, time, "tick")
        log.emit(t, time, "agents", states={
            "A": {"tile": [t, 7], "address": "", "activity": "walking", "emoji": "", "conversation": None}})
    log.close()
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"seq": 99, "tick": 9, "ty')


def test_replay_screenshot_at_tick(tmp_path: Path) -> None:
    from town.viewer.replay import run_replay

    map_path = tiny_map_json(tmp_path / "tiny.json")
    run_dir = tmp_path / "run"
    write_run_dir(run_dir, str(map_path))
    shots = {}
    for tick in (3, 6):
        shots[tick] = tmp_path / f"at{tick}.png"
        run_replay(run_dir, screenshot=shots[tick], at_tick=tick, width=640, height=400)
    m = load_map(map_path)
    r = Renderer(m, 640, 400)
    a_color = C.agent_color("A", ["A"])
    for tick, shot in shots.items():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = pygame.image.load(str(shot))
        assert img.get_size() == (640, 400)
        other = 6 if tick == 3 else 3
        assert a_color in image_around(img, r.world_to_screen((tick, 7)))
        assert a_color not in image_around(img, r.world_to_screen((other, 7)))


def test_replay_default_tick_is_the_last_and_map_found_by_name(tmp_path: Path) -> None:
    from town.viewer.replay import save_replay_screenshot

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_map_json(run_dir / "tiny.json")  # the logged path is gone; the run folder holds a copy
    write_run_dir(run_dir, "/gone/elsewhere/tiny.json", ticks=5)
    assert save_replay_screenshot(run_dir, tmp_path / "last.png", width=640, height=400) == 5
    assert pygame.image.load(str(tmp_path / "last.png")).get_size() == (640, 400)


def test_replay_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    from town.viewer.replay import run_replay, save_replay_screenshot

    map_path = tiny_map_json(tmp_path / "tiny.json")
    run_dir = tmp_path / "run"
    write_run_dir(run_dir, str(map_path), ticks=4)
    with pytest.raises(ValueError, match=r"outside this run's ticks 0\.\.4"):
        run_replay(run_dir, screenshot=tmp_path / "x.png", at_tick=40)
    with pytest.raises(ValueError, match="no agent 'Zed'"):
        save_replay_screenshot(run_dir, tmp_path / "x.png", selected="Zed")
    with pytest.raises(FileNotFoundError, match="no event log"):
        run_replay(tmp_path / "nothing", screenshot=tmp_path / "x.png")
    lost = tmp_path / "lost"
    write_run_dir(lost, "/gone/nowhere.json", ticks=2)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        run_replay(lost, screenshot=tmp_path / "x.png")


def test_run_live_from_opens_in_the_sim_thread_and_shows_history(town_map: TownMap, tmp_path: Path) -> None:
    import asyncio
    import threading

    from town.viewer.live import LiveSim, run_live_from

    opened_in: list[int] = []

    async def open_sim() -> LiveSim:
        opened_in.append(threading.get_ident())
        asyncio.get_running_loop()  # opened inside the sim thread's loop
        log = EventLog(tmp_path / "events.jsonl")
        # written before the viewer subscribed (like a resumed run): B stands still on (9, 7)
        log.emit(0, T0, "run_start", seed=1, map="tiny", scenario="t", agents=["A", "B"], seconds_per_tick=10, start=T0.isoformat())
        log.emit(0, T0, "agents", states={
            "B": {"tile": [9, 7], "address": "", "activity": "fishing", "emoji": "", "conversation": None}})
        town = FakeTown(log)
        return LiveSim(town_map=town_map, log=log, step=town.step, ticks=2, close=town.close)

    shot = tmp_path / "hist.png"
    assert run_live_from(open_sim, width=640, height=400, tps=60, screenshot=shot) == 2  # all ticks, then the picture
    assert opened_in and opened_in[0] != threading.get_ident()
    img = pygame.image.load(str(shot))
    r = Renderer(town_map, 640, 400)
    b_color = C.agent_color("B", ["A", "B"])
    assert b_color in image_around(img, r.world_to_screen((9, 7)))
    assert C.agent_color("A", ["A", "B"]) in image_around(img, r.world_to_screen((2, 7)))


def test_live_keys_pause_select_whisper_and_quit(town_map: TownMap, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drive the window with real pygame input events posted from another thread.

    The helper synchronises on what the window and the sim did (pause toggled, step finished, frames
    drawn), never on wall time."""
    import threading
    import time

    from town.viewer import live
    from town.viewer.live import run_live

    log = EventLog(None)
    town = FakeTown(log)
    posted: list[dict] = []
    seen: dict[str, int] = {}
    r = Renderer(town_map, 640, 400)  # the window's renderer has the same fitted camera
    controllers: list[live.SimController] = []
    frames = [0]
    stepping = threading.Event()
    started_while_paused: list[int] = []
    real_toggle, real_flip = live.SimController.toggle_pause, pygame.display.flip

    def toggle(self: live.SimController) -> None:
        controllers.append(self)
        real_toggle(self)

    def flip() -> None:
        real_flip()
        frames[0] += 1

    async def step() -> None:
        stepping.set()
        if controllers and controllers[0].paused:
            started_while_paused.append(town.tick)
        try:
            await town.step()
        finally:
            stepping.clear()

    monkeypatch.setattr(live.SimController, "toggle_pause", toggle)
    monkeypatch.setattr(pygame.display, "flip", flip)

    def wait_for(cond, timeout: float = 60.0) -> None:  # noqa: ANN001 (a bound against a hang, not a speed test)
        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, "timed out"
            time.sleep(0.01)

    def key(k: int) -> None:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0))

    def user() -> None:
        try:
            drive()
        finally:
            key(pygame.K_q)  # a failed wait still closes the window

    def drive() -> None:
        wait_for(lambda: town.tick >= 2)
        key(pygame.K_SPACE)  # pause
        wait_for(lambda: bool(controllers) and controllers[0].paused)
        wait_for(lambda: not stepping.is_set())  # the tick in flight when the key came has finished
        seen["paused_at"] = town.tick
        drawn = frames[0]
        wait_for(lambda: frames[0] >= drawn + 3)  # the window has drawn that tick's events
        seen["still"] = town.tick
        # select agent A by clicking its sprite (it stands on (tick, 7)), then whisper to it
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=r.world_to_screen((town.tick, 7)), button=1))
        key(pygame.K_RETURN)
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text="the party is at 5pm"))
        key(pygame.K_RETURN)
        wait_for(lambda: bool(posted))

    helper = threading.Thread(target=user)
    helper.start()
    ran = run_live(town_map, log, step, ticks=10_000, width=640, height=400, tps=20, post=posted.append)
    helper.join()
    assert seen["still"] == seen["paused_at"] and started_while_paused == []  # paused: no tick started
    assert ran == town.tick < 10_000  # quit stopped the sim cleanly between ticks
    assert posted == [{"type": "whisper", "agent": "A", "text": "the party is at 5pm"}]


def test_replay_player_seeks_plays_and_selects(tmp_path: Path) -> None:
    from town.viewer.replay import ReplayPlayer
    from town.viewer.state import ReplayIndex

    map_path = tiny_map_json(tmp_path / "tiny.json")
    write_run_dir(tmp_path / "run", str(map_path), ticks=8)
    index = ReplayIndex.load(tmp_path / "run" / "events.jsonl", keyframe_every=3)
    r = Renderer(load_map(map_path), 640, 400)
    p = ReplayPlayer(index, r, start=0, tps=4.0)

    def key(k: int) -> None:
        p.handle(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0))

    p.update(0.5)  # 4 ticks/s for half a second
    assert p.tick == 2 and p.state.agents["A"].tile == (2, 7)
    key(pygame.K_RIGHT)
    assert p.tick == 8 and p.state.agents["A"].tile == (8, 7)  # clamped to the last tick
    key(pygame.K_HOME)
    assert p.tick == 0 and p.state.agents["A"].tile is None  # before the first agents snapshot
    key(pygame.K_SPACE)
    assert not p.playing
    p.update(10)
    assert p.tick == 0  # paused: nothing moves
    key(pygame.K_END)
    assert p.state.snapshot() == index.state_at(8).snapshot()
    p.render()
    assert r.timeline_rect is not None
    p.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(r.timeline_rect.centerx, r.timeline_rect.centery), button=1))
    assert p.tick == 4 and p.state.agents["A"].tile == (4, 7)
    p.render()
    p.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=r.world_to_screen((4, 7)), button=1))
    assert r.selected == "A"
    key(pygame.K_PLUS)
    assert p.tps == 6.0
    key(pygame.K_SPACE)
    p.update(10)
    assert p.tick == 8 and not p.playing  # played to the end and stopped
    key(pygame.K_q)
    assert p.quit
    with pytest.raises(ValueError, match="outside"):
        ReplayPlayer(index, r, start=99, tps=4.0)


def test_live_window_keys_pause_talk_and_quit(town_map: TownMap) -> None:
    """The live window's input: space pauses, Enter opens the text box and sends to the town's inbox, q quits."""
    from town.viewer.live import LiveSim, SimController, _Window

    async def step() -> None:
        return None

    pygame.display.init()
    try:
        ctl = SimController(2.0)
        win = _Window(ctl, 640, 400)
        key = lambda k: pygame.event.Event(pygame.KEYDOWN, key=k)  # noqa: E731
        assert win.handle(key(pygame.K_SPACE)) and ctl.paused
        assert win.handle(key(pygame.K_RETURN)) and win.typing is None
        assert win.status_line(False, 0) == "talking to the town needs a run folder"
        posted: list[dict] = []
        ctl.sim = LiveSim(town_map, EventLog(None), step, ticks=1, post=posted.append)
        ctl.ready.set()
        win.open_renderer()
        assert win.renderer is not None
        win.handle(key(pygame.K_RETURN))
        win.handle(pygame.event.Event(pygame.TEXTINPUT, text="a fire at the cafe"))
        assert win.handle(key(pygame.K_q))  # while typing, q is no quit (its letter comes as TEXTINPUT)
        win.handle(pygame.event.Event(pygame.TEXTINPUT, text="!"))
        assert win.status_line(False, 0) == "world event: a fire at the cafe!_   (Enter send, Esc cancel)"
        win.handle(key(pygame.K_BACKSPACE))
        win.handle(key(pygame.K_RETURN))
        assert posted == [{"type": "inject", "description": "a fire at the cafe"}] and win.typing is None
        assert win.status_line(True, 9) == "sent: world event: a fire at the cafe"
        assert not win.handle(key(pygame.K_q)) and not win.handle(pygame.event.Event(pygame.QUIT))
    finally:
        pygame.display.quit()
