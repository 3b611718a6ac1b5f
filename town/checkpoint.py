"""Run folders: config, per-tick checkpoints, the inbox for whispers and injected events, forks.

A run folder holds::

    run.json          how the run was started (scenario, seed, prompts dir, memory url)
    scenario.yaml     a copy of the scenario (reports read its facts)
    events.jsonl      the event stream
    checkpoint.json   world + minds after the last complete tick (written atomically each tick)
    memory/           the agents' memory (embedded chromadb), unless a Chroma server is used
    llm_cache.sqlite  the LLM response cache (same seed + same cache = same run)
    inbox/            whispers and injected events waiting for the next tick
    summary.json      written at the end of each session

A run killed with SIGKILL resumes from ``checkpoint.json``: events after the checkpoint are cut from
the log and memories created after it are deleted, so at most the tick in flight is lost.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from town.events import Event, read_events

CHECKPOINT = "checkpoint.json"
RUN_FILE = "run.json"
INBOX = "inbox"


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


def post_to_inbox(run_dir: Path, message: dict[str, Any]) -> Path:
    """Queue a whisper / injected event; the running (or next) session applies it at its next tick."""
    inbox = run_dir / INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    existing = sorted(p.name for p in inbox.glob("*.json"))
    n = int(existing[-1].split("-")[0]) + 1 if existing else 1
    path = inbox / f"{n:06d}-{message['type']}.json"
    atomic_write_json(path, message)
    return path


def take_inbox(run_dir: Path) -> list[dict[str, Any]]:
    """Messages waiting in the inbox, oldest first; each is moved to inbox/done once read."""
    inbox = run_dir / INBOX
    if not inbox.is_dir():
        return []
    done = inbox / "done"
    out = []
    for path in sorted(inbox.glob("*.json")):
        msg = read_json(path)
        done.mkdir(exist_ok=True)
        os.replace(path, done / path.name)
        out.append(msg)
    return out


def fork_run(src: Path, dst: Path) -> None:
    """Copy a run folder at its last checkpoint (the copy resumes independently)."""
    if not (src / CHECKPOINT).exists():
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
