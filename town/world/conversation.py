"""Conversations between two agents: lines, whose turn, how one ends, and how soon a pair may talk again.

The :class:`town.world.state.World` owns one :class:`Conversations` and calls it only from ``World.apply``
and ``World.advance_tick``; the agents' bodies (who is talking, what they did before) stay with the World.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from town.world.protocol import ChatLine, ConversationView

EventDict = dict[str, Any]


def event_dict(type_: str, agent: str | None = None, **data: Any) -> EventDict:
    """An event as the world returns it; the engine logs it."""
    return {"type": type_, "agent": agent, "data": data}


@dataclass
class Conversation:
    id: str
    participants: list[str]
    turn_of: str
    max_turns: int
    started_tick: int
    last_line_tick: int
    lines: list[ChatLine] = field(default_factory=list)
    ended: bool = False
    ended_by: str | None = None
    end_reason: str | None = None
    ended_tick: int | None = None

    def partner_of(self, name: str) -> str:
        return next(p for p in self.participants if p != name)

    def view(self) -> ConversationView:
        return ConversationView(
            id=self.id,
            participants=list(self.participants),
            lines=list(self.lines),
            turn_of=self.turn_of,
            max_turns=self.max_turns,
            ended=self.ended,
            ended_by=self.ended_by,
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "participants": self.participants,
            "turn_of": self.turn_of,
            "max_turns": self.max_turns,
            "started_tick": self.started_tick,
            "last_line_tick": self.last_line_tick,
            "lines": [line.model_dump(mode="json") for line in self.lines],
            "ended": self.ended,
            "ended_by": self.ended_by,
            "end_reason": self.end_reason,
            "ended_tick": self.ended_tick,
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Conversation:
        return cls(
            id=s["id"],
            participants=list(s["participants"]),
            turn_of=s["turn_of"],
            max_turns=s["max_turns"],
            started_tick=s["started_tick"],
            last_line_tick=s["last_line_tick"],
            lines=[ChatLine.model_validate(x) for x in s["lines"]],
            ended=s["ended"],
            ended_by=s["ended_by"],
            end_reason=s["end_reason"],
            ended_tick=s["ended_tick"],
        )


class Conversations:
    """Open conversations and the ones that ended this tick, with when each pair last talked."""

    def __init__(self) -> None:
        self.by_id: dict[str, Conversation] = {}
        self.count = 0  # conversations ever started: the next id
        self.last_talk: dict[tuple[str, str], datetime] = {}  # sorted pair -> when their last conversation ended

    def __getitem__(self, conv_id: str) -> Conversation:
        return self.by_id[conv_id]

    def in_order(self) -> list[Conversation]:
        return sorted(self.by_id.values(), key=lambda c: c.id)

    def talk_again_at(self, a: str, b: str, cooldown_min: int) -> datetime | None:
        """When ``a`` and ``b`` may start another conversation (None: they never talked)."""
        last = self.last_talk.get((a, b) if a < b else (b, a))
        return None if last is None else last + timedelta(minutes=cooldown_min)

    def start(self, speaker: str, listener: str, *, tick: int, max_turns: int) -> Conversation:
        self.count += 1
        conv = Conversation(id=f"c{self.count}", participants=[speaker, listener], turn_of=speaker,
                            max_turns=max_turns, started_tick=tick, last_line_tick=tick)
        self.by_id[conv.id] = conv
        return conv

    def say(self, conv: Conversation, speaker: str, text: str, *, now: datetime, tick: int) -> EventDict:
        """Add a line and pass the turn; the caller ends the conversation at its turn cap."""
        conv.lines.append(ChatLine(speaker=speaker, text=text, time=now))
        conv.last_line_tick = tick
        listener = conv.partner_of(speaker)
        conv.turn_of = listener
        return event_dict("chat", speaker, conversation=conv.id, speaker=speaker, listeners=[listener], text=text)

    def end(self, conv: Conversation, ended_by: str | None, reason: str, *, now: datetime, tick: int) -> EventDict:
        conv.ended = True
        conv.ended_by = ended_by
        conv.end_reason = reason
        conv.ended_tick = tick
        a, b = sorted(conv.participants)
        self.last_talk[(a, b)] = now
        return event_dict(
            "conversation_end",
            ended_by,
            conversation=conv.id,
            participants=list(conv.participants),
            ended_by=ended_by,
            reason=reason,
            lines=[{"speaker": line.speaker, "text": line.text} for line in conv.lines],
        )

    def silent(self, tick: int, timeout_ticks: int) -> list[Conversation]:
        """Open conversations nobody has spoken in for ``timeout_ticks``."""
        return [c for c in self.in_order() if not c.ended and tick - c.last_line_tick >= timeout_ticks]

    def forget_ended_before(self, tick: int) -> None:
        """Drop conversations that ended before ``tick`` (their end was shown in that tick's observations)."""
        self.by_id = {k: c for k, c in self.by_id.items() if c.ended_tick is None or c.ended_tick >= tick}

    def finished(self, name: str, tick: int) -> list[ConversationView]:
        """Conversations of ``name`` that ended during ``tick``."""
        return [c.view() for c in self.in_order() if c.ended and c.ended_tick == tick and name in c.participants]

    # -- checkpoint (keys of the world's state, unchanged by the split) ------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "conversations": [c.to_state() for _, c in sorted(self.by_id.items())],
            "conversation_count": self.count,
            "last_talk": [[a, b, t.isoformat()] for (a, b), t in sorted(self.last_talk.items())],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Conversations:
        out = cls()
        out.by_id = {c["id"]: Conversation.from_state(c) for c in state["conversations"]}
        out.count = state["conversation_count"]
        out.last_talk = {(a, b): datetime.fromisoformat(t) for a, b, t in state["last_talk"]}
        return out
