"""What the viewer shows, rebuilt from the event stream (no pygame here).

:class:`TownState` is a reducer: feed it :class:`~town.world.events.Event` objects in log order with
:meth:`TownState.apply` and it holds everything the renderer draws (agent tiles, activities,
speech lines, object states, world events, the clock, and per-agent panels built from mind
notes). The live viewer feeds it from ``EventLog.subscribe``; replay feeds it from
``events.jsonl`` through :class:`ReplayIndex`, which keeps periodic copies of the state
(keyframes) so seeking to any tick only re-applies a short stretch of events.

Events arrive typed (:mod:`town.world.event_types`), so their shape is checked once, on reading. A note
whose list or text field is missing (an older mind) is shown tolerantly: known keys first, otherwise every
field as ``key: value`` text.
"""

from __future__ import annotations

import bisect
import copy
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from town.world import event_types as et
from town.world.events import Event, read_events

Tile = tuple[int, int]

MAX_MEMORIES = 8
MAX_REFLECTIONS = 5
MAX_TOOLS = 5
MAX_CHAT_LINES = 4  # kept per conversation
MAX_CONVERSATIONS = 32  # most recent conversations kept for speech bubbles
MAX_WORLD_EVENTS = 5
MAX_PLAN_LINES = 30
TEXT_LIMIT = 240  # characters kept of one free-text note line


@dataclass
class ChatEntry:
    """One line said in a conversation, with the tick it was said at."""

    tick: int
    speaker: str
    text: str
    listeners: list[str]


@dataclass
class AgentView:
    """Everything the viewer knows about one agent."""

    name: str
    tile: Tile | None = None
    prev_tile: Tile | None = None  # where the agent stood before the last tick it moved in
    moved_tick: int = -1  # tick of the last tile change
    address: str = ""
    activity: str = ""
    emoji: str = ""
    conversation: str | None = None
    destination: str = ""
    plan: list[str] = field(default_factory=list)  # today's plan ("plan" notes)
    schedule: list[str] = field(default_factory=list)  # hourly schedule ("schedule" notes)
    subtasks: list[str] = field(default_factory=list)  # current decomposition ("decompose" notes)
    memories: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_MEMORIES))
    reflections: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_REFLECTIONS))
    tools: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_TOOLS))
    llm_calls: int = 0
    fallbacks: int = 0


@dataclass
class WorldEventEntry:
    tick: int
    description: str
    address: str


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _item_text(item: Any) -> str:
    """One plan/schedule item as text: a string as is, a dict as its most telling fields."""
    if isinstance(item, dict):
        parts: list[str] = []
        for key in ("start", "time", "hour"):
            if key in item:
                parts.append(f"{item[key]}-{item['end']}" if key == "start" and "end" in item else str(item[key]))
                break
        for key in ("task", "activity", "description", "text", "action"):
            if key in item:
                parts.append(str(item[key]))
                break
        for key in ("duration_min", "duration", "minutes"):
            if key in item:
                parts.append(f"({item[key]} min)")
                break
        if parts:
            return _clip(" ".join(parts))
        return _clip(", ".join(f"{k}: {v}" for k, v in item.items()))
    if isinstance(item, (list, tuple)):
        return _clip(" ".join(str(v) for v in item))
    return _clip(str(item))


_LIST_KEYS = ("plan", "daily_plan", "schedule", "blocks", "items", "tasks", "subtasks", "steps", "insights", "lines")
_TEXT_KEYS = ("text", "description", "content", "insight", "summary", "plan", "thought")
_SKIP_KEYS = {"agent", "step"}


def note_lines(data: dict[str, Any]) -> list[str]:
    """Lines to show for a note whose fields are not fixed: a list field if any, else a text, else all fields."""
    for key in _LIST_KEYS:
        value = data.get(key)
        if isinstance(value, list):
            return [_item_text(v) for v in value][:MAX_PLAN_LINES]
    text = note_text(data)
    return [text] if text else []


def _lines(items: list[Any] | None, data: et.Payload) -> list[str]:
    """A note's list field as lines; without one (an older or odd note), its fields read tolerantly."""
    if items:
        return [_item_text(v) for v in items][:MAX_PLAN_LINES]
    return note_lines(data.logged)


def note_text(data: dict[str, Any]) -> str:
    """One line for a note: its main text field if any, else ``key: value`` of every field."""
    for key in _TEXT_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return _clip(value)
    return _clip("; ".join(f"{k}: {v}" for k, v in data.items() if k not in _SKIP_KEYS))


def _tool_text(data: dict[str, Any]) -> str:
    tool = data.get("tool") or data.get("name")
    if tool is None:
        return note_text(data)
    args = data.get("args", "")
    if isinstance(args, dict):
        args = ", ".join(f"{k}={v}" for k, v in args.items())
    result = data.get("observation", data.get("result", ""))
    return _clip(f"{tool}({args})" + (f" -> {result}" if result != "" else ""))


class TownState:
    """The viewer's picture of the town, built by applying events in log order."""

    def __init__(self) -> None:
        self.tick: int = -1
        self.time: datetime | None = None
        self.seq: int = 0
        self.map_path: str | None = None
        self.seconds_per_tick: int | None = None
        self.agents: dict[str, AgentView] = {}
        self.chats: OrderedDict[str, deque[ChatEntry]] = OrderedDict()
        self.object_states: dict[str, str] = {}
        self.world_events: deque[WorldEventEntry] = deque(maxlen=MAX_WORLD_EVENTS)
        self.ended: bool = False
        self.events_applied: int = 0

    # -- reducing -----------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one event into the state. Events must come in log order."""
        if not isinstance(event, Event):
            raise TypeError(f"TownState.apply expects an Event, got {type(event).__name__}")
        if event.tick < self.tick:
            raise ValueError(f"event seq {event.seq} goes back in time: tick {event.tick} after tick {self.tick}")
        self.tick = event.tick
        self.time = event.time
        self.seq = event.seq
        self.events_applied += 1
        handler = self._HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)
        # any other type (llm bookkeeping, importance, plan_cache_hit, ...) only moves the clock

    def agent(self, name: str) -> AgentView:
        """The view of ``name``, created on first mention."""
        view = self.agents.get(name)
        if view is None:
            view = self.agents[name] = AgentView(name=name)
        return view

    def _note_agent(self, event: Event) -> AgentView | None:
        name = event.agent or event.data.logged.get("agent")
        return self.agent(name) if isinstance(name, str) and name else None

    def _set_tile(self, view: AgentView, tile: Tile, tick: int) -> None:
        if view.tile == tile:
            return
        if view.moved_tick != tick:  # first change this tick: remember where the tick started
            view.prev_tile = view.tile if view.tile is not None else tile
            view.moved_tick = tick
        view.tile = tile

    def _on_run_start(self, event: Event) -> None:
        d = cast(et.RunStart, event.data)
        self.map_path = d.map
        self.seconds_per_tick = d.seconds_per_tick
        for name in d.agents:
            self.agent(name)

    def _on_agents(self, event: Event) -> None:
        for name, s in cast(et.Agents, event.data).states.items():
            view = self.agent(name)
            self._set_tile(view, s.tile, event.tick)
            view.address = s.address or ""
            view.activity = s.activity
            view.emoji = s.emoji
            view.conversation = s.conversation

    def _on_move(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is None:
            raise ValueError(f"move event seq {event.seq} names no agent")
        d = cast(et.Move, event.data)
        self._set_tile(view, d.to, event.tick)
        view.destination = d.destination or ""

    def _on_action(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is None:
            raise ValueError(f"action event seq {event.seq} names no agent")
        d = cast(et.ActionTaken, event.data)
        view.activity = d.description or view.activity
        view.emoji = d.emoji

    def _on_chat(self, event: Event) -> None:
        d = cast(et.Chat, event.data)
        lines = self.chats.pop(d.conversation, None) or deque(maxlen=MAX_CHAT_LINES)
        lines.append(ChatEntry(event.tick, d.speaker, d.text, list(d.listeners)))
        self.chats[d.conversation] = lines  # most recent last
        while len(self.chats) > MAX_CONVERSATIONS:
            self.chats.popitem(last=False)
        for name in (d.speaker, *d.listeners):
            self.agent(name).conversation = d.conversation

    def _on_conversation_end(self, event: Event) -> None:
        d = cast(et.ConversationEnd, event.data)
        for name in d.participants:
            view = self.agent(name)
            if view.conversation == d.conversation:
                view.conversation = None

    def _on_object_state(self, event: Event) -> None:
        d = cast(et.ObjectState, event.data)
        self.object_states[d.address] = d.state

    def _on_world_event(self, event: Event) -> None:
        d = cast(et.WorldEventPayload, event.data)
        self.world_events.append(WorldEventEntry(event.tick, d.description, d.address or ""))

    def _on_whisper(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.memories.append(_clip(f"(inner voice) {cast(et.Whisper, event.data).text}"))

    def _on_plan(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is None:
            return
        d = cast(et.PlanNote, event.data)
        if d.replan:  # the rest of the current block, re-planned after a reaction
            view.subtasks = _lines(d.tasks, d)
        else:
            view.plan = _lines(d.items, d)

    def _on_schedule(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.schedule = _lines(cast(et.ScheduleNote, event.data).blocks, event.data)

    def _on_decompose(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.subtasks = _lines(cast(et.DecomposeNote, event.data).tasks, event.data)

    def _on_memory(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.memories.append(note_text(event.data.logged))

    def _on_reflection(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            insight = cast(et.ReflectionNote, event.data).insight
            for line in [_clip(insight)] if insight else note_lines(event.data.logged):
                view.reflections.append(line)

    def _on_tool(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.tools.append(_tool_text(event.data.logged))

    def _on_llm_call(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.llm_calls += 1

    def _on_fallback(self, event: Event) -> None:
        view = self._note_agent(event)
        if view is not None:
            view.fallbacks += 1

    def _on_run_end(self, event: Event) -> None:
        self.ended = True

    _HANDLERS = {
        "run_start": _on_run_start,
        "agents": _on_agents,
        "move": _on_move,
        "action": _on_action,
        "chat": _on_chat,
        "conversation_end": _on_conversation_end,
        "object_state": _on_object_state,
        "world_event": _on_world_event,
        "whisper": _on_whisper,
        "plan": _on_plan,
        "schedule": _on_schedule,
        "decompose": _on_decompose,
        "memory": _on_memory,
        "reflection": _on_reflection,
        "tool": _on_tool,
        "llm_call": _on_llm_call,
        "fallback": _on_fallback,
        "run_end": _on_run_end,
    }

    # -- reading ------------------------------------------------------------------------------
    def recent_chat(self, within_ticks: int) -> list[ChatEntry]:
        """Chat lines said in the last ``within_ticks`` ticks (including this one), oldest first."""
        out = [e for lines in self.chats.values() for e in lines if self.tick - e.tick < within_ticks]
        return sorted(out, key=lambda e: e.tick)

    def snapshot(self) -> dict[str, Any]:
        """A plain, comparable picture of the whole state (tests, debugging)."""
        return {
            "tick": self.tick,
            "time": self.time,
            "seq": self.seq,
            "map_path": self.map_path,
            "agents": {
                n: {**a.__dict__, "memories": list(a.memories), "reflections": list(a.reflections), "tools": list(a.tools)}
                for n, a in sorted(self.agents.items())
            },
            "chats": {c: [e.__dict__ for e in lines] for c, lines in self.chats.items()},
            "object_states": dict(self.object_states),
            "world_events": [e.__dict__ for e in self.world_events],
            "ended": self.ended,
        }


class ReplayIndex:
    """A finished (or killed) run's events, seekable by tick.

    Every ``keyframe_every`` ticks a copy of the state is kept, taken at the run's ``agents``
    snapshot of that tick (the last event the engine writes for a tick); ``state_at(t)`` copies
    the nearest keyframe at or before ``t`` and applies the remaining events up to ``t``.
    """

    def __init__(self, events: list[Event], *, keyframe_every: int = 25) -> None:
        if keyframe_every < 1:
            raise ValueError(f"keyframe_every must be >= 1, got {keyframe_every}")
        self.events = events
        self._ticks = [e.tick for e in events]
        for i in range(1, len(self._ticks)):
            if self._ticks[i] < self._ticks[i - 1]:
                raise ValueError(
                    f"events out of order: seq {events[i].seq} (tick {self._ticks[i]}) after tick {self._ticks[i - 1]}"
                )
        self.first_tick = self._ticks[0] if events else 0
        self.last_tick = self._ticks[-1] if events else 0
        self.map_path: str | None = next((cast(et.RunStart, e.data).map for e in events if e.type == "run_start"), None)
        # keyframes: (number of events applied, state after them)
        self._key_at: list[int] = [0]
        self._key_states: list[TownState] = [TownState()]
        state = TownState()
        last_key_tick = None
        for i, ev in enumerate(events):
            state.apply(ev)
            if ev.type == "agents" and (last_key_tick is None or ev.tick - last_key_tick >= keyframe_every):
                last_key_tick = ev.tick
                self._key_at.append(i + 1)
                self._key_states.append(copy.deepcopy(state))

    @classmethod
    def load(cls, path: Path, *, keyframe_every: int = 25) -> ReplayIndex:
        """Read ``events.jsonl`` (a torn last line is skipped) and index it."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no event log here")
        return cls(list(read_events(path)), keyframe_every=keyframe_every)

    @property
    def keyframes(self) -> int:
        return len(self._key_at) - 1

    def count_through(self, tick: int) -> int:
        """How many events have ``event.tick <= tick``."""
        return bisect.bisect_right(self._ticks, tick)

    def state_at(self, tick: int) -> TownState:
        """A fresh state holding every event up to and including ``tick`` (clamped to the run)."""
        n = self.count_through(tick)
        k = bisect.bisect_right(self._key_at, n) - 1
        state = copy.deepcopy(self._key_states[k])
        for ev in self.events[self._key_at[k] : n]:
            state.apply(ev)
        return state

    def advance(self, state: TownState, tick: int) -> None:
        """Apply to ``state`` (itself built from this index) the events after it up to ``tick``."""
        start = state.events_applied
        if start > len(self.events) or (start and self.events[start - 1].seq != state.seq):
            raise ValueError("advance: the state was not built from this index")
        for ev in self.events[start : self.count_through(tick)]:
            state.apply(ev)
