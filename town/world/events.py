"""The event stream: one envelope model with a typed payload per event type, one JSONL log, read by the
live viewer, replay, console, eval and reports.

Every line of ``events.jsonl`` in a run folder is one :class:`Event`; its ``data`` is validated against the
payload model of its ``type`` (:mod:`town.world.event_types`). The engine
writes ``tick`` and ``agents`` events each tick (so a reader can seek to any
tick without replaying from the start), plus one event per thing that happened.

Event types and their fields: :mod:`town.world.event_types` (``PAYLOADS`` maps each type to its model).
World events (``run_start``, ``tick``, ``agents``, ``move``, ``action``, ``chat``, ``conversation_end``,
``object_state``, ``world_event``, ``whisper``, ``invalid_action``, ``run_end``) come from the engine and
the world; minds' notes are logged with ``type`` = the note's kind (``plan``, ``schedule``, ``decompose``,
``reflection``, ``importance``, ``react``, ``tool``, ``llm_call``, ``fallback``, ``plan_cache_hit``, ``place_rule``,
``memory``, ``conversation_summary``); a note of a kind with no model is a bug and raises when logged.

Schema: v0.1 logs carry no version; later ones name theirs in ``run_start``. A log of an unknown version
or with an unknown event type fails with one line naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_serializer, field_validator

from town.world.event_types import PAYLOADS, READABLE_VERSIONS, SCHEMA_VERSION, Payload


class Event(BaseModel):
    """One logged event. ``data`` is the payload model of ``type``; an unknown type does not validate.

    The tag sits on the envelope, outside ``data`` (that is the on-disk format), so ``data`` is typed by a
    validator keyed on ``type`` rather than by a pydantic discriminator inside the payload.
    """

    seq: int = 0
    tick: int
    time: datetime  # game time
    type: str
    agent: str | None = None
    data: Payload = Field(default_factory=dict, validate_default=True)

    @field_validator("data", mode="before")
    @classmethod
    def _typed_payload(cls, value: Any, info: ValidationInfo) -> Payload:
        kind = info.data.get("type")
        model = PAYLOADS.get(kind)  # type: ignore[arg-type]
        if model is None:
            raise ValueError(f"unknown event type {kind!r}")
        if isinstance(value, model):
            return value
        return model.model_validate(value.logged if isinstance(value, Payload) else value)

    @field_serializer("data")
    def _logged_payload(self, value: Payload) -> dict[str, Any]:
        return value.logged


class _RawEvent(BaseModel):
    """The envelope with the payload as given: what is written, so the bytes on disk keep the writer's key order."""

    seq: int
    tick: int
    time: datetime
    type: str
    agent: str | None
    data: dict[str, Any]


Subscriber = Callable[[Event], None]


class EventLog:
    """Append-only JSONL event log with in-process subscribers (the live viewer)."""

    def __init__(self, path: Path | None, *, fsync: bool = False, start_seq: int = 0,
                 scrub: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """``scrub`` rewrites each event's data before it is stored or shown (the app masks credentials)."""
        self.path = path
        self._scrub = scrub
        self._fsync = fsync
        self._seq = start_seq
        self._subscribers: list[Subscriber] = []
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8")

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def emit(self, tick: int, time: datetime, type: str, agent: str | None = None, **data: Any) -> Event:
        self._seq += 1
        if self._scrub is not None:
            data = self._scrub(data)
        if type == "run_start":
            data = {**data, "schema_version": SCHEMA_VERSION}
        ev = Event(seq=self._seq, tick=tick, time=time, type=type, agent=agent, data=data)  # a bad shape is our bug
        if self._fh is not None:
            raw = _RawEvent(seq=self._seq, tick=tick, time=time, type=type, agent=agent, data=data)
            self._fh.write(raw.model_dump_json() + "\n")
        for fn in self._subscribers:
            fn(ev)
        return ev

    @property
    def seq(self) -> int:
        return self._seq

    def flush(self) -> None:
        """Called once per tick by the engine: the log is durable up to the last whole tick."""
        if self._fh is not None:
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            self._fh.close()
            self._fh = None


class EventLogError(ValueError):
    """A log this reader cannot read; the message is one line naming the file and line."""


def _check_version(path: Path, lineno: int, obj: Any) -> None:
    if not isinstance(obj, dict) or obj.get("type") != "run_start" or not isinstance(obj.get("data"), dict):
        return
    version = obj["data"].get("schema_version", "0.1")
    if version not in READABLE_VERSIONS:
        raise EventLogError(f"{path}:{lineno}: event log schema {version!r} is not one this town reads "
                            f"({', '.join(sorted(READABLE_VERSIONS))}); use the town version that wrote it")


def read_events(path: Path) -> Iterator[Event]:
    """Read a run's events; a torn last line (a killed run) is skipped, any other bad line raises one line."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            _check_version(path, i + 1, obj)
            yield Event.model_validate(obj)
        except (json.JSONDecodeError, ValidationError) as exc:
            if i == len(lines) - 1 and not line.endswith("\n"):
                return  # torn final write from a killed process
            raise EventLogError(f"{path}:{i + 1}: bad event line: {_one_line(exc)}") from exc


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")
    return str(exc).splitlines()[0]
