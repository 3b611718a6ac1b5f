"""Comparing event streams across runs: drop the fields that measure wall-clock time or cache state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from town.world.events import read_events

VOLATILE = {"latency_s", "wall_s", "tick_s_mean", "tick_s_p95", "run_dir", "created", "cached"}


def scrub(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: scrub(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def comparable_events(run_dir: Path) -> list[dict]:
    """The run's events without volatile fields and without ``run_end`` (its summary has wall times)."""
    return [scrub(e.model_dump(mode="json")) for e in read_events(run_dir / "events.jsonl") if e.type != "run_end"]
