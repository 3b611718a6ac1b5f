"""The live viewer: a pygame window over a running simulation.

The simulation runs off the render loop, in a background thread with its own asyncio loop,
so the window stays responsive while LLM calls are in flight. Events reach the window through
a thread-safe queue fed by ``EventLog.subscribe``; the window folds them into a
:class:`~town.viewer.state.TownState` and draws it with the same
:class:`~town.viewer.renderer.Renderer` as replay.

Keys: space pause/play (the sim thread waits between ticks), ``+``/``-`` speed (max ticks
per second), arrows/WASD pan (or drag with the right mouse button), mouse wheel zoom, click an
agent to select it (side panel; from the side list it is also followed), click the minimap to
jump there, click the empty map to go back, ``f`` follow the selected agent, Enter talk to the
town (whisper to the selected agent, or inject a world event when none is selected; needs
``post``), Esc/q quit (the current tick finishes, then the sim closes cleanly).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygame

from town.world.events import Event, EventLog, read_events
from town.world.maps import TownMap
from town.viewer import colors as C
from town.viewer.renderer import Renderer
from town.viewer.state import TownState

log = logging.getLogger("town.viewer")

FPS = 30
PAN_PX_PER_S = 700
MIN_TPS, MAX_TPS = 0.25, 60.0
STATUS_SECONDS = 4.0
_POLL_S = 0.02  # how often a waiting sim thread looks at pause/stop
#: drawn at the foot of the side panel
KEYS_HELP = (
    "space pause   +/- speed   f follow",
    "arrows/WASD pan   wheel zoom",
    "click an agent: details   Enter: talk",
    "click the list: follow   minimap: jump",
    "Esc/q quit",
)


@dataclass
class LiveSim:
    """A simulation the live viewer can drive.

    ``step`` runs one tick (emitting its events on ``log``); ``ticks`` is how many to run;
    ``close`` (optional) is awaited once at the end, in the sim thread, even after an error or
    quit; ``post`` (optional) sends a message to the town's inbox, e.g.
    ``{"type": "whisper", "agent": name, "text": text}`` or ``{"type": "inject", "description": text}``
    (called from the window's thread; it must be thread-safe, e.g. ``checkpoint.post_to_inbox``).
    With ``show_history`` the events already in ``log``'s file (a resumed run, or the ``run_start``
    written while opening) are shown first.
    """

    town_map: TownMap
    log: EventLog
    step: Callable[[], Awaitable[Any]]
    ticks: int
    close: Callable[[], Awaitable[Any]] | None = None
    post: Callable[[dict[str, Any]], Any] | None = None
    show_history: bool = True


class SimController:
    """Shared between the window and the sim thread: pause, speed, stop, progress, errors."""

    def __init__(self, tps: float, hold_after: int | None = None) -> None:
        if not MIN_TPS <= tps <= MAX_TPS:
            raise ValueError(f"tps must be in [{MIN_TPS}, {MAX_TPS}], got {tps}")
        self._lock = threading.Lock()
        self.tps = tps
        self.paused = False
        self.hold_after = hold_after  # the sim waits once this many ticks ran (screenshots)
        self.ticks_done = 0
        self.total_ticks: int | None = None
        self.sim: LiveSim | None = None
        self.error: BaseException | None = None
        self.sim_thread_id: int | None = None
        self._stop = threading.Event()
        self.ready = threading.Event()  # set once ``sim`` is open (or opening failed)
        self.finished = threading.Event()  # set when the sim thread is done (ticks run, stopped or failed)
        self._last_start = 0.0

    # window side
    def toggle_pause(self) -> None:
        with self._lock:
            self.paused = not self.paused

    def change_speed(self, factor: float) -> None:
        with self._lock:
            self.tps = min(MAX_TPS, max(MIN_TPS, self.tps * factor))

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def holding(self) -> bool:
        """True when the sim waits because ``hold_after`` ticks ran."""
        return self.hold_after is not None and self.ticks_done >= self.hold_after

    # sim side
    async def wait_turn(self) -> bool:
        """Wait until the next tick may start (not paused, not held, not faster than ``tps``); False: stop."""
        while not self._stop.is_set():
            with self._lock:
                wait = 0.0 if self._last_start == 0.0 else self._last_start + 1.0 / self.tps - time.monotonic()
                blocked = self.paused or self.holding
            if not blocked and wait <= 0:
                self._last_start = time.monotonic()
                return True
            await asyncio.sleep(_POLL_S if blocked else min(wait, _POLL_S))
        return False


async def _drive(open_sim: Callable[[], Awaitable[LiveSim]], ctl: SimController, events: queue.Queue[Event]) -> None:
    sim = await open_sim()
    if not isinstance(sim, LiveSim):
        raise TypeError(f"open_sim must return a LiveSim, got {type(sim).__name__}")
    if sim.ticks < 0:
        raise ValueError(f"ticks must be >= 0, got {sim.ticks}")
    if sim.show_history and sim.log.path is not None and sim.log.path.exists():
        sim.log.flush()
        for event in read_events(sim.log.path):  # nothing else writes to the log while we read it
            events.put(event)
    detached = threading.Event()

    def forward(event: Event) -> None:
        if not detached.is_set():
            events.put(event)

    sim.log.subscribe(forward)
    ctl.total_ticks = sim.ticks
    ctl.sim = sim
    ctl.ready.set()
    try:
        while ctl.ticks_done < sim.ticks and await ctl.wait_turn():
            await sim.step()
            ctl.ticks_done += 1
    finally:
        try:
            if sim.close is not None:
                await sim.close()
        finally:
            detached.set()


def _sim_thread(open_sim: Callable[[], Awaitable[LiveSim]], ctl: SimController, events: queue.Queue[Event]) -> None:
    ctl.sim_thread_id = threading.get_ident()
    try:
        asyncio.run(_drive(open_sim, ctl, events))
    except BaseException as exc:  # handed to the window thread, which re-raises it
        ctl.error = exc
    finally:
        ctl.ready.set()
        ctl.finished.set()


class _TextInput:
    """A one-line text box for talking to the town."""

    def __init__(self, target: str | None) -> None:
        self.target = target  # agent name (whisper) or None (world event)
        self.text = ""

    @property
    def prompt(self) -> str:
        return f"whisper to {self.target}: " if self.target else "world event: "

    def message(self) -> dict[str, Any]:
        if self.target:
            return {"type": "whisper", "agent": self.target, "text": self.text.strip()}
        return {"type": "inject", "description": self.text.strip()}


def run_live(
    town_map: TownMap,
    log: EventLog,
    step: Callable[[], Awaitable[Any]],
    *,
    ticks: int,
    width: int = 1280,
    height: int = 800,
    tps: float = 2.0,
    screenshot: Path | None = None,
    screenshot_after_ticks: int | None = None,
    close: Callable[[], Awaitable[Any]] | None = None,
    post: Callable[[dict[str, Any]], Any] | None = None,
) -> int:
    """Open a window and run ``ticks`` ticks of ``step`` (awaited in a background thread's own
    asyncio loop, so it must not be bound to another loop) while showing the town.

    With ``screenshot``, saves a ``width`` x ``height`` PNG after ``screenshot_after_ticks``
    ticks (default: all of them) and returns. Returns the number of ticks run.
    See :func:`run_live_from` when the simulation must be opened inside the sim thread's loop.
    """

    async def open_sim() -> LiveSim:
        return LiveSim(town_map=town_map, log=log, step=step, ticks=ticks, close=close, post=post)

    if ticks < 0:
        raise ValueError(f"ticks must be >= 0, got {ticks}")
    return run_live_from(
        open_sim, width=width, height=height, tps=tps, screenshot=screenshot,
        screenshot_after_ticks=screenshot_after_ticks,
    )


def run_live_from(
    open_sim: Callable[[], Awaitable[LiveSim]],
    *,
    width: int = 1280,
    height: int = 800,
    tps: float = 2.0,
    screenshot: Path | None = None,
    screenshot_after_ticks: int | None = None,
) -> int:
    """Like :func:`run_live`, but ``open_sim`` is awaited first in the sim thread's loop (so a
    session holding loop-bound clients can be opened there) and returns the :class:`LiveSim`."""
    if screenshot_after_ticks is not None and screenshot_after_ticks < 0:
        raise ValueError(f"screenshot_after_ticks must be >= 0, got {screenshot_after_ticks}")
    if screenshot_after_ticks is not None and screenshot is None:
        raise ValueError("screenshot_after_ticks needs screenshot=PATH")
    ctl = SimController(tps, hold_after=screenshot_after_ticks if screenshot is not None else None)
    events: queue.Queue[Event] = queue.Queue()
    thread = threading.Thread(target=_sim_thread, args=(open_sim, ctl, events), name="town-sim", daemon=True)

    pygame.display.init()
    pygame.font.init()
    try:
        screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption("town")
        thread.start()
        _window_loop(screen, ctl, events, TownState(), width, height, screenshot)
        ctl.stop()
        _wait_for_sim(screen, ctl, thread)
    finally:
        ctl.stop()
        pygame.quit()
        if thread.is_alive():  # also on Ctrl-C: let the current tick finish and the sim close
            thread.join()
    if ctl.error is not None:
        raise ctl.error
    return ctl.ticks_done


class _Window:
    """The live window's state between frames: the renderer (once the sim is open), the text box, the status line."""

    def __init__(self, ctl: SimController, width: int, height: int) -> None:
        self.ctl = ctl
        self.width, self.height = width, height
        self.renderer: Renderer | None = None
        self.typing: _TextInput | None = None
        self.status, self.status_until = "", 0.0

    def say(self, text: str) -> None:
        self.status, self.status_until = text, time.monotonic() + STATUS_SECONDS

    def open_renderer(self) -> None:
        if self.renderer is None and self.ctl.ready.is_set() and self.ctl.sim is not None:
            self.renderer = Renderer(self.ctl.sim.town_map, self.width, self.height)

    def handle(self, e: pygame.event.Event) -> bool:
        """Apply one input event; False when the window should close."""
        if e.type == pygame.QUIT:
            return False
        if self.typing is not None:
            self._type(e, self.typing)
            return True
        if e.type == pygame.KEYDOWN:
            return self._key(e.key)
        r = self.renderer
        if r is None:
            return True
        if e.type == pygame.MOUSEWHEEL:
            r.zoom_at(1.25 if e.y > 0 else 0.8, pygame.mouse.get_pos())
        elif e.type == pygame.MOUSEBUTTONDOWN and e.button == 1:
            r.click(e.pos)
        elif e.type == pygame.MOUSEMOTION and (e.buttons[1] or e.buttons[2]):
            r.pan(-e.rel[0], -e.rel[1])
        return True

    def _type(self, e: pygame.event.Event, typing: _TextInput) -> None:
        if e.type == pygame.TEXTINPUT:
            typing.text += e.text
        elif e.type == pygame.KEYDOWN and e.key == pygame.K_BACKSPACE:
            typing.text = typing.text[:-1]
        elif e.type == pygame.KEYDOWN and e.key == pygame.K_ESCAPE:
            self.typing = None
            pygame.key.stop_text_input()
        elif e.type == pygame.KEYDOWN and e.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            sim = self.ctl.sim
            if typing.text.strip() and sim is not None and sim.post is not None:
                sim.post(typing.message())
                self.say(f"sent: {typing.prompt}{typing.text.strip()}")
            self.typing = None
            pygame.key.stop_text_input()

    def _key(self, key: int) -> bool:
        ctl, r = self.ctl, self.renderer
        if key in (pygame.K_ESCAPE, pygame.K_q):
            return False
        if key == pygame.K_SPACE:
            ctl.toggle_pause()
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
            ctl.change_speed(1.5)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS):
            ctl.change_speed(1 / 1.5)
        elif key == pygame.K_f and r is not None:
            r.follow = not r.follow
        elif key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            if ctl.sim is None or ctl.sim.post is None:
                self.say("talking to the town needs a run folder")
            else:
                self.typing = _TextInput(r.selected if r else None)
                pygame.key.start_text_input()
        return True

    def pan_with_keys(self, dt: float) -> None:
        if self.renderer is None or self.typing is not None:
            return
        keys = pygame.key.get_pressed()
        dx = (keys[pygame.K_RIGHT] or keys[pygame.K_d]) - (keys[pygame.K_LEFT] or keys[pygame.K_a])
        dy = (keys[pygame.K_DOWN] or keys[pygame.K_s]) - (keys[pygame.K_UP] or keys[pygame.K_w])
        if dx or dy:
            self.renderer.pan(dx * PAN_PX_PER_S * dt, dy * PAN_PX_PER_S * dt)

    def status_line(self, finished: bool, done: int) -> str:
        if self.typing is not None:
            return f"{self.typing.prompt}{self.typing.text}_   (Enter send, Esc cancel)"
        text = self.status if time.monotonic() < self.status_until else ""
        return (text or f"done: {done} ticks") if finished else text


def _drain(events: queue.Queue[Event], state: TownState) -> None:
    while True:
        try:
            state.apply(events.get_nowait())
        except queue.Empty:
            return


def _window_loop(
    screen: pygame.Surface,
    ctl: SimController,
    events: queue.Queue[Event],
    state: TownState,
    width: int,
    height: int,
    screenshot: Path | None,
) -> None:
    """One frame per pass: input, then the sim's new events, then drawing (or the screenshot, then return)."""
    clock = pygame.time.Clock()
    font = pygame.font.Font(None, 28)
    tick_seen_at = time.monotonic()
    win = _Window(ctl, width, height)
    while True:
        dt = clock.tick(FPS) / 1000.0
        win.open_renderer()
        for e in pygame.event.get():
            if not win.handle(e):
                return
        win.pan_with_keys(dt)
        # events from the sim: read the tick count first, so every event of those ticks is queued
        done = ctl.ticks_done
        finished = ctl.finished.is_set()
        before = state.tick
        _drain(events, state)
        if state.tick != before:
            tick_seen_at = time.monotonic()
        if ctl.error is not None:
            return
        renderer = win.renderer
        if renderer is None:
            screen.fill(C.BACKGROUND)
            img = font.render("opening the town...", True, C.LABEL_TEXT)
            screen.blit(img, img.get_rect(center=screen.get_rect().center))
            pygame.display.flip()
            continue
        if screenshot is not None and (finished or (ctl.hold_after is not None and done >= ctl.hold_after)):
            renderer.render(state, paused=ctl.paused, speed=ctl.tps, keys_help=KEYS_HELP)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            pygame.image.save(renderer.surface, str(screenshot))
            log.info("screenshot saved to %s at tick %d", screenshot, state.tick)
            return
        alpha = min(1.0, (time.monotonic() - tick_seen_at) * ctl.tps)
        renderer.render(state, alpha=alpha, paused=ctl.paused, speed=ctl.tps, status=win.status_line(finished, done),
                        keys_help=KEYS_HELP)
        screen.blit(renderer.surface, (0, 0))
        pygame.display.flip()


def _wait_for_sim(screen: pygame.Surface, ctl: SimController, thread: threading.Thread) -> None:
    """Keep the window alive (and say so) while the sim finishes its current tick and closes."""
    if not thread.is_alive():
        return
    log.info("waiting for the current tick to finish")
    font = pygame.font.Font(None, 28)
    clock = pygame.time.Clock()
    while thread.is_alive():
        pygame.event.pump()
        shade = pygame.Surface(screen.get_size(), pygame.SRCALPHA)
        shade.fill((0, 0, 0, 12))
        screen.blit(shade, (0, 0))
        img = font.render("finishing the current tick, then closing...", True, C.LABEL_TEXT, C.LABEL_BG)
        screen.blit(img, img.get_rect(center=screen.get_rect().center))
        pygame.display.flip()
        clock.tick(10)
