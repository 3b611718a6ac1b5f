"""The one set of test doubles for the cognition, dialogue, ReAct and tool tests: a persona, a town view over
fixed places, an in-memory memory stream and a context factory. ``tests/test_fakes_contract.py`` runs the same
checks against these and the real classes, so they cannot drift apart."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.context import CognitionSettings, MindContext
from agents.memory.stream import MEMORY_KINDS
from agents.prompts import PromptLibrary
from town.world.protocol import PerceivedEvent, Persona, PlaceInfo

T0 = datetime(2023, 2, 13, 8, 0)  # a Monday morning
HOME = "Dorm:Klaus's room"


def persona(name: str = "Klaus Mueller", seed_memories: list[str] | None = None) -> Persona:
    return Persona(
        name=name,
        age=20,
        innate="kind, curious, hardworking",
        learned=f"{name} is a student at Oak Hill College studying sociology.",
        currently="writing a research paper on gentrification",
        lifestyle="goes to bed around 11pm, wakes up around 7am",
        living_area=HOME,
        daily_plan_hint="library in the morning, cafe in the afternoon",
        seed_memories=seed_memories or [],
    )


@dataclass
class FakeWorld:
    """town.world.protocol.WorldView over a fixed list of places; ``time`` is set by the test; records every question."""

    time: datetime = T0
    places_: list[PlaceInfo] = field(default_factory=list)
    names: list[str] = field(default_factory=lambda: ["Klaus Mueller", "Isabella Rodriguez"])
    news_: list[str] = field(default_factory=list)
    seen: list[PerceivedEvent] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.time

    def places(self) -> list[PlaceInfo]:
        self.calls.append(("places", None))
        return list(self.places_)

    def place(self, address: str) -> PlaceInfo | None:
        self.calls.append(("place", address))
        return next((p for p in self.places_ if p.address == address), None)

    def look_around(self, agent: str) -> list[PerceivedEvent]:
        self.calls.append(("look_around", agent))
        return list(self.seen)

    def travel_minutes(self, agent: str, address: str) -> float | None:
        return 5.0 if self.place(address) else None

    def agent_names(self) -> list[str]:
        return list(self.names)

    def news(self) -> list[str]:
        return list(self.news_)


@dataclass(frozen=True)
class Rec:
    id: str
    agent: str
    kind: str
    text: str
    created: datetime
    last_accessed: datetime
    importance: int
    evidence: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    private: bool = False


@dataclass
class Scored:
    record: Rec
    score: float


def _check_kinds(kinds: Any) -> None:
    if kinds is not None and (not kinds or set(kinds) - MEMORY_KINDS):
        raise ValueError(f"unknown memory kinds {sorted(set(kinds) - MEMORY_KINDS)} (or none given)")


class FakeMemory:
    """The agents.memory.stream.MemoryStream API over a dict, with word-overlap retrieval (every query is recorded)."""

    def __init__(self, agent: str = "Klaus Mueller") -> None:
        self.agent = agent
        self.records: dict[str, Rec] = {}
        self.touched: list[str] = []
        self.queries: list[str] = []

    def add(self, kind: str, text: str, *, created: datetime, importance: int, evidence=(), keywords=(),
            private: bool = False) -> Rec:
        return self.add_many([{"kind": kind, "text": text, "created": created, "importance": importance,
                               "evidence": evidence, "keywords": keywords, "private": private}])[0]

    def add_many(self, items: list[dict[str, Any]]) -> list[Rec]:
        out = []
        for item in items:
            _check_kinds({item["kind"]})
            for e in item.get("evidence", ()):
                if e not in self.records:
                    raise ValueError(f"unknown evidence id {e}")
            if not 1 <= item["importance"] <= 10:
                raise ValueError(f"importance {item['importance']} out of range")
            rec = Rec(f"m{len(self.records):03d}", self.agent, item["kind"], item["text"], item["created"],
                      item["created"], item["importance"], tuple(item.get("evidence", ())),
                      tuple(item.get("keywords", ())), item.get("private", False))
            self.records[rec.id] = rec
            out.append(rec)
        return out

    def get(self, ids: list[str]) -> list[Rec]:
        return [self.records[i] for i in ids]

    def set_importance(self, scores: dict[str, int]) -> None:
        for id, importance in scores.items():
            r = self.records[id]
            self.records[id] = Rec(r.id, r.agent, r.kind, r.text, r.created, r.last_accessed, importance, r.evidence,
                                   r.keywords, r.private)

    def count(self, kinds: set[str] | None = None) -> int:
        _check_kinds(kinds)
        return sum(1 for r in self.records.values() if kinds is None or r.kind in kinds)

    def _ordered(self, kinds: Any) -> list[Rec]:
        _check_kinds(kinds)
        return sorted((r for r in self.records.values() if kinds is None or r.kind in kinds),
                      key=lambda r: (r.created, r.id))

    def recent(self, n: int, kinds: set[str] | None = None) -> list[Rec]:
        """The ``n`` newest, newest first (as the real stream)."""
        if n < 0:
            raise ValueError(f"recent(n) needs n >= 0, got {n}")
        return list(reversed(self._ordered(kinds)))[:n]

    def since(self, t: datetime, kinds: set[str] | None = None) -> list[Rec]:
        """Created at or after ``t``, oldest first (as the real stream)."""
        return [r for r in self._ordered(kinds) if r.created >= t]

    def retrieve(self, query: str, *, now: datetime, k: int = 8, kinds=None, weights=None, touch: bool = True):
        self.queries.append(query)
        words = set(re.findall(r"\w+", query.lower()))
        scored = [Scored(r, len(words & set(re.findall(r"\w+", r.text.lower())))) for r in self._ordered(kinds)]
        scored = [s for s in scored if s.score > 0] or [Scored(r, 0.0) for r in self._ordered(kinds)]
        scored.sort(key=lambda s: -s.score)
        if touch:
            self.touched.extend(s.record.id for s in scored[:k])
        return scored[:k]


_LIBRARY: PromptLibrary | None = None


def library() -> PromptLibrary:
    """The real templates, loaded and checked once."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = PromptLibrary.load()
    return _LIBRARY


def make_ctx(llm: Any = None, *, memory: FakeMemory | None = None, world: FakeWorld | None = None,
             settings: CognitionSettings | None = None, who: Persona | None = None, name: str | None = None,
             prompts: Any = None, plan_cache: dict[str, Any] | None = None, **setting_overrides: Any) -> MindContext:
    """A MindContext over the fakes: the real templates unless ``prompts``; ``setting_overrides`` are
    CognitionSettings fields."""
    if settings is None:
        settings = CognitionSettings(**setting_overrides)
    elif setting_overrides:
        settings = settings.model_copy(update=setting_overrides)
    who = who or persona(name or "Klaus Mueller")
    return MindContext(
        persona=who,
        llm=llm,
        memory=memory if memory is not None else FakeMemory(who.name),  # type: ignore[arg-type]
        prompts=prompts if prompts is not None else library(),
        world=world if world is not None else FakeWorld(),
        settings=settings,
        rng=random.Random(0),
        plan_cache=plan_cache if plan_cache is not None else {},
    )
