"""Test doubles for the reaction / dialogue / ReAct tests: a small town, a tiny memory, a context factory."""

from __future__ import annotations

import random
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

from agents import prompts as prompts_mod
from agents.context import CognitionSettings, MindContext
from town.protocol import PerceivedEvent, Persona, PlaceInfo

T0 = datetime(2023, 2, 13, 9, 30)  # a Monday


def persona(name: str = "Klaus Mueller") -> Persona:
    return Persona(
        name=name,
        age=20,
        innate="kind, curious, hardworking",
        learned=f"{name} is a student at Oak Hill College studying sociology.",
        currently="writing a research paper on gentrification",
        lifestyle="goes to bed around 11pm, wakes up around 7am",
        living_area="Dorm:Klaus's room",
    )


PLACES = [
    PlaceInfo(address="Hobbs Cafe", kind="sector", description="a cosy cafe", opening_hours="8am-8pm"),
    PlaceInfo(address="Hobbs Cafe:cafe", kind="arena", description="the cafe room",
              objects=["coffee machine", "counter"]),
    PlaceInfo(address="Hobbs Cafe:cafe:coffee machine", kind="object", description="makes espresso", state="idle"),
    PlaceInfo(address="Hobbs Cafe:cafe:counter", kind="object", description="where customers order", state="idle"),
    PlaceInfo(address="Oak Hill College", kind="sector", description="college with a library", opening_hours="7am-10pm"),
    PlaceInfo(address="Oak Hill College:library", kind="arena", description="quiet study room", objects=["desk"]),
    PlaceInfo(address="Oak Hill College:library:desk", kind="object", description="a study desk", state="idle"),
    PlaceInfo(address="Dorm", kind="sector", description="the student dorm", private=True),
    PlaceInfo(address="Dorm:Klaus's room", kind="arena", description="Klaus's bedroom", objects=["bed"], private=True),
    PlaceInfo(address="Dorm:Klaus's room:bed", kind="object", description="a bed", state="idle"),
    PlaceInfo(address="Dorm:Maria's room", kind="arena", description="Maria's bedroom", objects=["bed"], private=True),
    PlaceInfo(address="Dorm:Maria's room:bed", kind="object", description="a bed", state="idle"),
    PlaceInfo(address="Dorm:common room", kind="arena", description="the dorm's shared room"),
    PlaceInfo(address="Lin home", kind="sector", description="the Lin family's house", private=True),
    PlaceInfo(address="Lin home:kitchen", kind="arena", description="the Lins' kitchen", objects=["stove"]),
    PlaceInfo(address="Lin home:kitchen:stove", kind="object", description="a stove", state="idle"),
]


@dataclass
class FakeWorld:
    """Implements town.protocol.WorldView over a fixed list of places; records every question."""

    time: datetime = T0
    places_: list[PlaceInfo] = field(default_factory=lambda: list(PLACES))
    names: list[str] = field(default_factory=lambda: ["Klaus Mueller", "Isabella Rodriguez", "Maria Lopez"])
    news_: list[str] = field(default_factory=lambda: ["Isabella hosts a Valentine's Day party at Hobbs Cafe on Feb 14, 5pm"])
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


@dataclass
class FakeRecord:
    id: str
    kind: str
    text: str
    created: datetime
    importance: int
    evidence: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass
class FakeScored:
    record: FakeRecord
    score: float


class FakeMemory:
    """The memory API the cognition steps use, with word-overlap retrieval."""

    def __init__(self) -> None:
        self.records: list[FakeRecord] = []
        self.queries: list[str] = []

    def add(self, kind: str, text: str, *, created: datetime, importance: int,
            evidence: tuple[str, ...] | list[str] = (), keywords: tuple[str, ...] | list[str] = ()) -> FakeRecord:
        rec = FakeRecord(f"m{len(self.records)}", kind, text, created, importance, tuple(evidence), tuple(keywords))
        self.records.append(rec)
        return rec

    def retrieve(self, query: str, *, now: datetime, k: int = 8, kinds: list[str] | None = None) -> list[FakeScored]:
        self.queries.append(query)
        words = set(re.findall(r"\w+", query.lower()))
        scored = []
        for r in self.records:
            if kinds and r.kind not in kinds:
                continue
            overlap = len(words & set(re.findall(r"\w+", r.text.lower())))
            if overlap:
                scored.append(FakeScored(r, float(overlap)))
        scored.sort(key=lambda s: -s.score)
        return scored[:k]

    def recent(self, n: int, kinds: list[str] | None = None) -> list[FakeRecord]:
        return [r for r in self.records if not kinds or r.kind in kinds][-n:]


_LIBRARY: prompts_mod.PromptLibrary | None = None


def prompt_library() -> prompts_mod.PromptLibrary:
    """The real templates of every registered step (plus partials), loaded and checked once.

    Templates of steps whose module is not written yet are left out, so these tests do not
    depend on other areas' progress.
    """
    global _LIBRARY
    if _LIBRARY is None:
        steps = prompts_mod.registered_steps()
        with tempfile.TemporaryDirectory() as tmp:
            for path in prompts_mod.default_dir().glob("*.j2"):
                name = path.name[:-3]
                if name.startswith("_") or name in steps:
                    shutil.copy(path, tmp)
            with mock.patch.object(prompts_mod, "default_dir", return_value=Path(tmp)):
                _LIBRARY = prompts_mod.PromptLibrary.load()
    return _LIBRARY


def make_ctx(llm: Any = None, *, name: str = "Klaus Mueller", world: FakeWorld | None = None,
             prompts: Any = None, **settings: Any) -> MindContext:
    """A MindContext over the fakes; ``prompts`` defaults to the real templates."""
    if prompts is None:
        prompts = prompt_library()
    return MindContext(
        persona=persona(name),
        llm=llm,
        memory=FakeMemory(),
        prompts=prompts,
        world=world or FakeWorld(),
        settings=CognitionSettings(**settings),
        rng=random.Random(0),
    )
