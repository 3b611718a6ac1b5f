"""How far `town eval` is. On a terminal: one rich line per run (ticks of its target and the town's clock, then
the phase after it) and an overall line (runs finished, elapsed and remaining time). Elsewhere (pipes, logs, CI):
an INFO line at each tenth of a run's ticks and at each phase's start and end, so a ``-v`` log shows progress."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.progress import Progress, TaskID

from town.app import console as tc

log = logging.getLogger("town.app.eval")

Key = tuple[str, int]  # (arm, seed)


class PhaseCounts:
    """Answers and judgements done so far in a phase after the run (interviews, ablation)."""

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self.answers = 0
        self.judgements = 0
        self._on_change = on_change

    def answer(self, n: int = 1) -> None:
        self.answers += n
        self._on_change()

    def judgement(self, n: int = 1) -> None:
        self.judgements += n
        self._on_change()

    def __str__(self) -> str:
        return f"{self.answers} answers, {self.judgements} judgements"


@dataclass
class _Run:
    label: str
    tick: int
    target: int
    clock: str = ""
    phase: str = ""
    t0: float = 0.0
    task: TaskID | None = None


def _minutes(t0: float) -> float:
    return (time.perf_counter() - t0) / 60


class EvalProgress:
    """Told by the runner when a run starts, ticks, enters a phase and finishes; draws or logs it.

    ``plan`` holds each run's ``(tick it starts at, target tick)``; the overall bar counts the ticks still to
    step, so its remaining time leaves out the interviews and ablations after the runs."""

    def __init__(self, plan: dict[Key, tuple[int, int]], console: Console | None = None) -> None:
        console = console or tc.err_console
        self.runs = {key: _Run(f"{key[0]} seed {key[1]}", start, target, phase="waiting")
                     for key, (start, target) in plan.items()}
        self.finished = 0
        self.progress: Progress | None = tc.eval_progress(console) if tc.interactive(console) else None
        self._overall: TaskID | None = None

    def __enter__(self) -> EvalProgress:
        if self.progress is not None:
            self.progress.start()
            todo = sum(max(0, r.target - r.tick) for r in self.runs.values())
            self._overall = self.progress.add_task("eval", total=todo, status=self._overall_status())
            for r in self.runs.values():
                r.task = self.progress.add_task(r.label, total=r.target, completed=r.tick, start=False,
                                                status=self._status(r))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _overall_status(self) -> str:
        return f"{self.finished}/{len(self.runs)} runs finished"

    @staticmethod
    def _status(r: _Run) -> str:
        where = f"{r.tick}/{r.target} ticks" + (f", {r.clock}" if r.clock else "")
        return where + (f" · {r.phase}" if r.phase else "")

    def _draw(self, r: _Run) -> None:
        if self.progress is not None and r.task is not None:
            # drawn at once, not at the next auto refresh: each state a run passes through is shown
            self.progress.update(r.task, completed=r.tick, total=r.target, status=self._status(r), refresh=True)

    def run_started(self, key: Key, tick: int, target: int, now: datetime) -> None:
        r = self.runs[key]
        if self.progress is not None and self._overall is not None:  # the plan guessed a fresh run's target
            planned = self.progress.tasks[self._overall].total or 0
            self.progress.update(self._overall, total=planned + (target - tick) - (r.target - r.tick))
        r.tick, r.target, r.clock, r.phase, r.t0 = tick, target, f"{now:%a %H:%M}", "", time.perf_counter()
        if self.progress is not None and r.task is not None:
            self.progress.start_task(r.task)
            self._draw(r)
        else:
            log.info("eval: %s: %s at tick %d of %d (%s)", r.label, "resuming" if tick else "starting", tick, target,
                     r.clock)

    def ticked(self, key: Key, tick: int, now: datetime) -> None:
        r = self.runs[key]
        before = r.tick * 10 // r.target
        r.tick, r.clock = tick, f"{now:%a %H:%M}"
        if self.progress is not None:
            self._draw(r)
            if self._overall is not None:
                self.progress.advance(self._overall)
        elif tick * 10 // r.target > before:  # a new tenth of the run
            log.info("eval: %s: %d%% (%d/%d ticks, %s), %.1f min", r.label, 100 * tick // r.target, tick, r.target,
                     r.clock, _minutes(r.t0))

    @contextlib.contextmanager
    def phase(self, key: Key, name: str) -> Iterator[PhaseCounts]:
        """A phase after the run; its counts show as they go, and in the log line at its end."""
        r = self.runs[key]
        counts = PhaseCounts()
        if self.progress is not None:
            def show() -> None:
                r.phase = f"{name}: {counts}"
                self._draw(r)

            counts = PhaseCounts(show)
            show()
        else:
            log.info("eval: %s: %s started", r.label, name)
        t0 = time.perf_counter()
        yield counts
        if self.progress is None:
            log.info("eval: %s: %s done: %s, %.1f min", r.label, name, counts, _minutes(t0))

    def run_finished(self, key: Key) -> None:
        r = self.runs[key]
        self.finished += 1
        r.phase = "done"
        self._draw(r)
        if self.progress is not None and self._overall is not None:
            self.progress.update(self._overall, status=self._overall_status())
        log.info("eval: %s done (%d/%d runs finished)", r.label, self.finished, len(self.runs))
