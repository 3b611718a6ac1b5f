"""The event stream: one model, one JSONL log, read by the live viewer, replay and reports.

Every line of ``events.jsonl`` in a run folder is one :class:`Event`. The engine
writes ``tick`` and ``agents`` events each tick (so a reader can seek to any
tick without replaying from the start), plus one event per thing that happened.
Minds' notes (plans, reflections, tool calls, LLM calls, fallbacks) are logged
with ``type`` = the note's kind.

Event types written by the engine (``data`` fields):

- ``run_start``: seed, map, scenario, agents (list of names), seconds_per_tick, start (iso)
- ``tick``: (none; ``tick`` and ``time`` carry it)
- ``agents``: states: {name: {tile: [x, y], address, activity, emoji, conversation: id|None}}
- ``move``: agent, from: [x, y], to: [x, y], destination: address
- ``action``: agent, kind, description, emoji, target, duration_min
- ``chat``: conversation, speaker, listeners: [names], text
- ``conversation_end``: conversation, participants, ended_by, lines: [{speaker, text}]
- ``object_state``: address, state, by (agent or None)
- ``world_event``: description, address (from ``inject``)
- ``whisper``: agent, text
- ``invalid_action``: agent, reason, action (the world refused it; the agent keeps its old action)
- ``run_end``: summary dict

Mind notes (``type`` = kind): ``plan``, ``schedule``, ``decompose``, ``reflection``,
``importance``, ``react``, ``tool``, ``llm_call`` (step, agent, prompt_tokens,
completion_tokens, cached, latency_s, model), ``fallback`` (step, agent, reason),
``plan_cache_hit``, ``memory``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class Event(BaseModel):
    seq: int = 0
    tick: int
    time: datetime  # game time
    type: str
    agent: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


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
        ev = Event(seq=self._seq, tick=tick, time=time, type=type, agent=agent, data=data)
        if self._fh is not None:
            self._fh.write(ev.model_dump_json() + "\n")
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


def read_events(path: Path) -> Iterator[Event]:
    """Read a run's events; a torn last line (a killed run) is skipped, any other bad line raises."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield Event.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValueError) as exc:
            if i == len(lines) - 1 and not line.endswith("\n"):
                return  # torn final write from a killed process
            raise ValueError(f"{path}:{i + 1}: bad event line: {exc}") from exc
