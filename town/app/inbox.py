"""A run's inbox: whispers and injected events posted by other processes (or the viewer), applied once, in order.

Posting validates the message first (one clear error, nothing queued); the running town validates again and moves
a bad message aside to ``inbox/rejected/`` with a ``.reason`` file instead of failing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

INBOX = "inbox"
MAX_EVENT_MINUTES = 7 * 24 * 60  # an injected event lasts at most a game week
MAX_TEXT = 2000  # characters of a whisper or an event description

log = logging.getLogger("town.app.inbox")


class InboxError(ValueError):
    """A message that cannot be applied; the text says which field is wrong."""


def check_message(message: Any, agents: list[str] | set[str], known_address: Any) -> dict[str, Any]:
    """The message, cleaned, or an InboxError naming the bad field. ``known_address(addr)`` says if a place exists."""
    if not isinstance(message, dict):
        raise InboxError(f"a message must be a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if kind == "whisper":
        agent, text = message.get("agent"), message.get("text")
        if agent not in agents:
            raise InboxError(f"whisper: no agent {agent!r}; agents: {', '.join(sorted(agents))}")
        return {"type": "whisper", "agent": agent, "text": _text("whisper text", text)}
    if kind == "inject":
        description = _text("inject description", message.get("description"))
        address = message.get("address", "") or ""
        if not isinstance(address, str) or (address and not known_address(address)):
            raise InboxError(f"inject --at: no place {address!r} on the map")
        minutes = message.get("minutes", 60)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_EVENT_MINUTES:
            raise InboxError(f"inject --minutes must be a whole number from 1 to {MAX_EVENT_MINUTES}, got {minutes!r}")
        return {"type": "inject", "description": description, "address": address, "minutes": minutes}
    raise InboxError(f"unknown message type {kind!r} (whisper or inject)")


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InboxError(f"{field} is empty")
    if len(value) > MAX_TEXT:
        raise InboxError(f"{field} is {len(value)} characters; at most {MAX_TEXT}")
    return value.strip()


def post(run_dir: Path, message: dict[str, Any]) -> Path:
    """Queue ``message`` as ``inbox/<number>-<type>.json``; safe with any number of concurrent writers.

    Why this cannot lose or reorder messages: the message is first written completely to a private temp file;
    then, holding an exclusive lock on ``inbox/.lock`` (one lock for every writer, processes and threads alike),
    the writer reads the counter in ``inbox/.seq``, takes the next number, writes the counter back and hard-links
    the temp file to its final name. ``os.link`` fails rather than overwrite, and the counter only grows (it is
    never derived from a listing), so a number is never reused, not even after ``inbox/done/`` has filled up.
    Because the number is taken and the file appears under the same lock, a reader always sees a gap-free prefix
    of the posting order, never a half-written file.
    """
    inbox = run_dir / INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=inbox, prefix=".post-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(message, fh)
            fh.flush()
            os.fsync(fh.fileno())
        with FileLock(str(inbox / ".lock")):
            seq_file = inbox / ".seq"
            n = int(seq_file.read_text() or 0) if seq_file.exists() else 0
            while True:  # a number taken by a hand-written file is skipped, never overwritten
                n += 1
                path = inbox / f"{n:09d}-{message.get('type', 'message')}.json"
                if not (inbox / "done" / path.name).exists() and not (inbox / "rejected" / path.name).exists():
                    try:
                        os.link(tmp, path)
                        break
                    except FileExistsError:
                        pass
            seq_tmp = inbox / ".seq.tmp"
            seq_tmp.write_text(str(n))
            os.replace(seq_tmp, seq_file)
    finally:
        os.unlink(tmp)
    return path


def take(run_dir: Path) -> list[tuple[Path, Any]]:
    """Messages waiting, oldest first, each moved to ``inbox/done/`` as it is taken: ``(done path, parsed JSON)``.

    A file that is not valid JSON is moved to ``inbox/rejected/`` and logged; only the running town calls this.
    """
    inbox = run_dir / INBOX
    if not inbox.is_dir():
        return []
    out: list[tuple[Path, Any]] = []
    for path in sorted(inbox.glob("*.json")):
        try:
            message = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            reject(path, f"not a valid JSON message: {exc}")
            continue
        done = inbox / "done"
        done.mkdir(exist_ok=True)
        target = done / path.name
        os.replace(path, target)
        out.append((target, message))
    return out


def reject(path: Path, reason: str) -> None:
    """Move a message aside to ``inbox/rejected/`` with ``<name>.reason`` beside it, and log why."""
    rejected = path.parent.parent / "rejected" if path.parent.name == "done" else path.parent / "rejected"
    rejected.mkdir(exist_ok=True)
    target = rejected / path.name
    os.replace(path, target)
    target.with_suffix(".reason").write_text(reason + "\n", encoding="utf-8")
    log.error("inbox: %s rejected: %s (moved to %s)", path.name, reason, target)
