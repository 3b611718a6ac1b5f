"""Test doubles for the cognition tests: a small town view, an in-memory memory stream, a context factory,
and a ScriptedLLM script that answers every step of the cognitive loop with valid JSON."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.context import CognitionSettings, MindContext
from agents.llm.fake import ScriptedLLM
from agents.prompts import PromptLibrary
from town.protocol import PerceivedEvent, Persona, PlaceInfo

T0 = datetime(2023, 2, 13, 8, 0)  # a Monday morning
HOME = "Dorm:Klaus's room"
CAFE = "Hobbs Cafe:cafe"
LIBRARY = "Oak Hill College:library"


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


PLACES = [
    PlaceInfo(address="Hobbs Cafe", kind="sector", description="a cosy cafe"),
    PlaceInfo(address=CAFE, kind="arena", description="the cafe room", objects=["coffee machine"]),
    PlaceInfo(address=f"{CAFE}:coffee machine", kind="object", description="makes espresso", state="idle"),
    PlaceInfo(address="Oak Hill College", kind="sector", description="college"),
    PlaceInfo(address=LIBRARY, kind="arena", description="quiet study room", objects=["desk"]),
    PlaceInfo(address=HOME, kind="arena", description="Klaus's bedroom", objects=["bed"]),
]


@dataclass
class FakeWorld:
    """town.protocol.WorldView over fixed places; ``time`` is set by the test."""

    time: datetime = T0
    names: list[str] = field(default_factory=lambda: ["Klaus Mueller", "Isabella Rodriguez"])

    def now(self) -> datetime:
        return self.time

    def places(self) -> list[PlaceInfo]:
        return list(PLACES)

    def place(self, address: str) -> PlaceInfo | None:
        return next((p for p in PLACES if p.address == address), None)

    def look_around(self, agent: str) -> list[PerceivedEvent]:
        return []

    def travel_minutes(self, agent: str, address: str) -> float | None:
        return 5.0 if self.place(address) else None

    def agent_names(self) -> list[str]:
        return list(self.names)

    def news(self) -> list[str]:
        return []


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


@dataclass
class Scored:
    record: Rec
    score: float


class FakeMemory:
    """The agents.memory.MemoryStream API over a list, with word-overlap retrieval."""

    def __init__(self, agent: str = "Klaus Mueller") -> None:
        self.agent = agent
        self.records: dict[str, Rec] = {}
        self.touched: list[str] = []

    def add(self, kind: str, text: str, *, created: datetime, importance: int, evidence=(), keywords=()) -> Rec:
        return self.add_many([{"kind": kind, "text": text, "created": created, "importance": importance,
                               "evidence": evidence, "keywords": keywords}])[0]

    def add_many(self, items: list[dict[str, Any]]) -> list[Rec]:
        out = []
        for item in items:
            for e in item.get("evidence", ()):
                if e not in self.records:
                    raise ValueError(f"unknown evidence id {e}")
            if not 1 <= item["importance"] <= 10:
                raise ValueError(f"importance {item['importance']} out of range")
            rec = Rec(f"m{len(self.records):03d}", self.agent, item["kind"], item["text"], item["created"],
                      item["created"], item["importance"], tuple(item.get("evidence", ())),
                      tuple(item.get("keywords", ())))
            self.records[rec.id] = rec
            out.append(rec)
        return out

    def get(self, ids: list[str]) -> list[Rec]:
        return [self.records[i] for i in ids]

    def set_importance(self, scores: dict[str, int]) -> None:
        for id, importance in scores.items():
            r = self.records[id]
            self.records[id] = Rec(r.id, r.agent, r.kind, r.text, r.created, r.last_accessed, importance, r.evidence,
                                   r.keywords)

    def count(self, kinds: set[str] | None = None) -> int:
        return sum(1 for r in self.records.values() if kinds is None or r.kind in kinds)

    def _ordered(self, kinds: set[str] | None) -> list[Rec]:
        return sorted((r for r in self.records.values() if kinds is None or r.kind in kinds),
                      key=lambda r: (r.created, r.id))

    def recent(self, n: int, kinds: set[str] | None = None) -> list[Rec]:
        return list(reversed(self._ordered(kinds)))[:n]

    def since(self, t: datetime, kinds: set[str] | None = None) -> list[Rec]:
        return [r for r in self._ordered(kinds) if r.created >= t]

    def retrieve(self, query: str, *, now: datetime, k: int = 8, kinds=None, weights=None, touch: bool = True):
        words = set(re.findall(r"\w+", query.lower()))
        scored = [Scored(r, len(words & set(re.findall(r"\w+", r.text.lower())))) for r in self._ordered(kinds)]
        scored = [s for s in scored if s.score > 0] or [Scored(r, 0.0) for r in self._ordered(kinds)]
        scored.sort(key=lambda s: -s.score)
        if touch:
            self.touched.extend(s.record.id for s in scored[:k])
        return scored[:k]


_LIBRARY: PromptLibrary | None = None


def library() -> PromptLibrary:
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = PromptLibrary.load()
    return _LIBRARY


def make_ctx(llm: ScriptedLLM, *, memory: FakeMemory | None = None, world: FakeWorld | None = None,
             settings: CognitionSettings | None = None, who: Persona | None = None,
             plan_cache: dict[str, Any] | None = None) -> MindContext:
    return MindContext(
        persona=who or persona(),
        llm=llm,
        memory=memory if memory is not None else FakeMemory(),  # type: ignore[arg-type]
        prompts=library(),
        world=world or FakeWorld(),
        settings=settings or CognitionSettings(),
        rng=random.Random(0),
        plan_cache=plan_cache if plan_cache is not None else {},
    )


def user_text(messages: list[dict[str, str]]) -> str:
    return next(m["content"] for m in messages if m["role"] == "user")


def numbered_count(messages: list[dict[str, str]]) -> int:
    """How many numbered memory lines ("3. <<<...>>>") the user message holds."""
    return len(re.findall(r"^\d+\. <<<", user_text(messages), flags=re.MULTILINE))


def town_script(step: str, messages: list[dict[str, str]], fmt: dict[str, Any] | None) -> str | dict[str, Any]:
    """Valid answers for every step of the loop (the schema-dependent ones read the prompt)."""
    if step == "plan_daily":
        return {"reasoning": "a study day", "wake_hour": 7, "bed_hour": 22,
                "items": ["study at the library", "lunch at the cafe", "write the paper at home"]}
    if step == "plan_schedule":
        return {"reasoning": "mornings for study", "blocks": [
            {"start_hour": 7, "minutes": 240, "activity": "studying at the library"},
            {"start_hour": 11, "minutes": 120, "activity": "lunch and coffee at the cafe"},
            {"start_hour": 13, "minutes": 540, "activity": "writing the paper at home"}]}
    if step in ("plan_decompose", "plan_replan"):
        minutes = int(re.search(r"next (\d+) minutes", user_text(messages)).group(1))
        doing = re.search(r"(?:you are|You decided to): (.*)", user_text(messages)).group(1)
        where = CAFE if "cafe" in doing.lower() else LIBRARY
        first = minutes // 2
        return {"reasoning": "two halves", "tasks": [
            {"description": "get settled", "duration_min": max(5, min(60, first)), "address": where},
            {"description": "focus on the work", "duration_min": max(5, min(60, minutes - first)), "address": where}]}
    if step == "perceive_importance":
        return {"scores": [6] * numbered_count(messages)}
    if step == "reflect_questions":
        return {"questions": ["What is Klaus working on?"]}
    if step == "reflect_insights":
        return {"reasoning": "the paper", "insights": [{"text": "Klaus is devoted to his paper", "evidence": [1, 2]}]}
    if step == "interview":
        return {"answer": "I am writing a paper on gentrification."}
    if step == "react_decide":
        return {"reasoning": "a friend", "kind": "ignore", "target": None, "new_activity": None}
    if step == "act_react":  # walk to the task's place, then stay there
        text = user_text(messages)
        here = re.search(r"You are at (.*?)\.\n", text).group(1)
        there = re.search(r"\) at (.*?)\.\n", text).group(1)
        if here != there:
            return {"thought": "go there", "tool": "move_to", "args": {"address": there}}
        return {"thought": "do it", "tool": "wait", "args": {"minutes": 10}}
    raise AssertionError(f"town_script has no answer for step {step!r}: {json.dumps(messages)[:200]}")
