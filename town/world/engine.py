"""The tick loop: observe everyone, let all minds decide concurrently, apply in name order, advance, log.

A mind that raises is a bug in our code: the exception propagates and stops the run (the last
checkpoint stays valid). Events go to the :class:`town.world.events.EventLog` (types in its docstring).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from town.world.events import Event, EventLog
from town.world.protocol import Action, Mind, Note
from town.world.state import EventDict, World

RESERVED_NOTE_KEYS = frozenset({"seq", "tick", "time", "type"})

OnTick = Callable[["Simulation"], Awaitable[None] | None]


class Simulation:
    """Steps a :class:`World` with one :class:`Mind` per agent."""

    def __init__(self, world: World, minds: Mapping[str, Mind], log: EventLog, *, concurrency: int = 8) -> None:
        if set(minds) != set(world.agents):
            raise ValueError(
                f"minds {sorted(minds)} do not match the world's agents {sorted(world.agents)}"
            )
        for name, mind in minds.items():
            if mind.name != name:
                raise ValueError(f"mind registered as {name!r} is named {mind.name!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.world = world
        self.minds = dict(minds)
        self.log = log
        self.concurrency = concurrency
        self.last_tick_s: float | None = None  # wall time of the last step
        self.last_decide_s: float | None = None  # of which spent in minds' decide()

    # -- logging -------------------------------------------------------------------------------
    def emit(self, type_: str, agent: str | None = None, **data: Any) -> Event:
        """Log an event at the current tick and game time."""
        return self.log.emit(self.world.clock.tick, self.world.now(), type_, agent, **data)

    def emit_run_start(self, *, seed: int, scenario: str, map: str) -> Event:  # noqa: A002 - the event's field name
        return self.emit(
            "run_start",
            seed=seed,
            map=map,
            scenario=scenario,
            agents=sorted(self.world.agents),
            seconds_per_tick=self.world.clock.seconds_per_tick,
            start=self.world.clock.start.isoformat(),
        )

    def _emit_world(self, events: list[EventDict], tick: int, when: Any) -> None:
        for ev in events:
            self.log.emit(tick, when, ev["type"], ev["agent"], **ev["data"])

    def _emit_note(self, agent: str, note: Note, tick: int, when: Any) -> None:
        data = dict(note.data)
        if "agent" in data:
            if data["agent"] not in (agent, None):
                raise ValueError(f"{agent}'s {note.kind!r} note claims agent {data['agent']!r}")
            del data["agent"]
        clash = RESERVED_NOTE_KEYS & data.keys()
        if clash:
            raise ValueError(f"{agent}'s {note.kind!r} note uses reserved event keys {sorted(clash)}")
        self.log.emit(tick, when, note.kind, agent, **data)

    # -- stepping ------------------------------------------------------------------------------
    async def step(self) -> None:
        """One tick."""
        t0 = time.perf_counter()
        world = self.world
        tick, when = world.clock.tick, world.now()
        self.log.emit(tick, when, "tick")
        names = sorted(self.minds)
        observations = world.observe_all(names)
        world.in_tick = True
        sem = asyncio.Semaphore(self.concurrency)

        async def decide(name: str) -> Action:
            async with sem:
                return await self.minds[name].decide(observations[name])

        t1 = time.perf_counter()
        try:
            actions = await asyncio.gather(*(decide(n) for n in names))
        finally:
            world.in_tick = False
        self.last_decide_s = time.perf_counter() - t1
        for name, action in zip(names, actions):
            if not isinstance(action, Action):
                raise TypeError(f"{name}'s mind returned {type(action).__name__}, not an Action")
            if action.agent != name:
                raise ValueError(f"{name}'s mind returned an action for {action.agent!r}")
            for note in action.notes:
                self._emit_note(name, note, tick, when)
            self._emit_world(world.apply(action), tick, when)
        self._emit_world(world.advance_tick(), tick, when)
        self.log.emit(tick, when, "agents", states=world.snapshot())
        self.log.flush()
        self.last_tick_s = time.perf_counter() - t0

    async def run(self, ticks: int, on_tick: OnTick | None = None) -> None:
        """``ticks`` steps; ``on_tick(sim)`` (sync or async) after each."""
        for _ in range(ticks):
            await self.step()
            if on_tick is not None:
                result = on_tick(self)
                if asyncio.iscoroutine(result):
                    await result
