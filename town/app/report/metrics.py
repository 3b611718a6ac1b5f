"""Run metrics: who talked to whom, how seeded facts spread, what the minds cost, what they did.

Every function is pure (a list of :class:`~town.world.events.Event` in, numbers out) and knows
nothing of plots or HTML; :mod:`town.app.report.content` lays the figures out for rendering.

Time is measured in *game hours since the run started*: hour ``h`` covers
``[start + h, start + h + 1)``, where ``start`` is the ``run_start`` event's game time (or the
first event's, for a log without one). Figures per hour are cumulative where they say so.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import networkx as nx

from town.app.report.loading import Fact
from town.world.event_types import (
    ActionTaken,
    Chat,
    ConversationEnd,
    FallbackNote,
    LLMCall,
    Payload,
    ReflectionNote,
    RunEnd,
    RunStart,
    ToolNote,
)
from town.world.events import Event

P = TypeVar("P", bound=Payload)

LLM_FIELDS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "retries", "latency_s")


@dataclass
class Utterance:
    """One chat line: who said it, who heard it (the other participants), when."""

    conversation: str
    time: datetime
    speaker: str
    hearers: frozenset[str]
    text: str



# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


def of_type(events: Iterable[Event], model: type[P]) -> Iterator[tuple[Event, P]]:
    """The events whose payload is a ``model`` (one model per event type), with that payload typed."""
    for ev in events:
        if isinstance(ev.data, model):
            yield ev, ev.data


def start_time(events: Sequence[Event]) -> datetime:
    """Game time of the ``run_start`` event, else of the earliest event."""
    if not events:
        raise ValueError("no events")
    for ev in events:
        if ev.type == "run_start":
            return ev.time
    return min(ev.time for ev in events)


def hour_of(t: datetime, start: datetime) -> int:
    """Whole game hours from ``start`` to ``t`` (hour 0 is the first hour of the run)."""
    return math.floor((t - start) / timedelta(hours=1))


def last_hour(events: Sequence[Event]) -> int:
    """The index of the last game hour the log reaches."""
    start = start_time(events)
    return max(0, hour_of(max(ev.time for ev in events), start))


def agent_names(events: Sequence[Event]) -> list[str]:
    """The run's agents: the ``run_start`` roster plus anyone seen acting or talking."""
    names: set[str] = set()
    for ev in events:
        data = ev.data
        if isinstance(data, RunStart):
            names.update(data.agents)
        elif isinstance(data, Chat):
            names.add(data.speaker)
            names.update(data.listeners)
        elif isinstance(data, ConversationEnd):
            names.update(data.participants)
        if ev.agent is not None:
            names.add(ev.agent)
    return sorted(names)


# --------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------


def utterances(events: Sequence[Event]) -> list[Utterance]:
    """Every chat line with its hearers.

    Hearers are the line's listeners plus everyone already known to be in that conversation
    (earlier speakers and listeners), minus the speaker. A conversation logged only by its
    ``conversation_end`` (no ``chat`` events) contributes its ``lines`` at the end time.
    """
    members: dict[str, set[str]] = defaultdict(set)
    out: list[Utterance] = []
    chatted: set[str] = set()
    for ev, chat in of_type(events, Chat):
        conv, speaker = chat.conversation, chat.speaker
        members[conv].add(speaker)
        members[conv].update(chat.listeners)
        chatted.add(conv)
        out.append(Utterance(conv, ev.time, speaker, frozenset(members[conv] - {speaker}), chat.text))
    for ev, end in of_type(events, ConversationEnd):
        if end.conversation in chatted:
            continue
        people = set(end.participants)
        for line in end.lines:
            out.append(Utterance(end.conversation, ev.time, line.speaker,
                                 frozenset((people | {line.speaker}) - {line.speaker}), line.text))
    out.sort(key=lambda u: u.time)
    return out


def conversations(events: Sequence[Event]) -> dict[str, tuple[datetime, set[str]]]:
    """Conversation id -> (time of its first line, everyone who took part)."""
    convs: dict[str, tuple[datetime, set[str]]] = {}
    for u in utterances(events):
        first, people = convs.get(u.conversation, (u.time, set()))
        people.update(u.hearers | {u.speaker})
        convs[u.conversation] = (min(first, u.time), people)
    return convs


def conversation_graph(events: Sequence[Event], until: datetime | None = None) -> nx.Graph:
    """Who talked to whom.

    Nodes are all agents. An edge joins two agents who were in a conversation together;
    ``conversations`` counts those conversations (also stored as ``weight``) and ``lines`` counts
    the chat lines one of them said with the other listening. With ``until``, only conversations
    that started before it, and lines said before it, count.
    """
    g = nx.Graph()
    g.add_nodes_from(agent_names(events))
    for first, people in conversations(events).values():
        if until is not None and first >= until:
            continue
        ordered = sorted(people)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                if g.has_edge(a, b):
                    g[a][b]["conversations"] += 1
                else:
                    g.add_edge(a, b, conversations=1, lines=0)
                g[a][b]["weight"] = g[a][b]["conversations"]
    for u in utterances(events):
        if until is not None and u.time >= until:
            continue
        for h in u.hearers:
            g[u.speaker][h]["lines"] += 1
    return g


def density_over_time(events: Sequence[Event]) -> list[tuple[int, float]]:
    """Density of the cumulative who-talked-to-whom graph at the end of each game hour."""
    start = start_time(events)
    return [
        (h, nx.density(conversation_graph(events, until=start + timedelta(hours=h + 1))))
        for h in range(last_hour(events) + 1)
    ]


# --------------------------------------------------------------------------------------------
# Information diffusion
# --------------------------------------------------------------------------------------------


def knowledge_times(events: Sequence[Event], fact: Fact) -> dict[str, datetime]:
    """When each agent came to know ``fact``: at the start if in ``known_by``, else at the first
    chat line they said or heard that contains one of the fact's keywords (case-insensitive)."""
    start = start_time(events)
    known = {name: start for name in fact.known_by}
    words = [k.lower() for k in fact.keywords]
    for u in utterances(events):
        text = u.text.lower()
        if any(w in text for w in words):
            for person in u.hearers | {u.speaker}:
                known.setdefault(person, u.time)
    return known


def diffusion(events: Sequence[Event], facts: Iterable[Fact]) -> dict[str, list[tuple[int, int]]]:
    """For each fact id: ``(hour, number of agents who know it by the end of that hour)`` per game hour."""
    start = start_time(events)
    hours = range(last_hour(events) + 1)
    out: dict[str, list[tuple[int, int]]] = {}
    for fact in facts:
        times = knowledge_times(events, fact).values()
        out[fact.id] = [(h, sum(1 for t in times if t < start + timedelta(hours=h + 1))) for h in hours]
    return out


# --------------------------------------------------------------------------------------------
# LLM accounting
# --------------------------------------------------------------------------------------------


def _tally() -> dict[str, float]:
    return {k: 0 for k in LLM_FIELDS}


def _add_call(t: dict[str, float], call: LLMCall) -> None:
    t["calls"] += 1
    t["cache_hits"] += int(call.cached)
    t["prompt_tokens"] += call.prompt_tokens
    t["completion_tokens"] += call.completion_tokens
    t["retries"] += max(0, (call.attempts or 1) - 1)  # a note without attempts made one
    t["latency_s"] += call.latency_s or 0.0


def llm_calls(events: Sequence[Event]) -> list[Event]:
    """The `llm_call` notes of the log, in order."""
    return [ev for ev, _ in of_type(events, LLMCall)]


def _agent(ev: Event, default: str) -> str:
    """The event's agent: on the envelope, else in the note's data (older notes), else ``default``."""
    return ev.agent or ev.data.get("agent") or default


def calls_by_step(events: Sequence[Event]) -> dict[str, dict[str, float]]:
    """Per cognitive step: calls, cache hits, prompt/completion tokens, retries, latency (from ``llm_call``)."""
    out: dict[str, dict[str, float]] = defaultdict(_tally)
    for _, call in of_type(events, LLMCall):
        _add_call(out[call.step or "?"], call)
    return dict(sorted(out.items()))


def calls_by_agent(events: Sequence[Event]) -> dict[str, dict[str, float]]:
    """Per agent: the same tallies as :func:`calls_by_step`."""
    out: dict[str, dict[str, float]] = defaultdict(_tally)
    for ev, call in of_type(events, LLMCall):
        _add_call(out[_agent(ev, "-")], call)
    return dict(sorted(out.items()))


def calls_by_hour(events: Sequence[Event]) -> list[tuple[int, dict[str, float]]]:
    """Per game hour (every hour of the run, empty ones included): the same tallies."""
    start = start_time(events)
    out = [(h, _tally()) for h in range(last_hour(events) + 1)]
    for ev, call in of_type(events, LLMCall):
        _add_call(out[hour_of(ev.time, start)][1], call)
    return out


def fallbacks(events: Sequence[Event]) -> dict[tuple[str, str], int]:
    """``(step, reason) -> count`` over the ``fallback`` notes."""
    c: Counter[tuple[str, str]] = Counter()
    for _, note in of_type(events, FallbackNote):
        c[(note.step or "?", note.reason or "?")] += 1
    return dict(sorted(c.items()))


def summary_llm(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The LLM accounting block of ``summary.json`` (``minds.llm`` or top-level ``llm``), or ``{}``."""
    if not summary:
        return {}
    minds = summary.get("minds")
    if isinstance(minds, dict) and isinstance(minds.get("llm"), dict):
        return minds["llm"]
    llm = summary.get("llm")
    return llm if isinstance(llm, dict) else {}


def wall_time(events: Sequence[Event], summary: dict[str, Any] | None) -> tuple[float, int] | None:
    """``(seconds, sessions)``: the wall time summed over the ``run_end`` events (one per session of a
    resumed run), else ``summary.json``'s ``wall_s`` (the last session only), else None."""
    walls = [float(end.summary["wall_s"]) for _, end in of_type(events, RunEnd) if "wall_s" in end.summary]
    if walls:
        return sum(walls), len(walls)
    if summary and summary.get("wall_s") is not None:
        return float(summary["wall_s"]), 1
    return None


_HEADER_KEYS = frozenset({"run_dir", "seed", "scenario", "ticks", "wall_s", "minds", "llm", "model_server"})


def summary_extras(summary: dict[str, Any] | None) -> dict[str, Any]:
    """Figures of ``summary.json`` not shown elsewhere: top-level ones and the mind runtime's, LLM aside."""
    if not summary:
        return {}
    out = {k: v for k, v in summary.items() if k not in _HEADER_KEYS}
    minds = summary.get("minds")
    if isinstance(minds, dict):
        out.update({f"minds.{k}": v for k, v in minds.items() if k != "llm"})
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------------------------


@dataclass
class Span:
    """One action of an agent on the timeline."""

    start: datetime
    end: datetime
    kind: str
    description: str


def action_timeline(events: Sequence[Event]) -> dict[str, list[Span]]:
    """Per agent, its actions; each lasts until the next one, or its ``duration_min`` if that ends sooner.

    The last action of an agent runs to the end of the log (or its duration if shorter).
    """
    end_of_log = max(ev.time for ev in events)
    raw: dict[str, list[tuple[Event, ActionTaken]]] = defaultdict(list)
    for ev, act in of_type(events, ActionTaken):
        raw[_agent(ev, "?")].append((ev, act))
    out: dict[str, list[Span]] = {}
    for agent, acts in sorted(raw.items()):
        spans = []
        for i, (ev, act) in enumerate(acts):
            nxt = acts[i + 1][0].time if i + 1 < len(acts) else end_of_log
            dur = act.duration_min or 0
            end = min(nxt, ev.time + timedelta(minutes=dur)) if dur > 0 else nxt
            spans.append(Span(ev.time, max(end, ev.time), act.kind, act.description))
        out[agent] = spans
    return out


def count_notes(events: Sequence[Event], type_: str, key: str | None = None) -> dict[str, int]:
    """Count events of ``type_`` by ``data[key]`` (or by agent when ``key`` is None)."""
    c: Counter[str] = Counter()
    for ev in events:
        if ev.type == type_:
            label = ev.data.get(key) if key is not None else (ev.agent or ev.data.get("agent"))
            c[str(label if label is not None else "?")] += 1
    return dict(sorted(c.items()))


def _note_text(note: ReflectionNote) -> str:
    """The reflection's words: its insight, or the text older notes logged, else the note as JSON."""
    if note.insight:
        return note.insight
    for key in ("text", "description", "content"):
        if isinstance(note.get(key), str):
            return note.get(key)
    return json.dumps(note.logged, default=str, ensure_ascii=False)


def reflections(events: Sequence[Event]) -> list[tuple[datetime, str, str]]:
    """``(game time, agent, text)`` of every reflection note."""
    return [(ev.time, _agent(ev, "?"), _note_text(note)) for ev, note in of_type(events, ReflectionNote)]


def tool_counts(events: Sequence[Event]) -> dict[str, int]:
    """ReAct tool calls by tool name (``data.tool``, else ``data.name``)."""
    c: Counter[str] = Counter()
    for _, note in of_type(events, ToolNote):
        c[str(note.tool or note.get("name") or "?")] += 1
    return dict(sorted(c.items()))
