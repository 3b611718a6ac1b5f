"""Game time: a tick counter over a start datetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass
class SimClock:
    """``now = start + tick * seconds_per_tick``."""

    start: datetime
    seconds_per_tick: int
    tick: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.seconds_per_tick, int) or self.seconds_per_tick <= 0:
            raise ValueError(f"seconds_per_tick must be a positive int, got {self.seconds_per_tick!r}")
        if self.tick < 0:
            raise ValueError(f"tick must be >= 0, got {self.tick}")

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.tick * self.seconds_per_tick)

    @property
    def minutes_per_tick(self) -> float:
        return self.seconds_per_tick / 60

    def advance(self) -> datetime:
        """Move one tick on; returns the new time."""
        self.tick += 1
        return self.now

    def to_state(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "seconds_per_tick": self.seconds_per_tick, "tick": self.tick}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "SimClock":
        return cls(
            start=datetime.fromisoformat(state["start"]),
            seconds_per_tick=int(state["seconds_per_tick"]),
            tick=int(state["tick"]),
        )
