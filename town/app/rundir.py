"""Checks on what the user typed before a run writes anything: the run folder (new, a run, or refused) and --hours.

Each check raises :class:`RunDirError` with one line that names the path or the option; nothing is created here.
"""

from __future__ import annotations

import math
from pathlib import Path

from town.app.checkpoint import has_checkpoint

MAX_HOURS = 24 * 366  # a game year: beyond that a typo, and the tick count would not fit a progress bar


class RunDirError(ValueError):
    """A run folder or an option that a run cannot start with; the message is the one line to show."""


def check_new_run_dir(path: Path) -> None:
    """``path`` may hold a fresh run: it does not exist, or is an empty folder.

    A folder holding a run is refused with the resume command; any other content (an old events.jsonl without
    a checkpoint, unrelated files) is refused so that a run never appends to or mixes with files it did not write.
    """
    if not path.exists():
        if path.parent.exists() and not path.parent.is_dir():
            raise RunDirError(f"--out {path}: {path.parent} is a file, not a folder")
        return
    if not path.is_dir():
        raise RunDirError(f"--out {path} is a file, not a folder: pick a new folder for the run")
    if has_checkpoint(path):
        raise RunDirError(f"{path} already holds a run: use `town resume {path}` (or pick another --out)")
    entries = sorted(p.name for p in path.iterdir())
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise RunDirError(f"--out {path} is not empty and holds no run ({shown}): pick a new or empty folder")


def check_hours(hours: float, option: str = "--hours") -> None:
    """A positive, finite number of game hours, at most :data:`MAX_HOURS`."""
    if not math.isfinite(hours) or not 0 < hours <= MAX_HOURS:
        raise RunDirError(f"{option} must be a number of game hours above 0 and at most {MAX_HOURS}, got {hours}")
