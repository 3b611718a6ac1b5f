"""Replay a finished (or killed) run from ``run_dir/events.jsonl`` with the live viewer's renderer.

Keys: space play/pause, ``+``/``-`` speed, left/right seek -/+10 ticks, Home/End first/last
tick, click the timeline bar to seek, WASD/up/down pan (or drag with the right mouse button),
mouse wheel zoom, click an agent to select it (in the side list: and follow it), click the minimap to
jump there, click the empty map to go back, Esc/q quit.
With ``screenshot=PATH`` nothing is opened: the picture at ``at_tick`` is saved and the call
returns.
"""

from __future__ import annotations

from pathlib import Path

import pygame

from town.world.maps import TownMap, load_map
from town.viewer.live import FPS, MAX_TPS, MIN_TPS, PAN_PX_PER_S
from town.viewer.renderer import Renderer
from town.viewer.state import ReplayIndex

SEEK_TICKS = 10
#: drawn at the foot of the side panel
KEYS_HELP = (
    "space play   +/- speed   left/right seek",
    "Home/End   click the bar to seek",
    "WASD pan   wheel zoom   Esc/q quit",
    "click a person in the list: follow   minimap: jump",
)
_REPO_MAPS = Path(__file__).resolve().parents[2] / "maps"


def resolve_map(map_ref: str | None, run_dir: Path) -> Path:
    """Find the map a run used: as logged, else relative to the run folder, else in the repo's ``maps/``."""
    if not map_ref:
        raise ValueError(f"{run_dir}/events.jsonl has no run_start event naming the map; pass map_path=")
    ref = Path(map_ref)
    for candidate in (ref, run_dir / ref, run_dir / ref.name, _REPO_MAPS / ref.name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"map {map_ref!r} of run {run_dir} not found (also looked in {run_dir} and {_REPO_MAPS})")


def _open(run_dir: Path, map_path: Path | None, keyframe_every: int) -> tuple[ReplayIndex, TownMap]:
    run_dir = Path(run_dir)
    index = ReplayIndex.load(run_dir / "events.jsonl", keyframe_every=keyframe_every)
    if not index.events:
        raise ValueError(f"{run_dir}/events.jsonl holds no events: nothing to replay")
    town_map = load_map(map_path if map_path is not None else resolve_map(index.map_path, run_dir))
    return index, town_map


def save_replay_screenshot(
    run_dir: Path,
    screenshot: Path,
    *,
    at_tick: int | None = None,
    width: int = 1280,
    height: int = 800,
    map_path: Path | None = None,
    selected: str | None = None,
) -> int:
    """Save a PNG of the run at ``at_tick`` (default: the last tick) without opening a window; returns the tick."""
    index, town_map = _open(run_dir, map_path, keyframe_every=10**9)
    tick = index.last_tick if at_tick is None else at_tick
    if not index.first_tick <= tick <= index.last_tick:
        raise ValueError(f"tick {tick} is outside this run's ticks {index.first_tick}..{index.last_tick}")
    state = index.state_at(tick)
    if selected is not None and selected not in state.agents:
        raise ValueError(f"no agent {selected!r} in this run; agents: {', '.join(sorted(state.agents))}")
    pygame.font.init()
    renderer = Renderer(town_map, width, height)
    renderer.selected = selected
    renderer.render(state, paused=True, timeline=(index.first_tick, index.last_tick, tick), keys_help=KEYS_HELP)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(renderer.surface, str(screenshot))
    return tick


class ReplayPlayer:
    """Playback position, speed and seeking over a :class:`ReplayIndex`, driven by pygame events."""

    def __init__(self, index: ReplayIndex, renderer: Renderer, *, start: int, tps: float) -> None:
        if not MIN_TPS <= tps <= MAX_TPS:
            raise ValueError(f"tps must be in [{MIN_TPS}, {MAX_TPS}], got {tps}")
        self.index = index
        self.renderer = renderer
        self.first, self.last = index.first_tick, index.last_tick
        if not self.first <= start <= self.last:
            raise ValueError(f"tick {start} is outside this run's ticks {self.first}..{self.last}")
        self.tps = tps
        self.playing = True
        self.quit = False
        self.pos = float(start)  # playback position in ticks; the fraction interpolates movement
        self.state = index.state_at(start)

    @property
    def tick(self) -> int:
        return int(self.pos)

    def seek(self, tick: int) -> None:
        tick = min(max(tick, self.first), self.last)
        self.pos = float(tick)
        self.state = self.index.state_at(tick)

    def handle(self, e: pygame.event.Event) -> None:
        """React to one input event (see the module docstring for the keys)."""
        r = self.renderer
        if e.type == pygame.QUIT:
            self.quit = True
        elif e.type == pygame.KEYDOWN:
            if e.key in (pygame.K_ESCAPE, pygame.K_q):
                self.quit = True
            elif e.key == pygame.K_SPACE:
                self.playing = not self.playing
                if self.playing and self.tick >= self.last:
                    self.seek(self.first)
            elif e.key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
                self.tps = min(MAX_TPS, self.tps * 1.5)
            elif e.key in (pygame.K_MINUS, pygame.K_KP_MINUS):
                self.tps = max(MIN_TPS, self.tps / 1.5)
            elif e.key == pygame.K_LEFT:
                self.seek(self.tick - SEEK_TICKS)
            elif e.key == pygame.K_RIGHT:
                self.seek(self.tick + SEEK_TICKS)
            elif e.key == pygame.K_HOME:
                self.seek(self.first)
            elif e.key == pygame.K_END:
                self.seek(self.last)
        elif e.type == pygame.MOUSEWHEEL:
            r.zoom_at(1.25 if e.y > 0 else 0.8, pygame.mouse.get_pos())
        elif e.type == pygame.MOUSEBUTTONDOWN and e.button == 1:
            tick = r.timeline_tick_at(e.pos)
            if tick is not None:
                self.seek(tick)
            else:
                r.click(e.pos)
        elif e.type == pygame.MOUSEMOTION and (e.buttons[1] or e.buttons[2]):
            r.pan(-e.rel[0], -e.rel[1])

    def update(self, dt: float) -> None:
        """Advance playback by ``dt`` seconds of wall time."""
        if not self.playing:
            return
        self.pos = min(float(self.last), self.pos + self.tps * dt)
        if self.tick > self.state.tick:
            self.index.advance(self.state, self.tick)
        if self.pos >= self.last:
            self.playing = False

    def render(self) -> pygame.Surface:
        alpha = self.pos - self.tick if self.playing else 1.0
        return self.renderer.render(
            self.state, alpha=alpha, paused=not self.playing, speed=self.tps, timeline=(self.first, self.last, self.tick),
            keys_help=KEYS_HELP,
        )


def run_replay(
    run_dir: Path,
    *,
    screenshot: Path | None = None,
    at_tick: int | None = None,
    width: int = 1280,
    height: int = 800,
    tps: float = 4.0,
    map_path: Path | None = None,
) -> None:
    """Play a run in a window (or, with ``screenshot``, save the picture at ``at_tick`` and return)."""
    if screenshot is not None:
        save_replay_screenshot(run_dir, screenshot, at_tick=at_tick, width=width, height=height, map_path=map_path)
        return
    index, town_map = _open(run_dir, map_path, keyframe_every=25)
    pygame.display.init()
    pygame.font.init()
    try:
        screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(f"town replay: {Path(run_dir).name}")
        player = ReplayPlayer(
            index, Renderer(town_map, width, height), start=index.first_tick if at_tick is None else at_tick, tps=tps
        )
        clock = pygame.time.Clock()
        while not player.quit:
            dt = clock.tick(FPS) / 1000.0
            for e in pygame.event.get():
                player.handle(e)
            keys = pygame.key.get_pressed()
            dx = keys[pygame.K_d] - keys[pygame.K_a]
            dy = (keys[pygame.K_DOWN] or keys[pygame.K_s]) - (keys[pygame.K_UP] or keys[pygame.K_w])
            if dx or dy:
                player.renderer.pan(dx * PAN_PX_PER_S * dt, dy * PAN_PX_PER_S * dt)
            player.update(dt)
            screen.blit(player.render(), (0, 0))
            pygame.display.flip()
    finally:
        pygame.quit()
