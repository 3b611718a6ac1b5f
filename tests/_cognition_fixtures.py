"""Data for the cognition tests (places, addresses) over the shared fakes of ``tests/_fakes.py`` (re-exported
here under their old names), and a ScriptedLLM script that answers every step of the cognitive loop."""

from __future__ import annotations

import json
import re
from typing import Any

from agents.context import CognitionSettings, MindContext
from agents.testing import ScriptedLLM
from tests import _fakes
from tests._fakes import HOME, T0, FakeMemory, Rec, Scored, library, persona  # noqa: F401 (re-exported)
from town.world.protocol import Persona, PlaceInfo

CAFE = "Hobbs Cafe:cafe"
LIBRARY = "Oak Hill College:library"


PLACES = [
    PlaceInfo(address="Hobbs Cafe", kind="sector", description="a cosy cafe"),
    PlaceInfo(address=CAFE, kind="arena", description="the cafe room", objects=["coffee machine"]),
    PlaceInfo(address=f"{CAFE}:coffee machine", kind="object", description="makes espresso", state="idle"),
    PlaceInfo(address="Oak Hill College", kind="sector", description="college"),
    PlaceInfo(address=LIBRARY, kind="arena", description="quiet study room", objects=["desk"]),
    PlaceInfo(address=HOME, kind="arena", description="Klaus's bedroom", objects=["bed"]),
]


def FakeWorld(**kw: Any) -> _fakes.FakeWorld:  # noqa: N802 (kept: the old class name)
    """The shared FakeWorld over these places and two people, at T0 unless told."""
    kw.setdefault("places_", list(PLACES))
    return _fakes.FakeWorld(**kw)


def make_ctx(llm: ScriptedLLM, *, memory: FakeMemory | None = None, world: _fakes.FakeWorld | None = None,
             settings: CognitionSettings | None = None, who: Persona | None = None,
             plan_cache: dict[str, Any] | None = None) -> MindContext:
    return _fakes.make_ctx(llm, memory=memory, world=world or FakeWorld(), settings=settings, who=who,
                           plan_cache=plan_cache)


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
