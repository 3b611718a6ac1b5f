"""Run folders: config, per-tick checkpoints, the inbox for whispers and injected events, forks.

A run folder holds::

    run.json          how the run was started (scenario, seed, prompts dir, memory url)
    scenario.yaml     a copy of the scenario (reports read its facts)
    events.jsonl      the event stream
    checkpoint.json   world + minds after the last complete tick (written atomically each tick)
    checkpoint.prev.json  the one before, used with a warning when the latest is damaged
    memory/           the agents' memory (embedded chromadb), unless a Chroma server is used
    llm_cache.sqlite  the LLM response cache (same seed + same cache = same run)
    inbox/            whispers and injected events waiting for the next tick
    summary.json      written at the end of each session

A run killed with SIGKILL resumes from ``checkpoint.json``: events after the checkpoint are cut from
the log and memories created after it are deleted, so at most the tick in flight is lost.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from town.world.events import Event, read_events

CHECKPOINT = "checkpoint.json"
PREVIOUS = "checkpoint.prev.json"
CHECKPOINT_KEYS = frozenset({"version", "tick", "seq", "world", "minds"})
RUN_FILE = "run.json"

log = logging.getLogger("town.app.checkpoint")


class RunFolderError(Exception):
    """A run folder is missing or damaged; the message says which file."""


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON so a crash leaves either the old file or the new one, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise RunFolderError(f"{path} not found") from exc
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc})") from exc


def truncate_events(path: Path, last_seq: int) -> list[Event]:
    """Keep events with seq <= last_seq (drop the torn tail of a killed run); return the kept ones."""
    if not path.exists():
        return []
    kept = [ev for ev in read_events(path) if ev.seq <= last_seq]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for ev in kept:
            fh.write(ev.model_dump_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return kept


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run to resume (its latest checkpoint, or the previous one)."""
    return (run_dir / CHECKPOINT).exists() or (run_dir / PREVIOUS).exists()


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as the latest checkpoint and keep the one before it as ``checkpoint.prev.json``.

    The new file is complete on disk before it replaces ``checkpoint.json`` in one rename, and the old one
    becomes ``checkpoint.prev.json`` while it is still in place (:func:`_keep_previous`), so a kill at any moment
    leaves a complete ``checkpoint.json``, old or new, and readers of a live run never find it missing.
    """
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=CHECKPOINT, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        if (run_dir / CHECKPOINT).exists():
            _keep_previous(run_dir)
        os.replace(tmp, run_dir / CHECKPOINT)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _keep_previous(run_dir: Path) -> None:
    """Make the current ``checkpoint.json`` also ``checkpoint.prev.json`` without moving it: a hard link where the
    file system has them, else a copy, renamed over the old previous one."""
    staged = run_dir / (PREVIOUS + ".tmp")
    staged.unlink(missing_ok=True)  # left by a kill during an earlier save
    try:
        try:
            os.link(run_dir / CHECKPOINT, staged)
        except OSError:
            shutil.copyfile(run_dir / CHECKPOINT, staged)
        os.replace(staged, run_dir / PREVIOUS)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def load_checkpoint(run_dir: Path, check: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """The latest usable checkpoint: ``checkpoint.json``, else (with a warning) ``checkpoint.prev.json``.

    ``check(state)`` may raise KeyError/TypeError/ValueError/RunFolderError to mark a state unusable (e.g. a
    world state that does not load). Raises RunFolderError, one line naming both files, when neither is usable.
    """
    problems: list[str] = []
    for name in (CHECKPOINT, PREVIOUS):
        path = run_dir / name
        try:
            state = read_json(path)
            if not isinstance(state, dict):
                raise RunFolderError(f"{path}: not a JSON object")
            missing = sorted(CHECKPOINT_KEYS - set(state))
            if missing:
                raise RunFolderError(f"{path}: missing keys {missing}")
            if not isinstance(state["seq"], int) or not isinstance(state["minds"], dict):
                raise RunFolderError(f"{path}: 'seq' must be a number and 'minds' an object")
            if check is not None:
                check(state)
        except RunFolderError as exc:
            problems.append(str(exc))
            continue
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"{path}: does not load ({type(exc).__name__}: {exc})")
            continue
        if problems:
            log.warning("%s; resuming from the previous checkpoint %s (tick %s)", problems[0], path, state["tick"])
        return state
    raise RunFolderError("no usable checkpoint: " + "; ".join(problems))


def fork_run(src: Path, dst: Path) -> None:
    """Copy a run folder at its last checkpoint (the copy resumes independently)."""
    if not has_checkpoint(src):
        raise RunFolderError(f"{src / CHECKPOINT} not found: nothing to fork")
    if dst.exists():
        raise RunFolderError(f"{dst} already exists")
    if read_json(src / RUN_FILE).get("memory_url"):
        raise RunFolderError(
            f"{src} keeps its memory on a Chroma server; forking copies only embedded memory (memory/ in the run folder)"
        )
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.tmp", "report*", "summary.json"))
    meta = read_json(dst / RUN_FILE)
    meta["forked_from"] = str(src)
    atomic_write_json(dst / RUN_FILE, meta)
