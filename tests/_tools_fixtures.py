"""Data for the reaction / dialogue / ReAct / tool tests (a town of places, three people, the party news) over
the shared fakes of ``tests/_fakes.py``, re-exported here under their old names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.context import MindContext
from agents.prompts import PromptLibrary
from tests import _fakes
from tests._fakes import FakeMemory, Rec, Scored, library, persona  # noqa: F401 (re-exported)
from town.world.protocol import PlaceInfo

T0 = datetime(2023, 2, 13, 9, 30)  # a Monday

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


def FakeWorld(**kw: Any) -> _fakes.FakeWorld:  # noqa: N802 (kept: the old class name)
    """The shared FakeWorld over these places, three people and the party news, at T0 unless told."""
    kw.setdefault("time", T0)
    kw.setdefault("places_", list(PLACES))
    kw.setdefault("names", ["Klaus Mueller", "Isabella Rodriguez", "Maria Lopez"])
    kw.setdefault("news_", ["Isabella hosts a Valentine's Day party at Hobbs Cafe on Feb 14, 5pm"])
    return _fakes.FakeWorld(**kw)


FakeRecord, FakeScored = Rec, Scored  # the old names


def prompt_library() -> PromptLibrary:
    return library()


def make_ctx(llm: Any = None, *, name: str = "Klaus Mueller", world: _fakes.FakeWorld | None = None,
             prompts: Any = None, **settings: Any) -> MindContext:
    """A MindContext over the shared fakes; ``prompts`` defaults to the real templates."""
    return _fakes.make_ctx(llm, name=name, world=world or FakeWorld(), prompts=prompts, **settings)
