"""Talking: starting, carrying on and ending conversations, and walking up to someone out of talk range.

A mixin of :class:`town.world.state.World`, kept apart for size: its methods are called only from
:meth:`World.apply` (a ``talk`` action, or a new action that leaves a conversation) and :meth:`World.advance_tick`
(walking up to someone). The conversations' own records are :mod:`town.world.conversation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from town.world.clock import SimClock
from town.world.config import EngineSettings
from town.world.conversation import Conversation, Conversations, EventDict
from town.world.maps import TownMap
from town.world.movement import stop_walking
from town.world.pathfinding import Pathfinder, manhattan
from town.world.protocol import Action
from town.world.snapshot import AgentState


def _restore_before_talk(agent: AgentState) -> None:
    """Back to what the agent did before it talked (or walked up to someone to talk)."""
    if agent.before_talk is not None:
        agent.kind, agent.activity, agent.emoji = agent.before_talk
        agent.before_talk = None


class Refused(Exception):
    """An agent's action the world does not accept; becomes an ``invalid_action`` event."""


class Talking:
    """The world's talk rules; the attributes and methods below come from :class:`town.world.state.World`."""

    agents: dict[str, AgentState]
    conversations: Conversations
    settings: EngineSettings
    clock: SimClock
    map: TownMap
    paths: Pathfinder

    if TYPE_CHECKING:
        def now(self) -> datetime: ...

        def _begin(self, agent: AgentState, action: Action, activity: str, *,
                   keep_object: str | None = None) -> list[EventDict]: ...

        def _refuse(self, name: str, reason: str, action: Action) -> list[EventDict]: ...

    def _end_conversation(self, conv: Conversation, ended_by: str | None, reason: str) -> list[EventDict]:
        for name in conv.participants:
            a = self.agents[name]
            a.conversation = None
            _restore_before_talk(a)
        return [self.conversations.end(conv, ended_by, reason, now=self.now(), tick=self.clock.tick)]

    def _say(self, conv: Conversation, speaker: str, text: str) -> list[EventDict]:
        events = [self.conversations.say(conv, speaker, text, now=self.now(), tick=self.clock.tick)]
        if len(conv.lines) >= conv.max_turns:
            events += self._end_conversation(conv, None, "turn cap")
        return events

    def _leave_conversation(self, agent: AgentState) -> list[EventDict]:
        if agent.conversation is None:
            return []
        return self._end_conversation(self.conversations[agent.conversation], agent.name, "left")

    def _was_just_addressed(self, agent: AgentState) -> bool:
        """Whether someone else opened a conversation with ``agent`` earlier in this tick's name order: the agent's
        own action for the tick was decided before it heard that opening line."""
        if agent.conversation is None or not self.settings.opening_line_heard:
            return False
        conv = self.conversations[agent.conversation]
        return conv.started_tick == self.clock.tick and conv.lines[0].speaker != agent.name

    def _listen(self, agent: AgentState) -> None:
        """After a just-addressed agent's action began: that action waits for the conversation's end (kept as what
        it did before talking, its walk paused), as it would had the action come first in the tick's name order."""
        assert agent.conversation is not None
        agent.before_talk = (agent.kind, agent.activity, agent.emoji)
        partner = self.conversations[agent.conversation].partner_of(agent.name)
        agent.activity, agent.kind = f"talking with {partner}", "talk"

    def _talk(self, agent: AgentState, action: Action) -> list[EventDict]:
        target = action.target
        text = (action.utterance or "").strip()
        if target == agent.name:
            raise Refused("cannot talk to oneself")
        if target not in self.agents:
            raise Refused(f"no agent {target!r} to talk to")
        if agent.conversation is not None:
            conv = self.conversations[agent.conversation]
            partner = conv.partner_of(agent.name)
            if target != partner:
                raise Refused(f"already talking with {partner}; end that conversation first")
            if action.end_conversation:
                events = self._say(conv, agent.name, text) if text else []
                if not conv.ended:
                    events += self._end_conversation(conv, agent.name, "ended")
                return events
            if conv.turn_of != agent.name:
                raise Refused(f"it is {partner}'s turn to speak")
            if not text:
                raise Refused("talk needs an utterance")
            return self._say(conv, agent.name, text)
        # start a conversation: at once within talk range, else after walking up to them
        other = self.agents[target]
        if action.end_conversation:
            raise Refused(f"no conversation with {target} to end")
        if not text:
            raise Refused("talk needs an utterance")
        self._check_can_talk(agent, other)
        if self._in_talk_range(agent, other):
            return self._open_conversation(agent, other, action)
        return self._approach(agent, other, action)

    def _check_can_talk(self, agent: AgentState, other: AgentState) -> None:
        """Refuses a new conversation with ``other`` (busy, asleep, talked recently); distance aside."""
        target = other.name
        if other.conversation is not None:
            busy_with = self.conversations[other.conversation].partner_of(target)
            raise Refused(f"{target} is busy talking with {busy_with}")
        if other.kind == "sleep":
            raise Refused(f"{target} is asleep")
        again = self.conversations.talk_again_at(agent.name, target, self.settings.conversation_cooldown_min)
        if again is not None and self.now() < again:
            raise Refused(f"talked with {target} recently; can talk again at {again:%H:%M}")

    def _in_talk_range(self, agent: AgentState, other: AgentState) -> bool:
        return manhattan(agent.tile, other.tile) <= self.settings.talk_radius and \
            self.map.arena_at(agent.tile) == self.map.arena_at(other.tile)

    def _too_far(self, agent: AgentState, other: AgentState) -> str:
        dist = manhattan(agent.tile, other.tile)
        return f"{other.name} is too far away to talk to ({dist} tiles, {self.map.address_at(other.tile) or 'outside'})"

    def _open_conversation(self, agent: AgentState, other: AgentState, action: Action) -> list[EventDict]:
        """``agent`` says ``action``'s opening line to ``other``. If ``other`` was walking up to ``agent``
        with a line of its own, that line is its reply (both decided to talk, neither knowing)."""
        conv = self.conversations.start(agent.name, other.name, tick=self.clock.tick,
                                        max_turns=self.settings.max_conversation_turns)
        reply = other.approach if other.approach is not None and other.approach.target == agent.name else None
        for a in (agent, other):
            if a.approach is None:  # else the state from before the walk up is already kept
                a.before_talk = (a.kind, a.activity, a.emoji)
            else:
                a.approach = None
                stop_walking(a)
            a.conversation = conv.id
        other.activity, other.kind = f"talking with {agent.name}", "talk"
        events = self._begin(agent, action, f"talking with {other.name}", keep_object=agent.using)
        events += self._say(conv, agent.name, (action.utterance or "").strip())
        if reply is not None and not conv.ended:
            events += self._say(conv, other.name, (reply.utterance or "").strip())
        return events

    def _approach(self, agent: AgentState, other: AgentState, action: Action) -> list[EventDict]:
        """Walk up to ``other`` (at most ``approach_ticks`` ticks of walking); the line is said on arrival."""
        path = self.paths.path(agent.tile, other.tile)
        reach = self.settings.tiles_per_tick * self.settings.approach_ticks
        if path is None or len(path) - 2 > reach:  # the tiles to walk to stand next to them
            raise Refused(self._too_far(agent, other))
        before = agent.before_talk if agent.approach is not None else (agent.kind, agent.activity, agent.emoji)
        events = self._begin(agent, action.model_copy(update={"description": f"going to talk with {other.name}"}),
                              "", keep_object=agent.using)
        agent.before_talk = before
        agent.approach, agent.approach_until = action, self.clock.tick + self.settings.approach_ticks - 1
        agent.path, agent.destination, agent.arrived = path[1:-1], self.map.address_at(other.tile) or None, False
        return events

    def _go_on_approaching(self, agent: AgentState) -> list[EventDict]:
        """After this tick's walk: talk if in range, give up (a refusal the agent is told), or follow them."""
        action = agent.approach
        assert action is not None and action.target is not None
        other = self.agents[action.target]
        try:
            self._check_can_talk(agent, other)
            if self._in_talk_range(agent, other):
                return self._open_conversation(agent, other, action)
            path = self.paths.path(agent.tile, other.tile)
            if path is None or self.clock.tick >= agent.approach_until:
                raise Refused(f"could not reach {other.name} in time to talk; {self._too_far(agent, other)}")
            agent.path = path[1:-1]
            return []
        except Refused as refused:
            agent.approach = None
            stop_walking(agent)
            _restore_before_talk(agent)
            return self._refuse(agent.name, str(refused), action)

