"""The shared fakes keep the real classes' contract: the same checks run against ``tests._fakes.FakeMemory`` and
the real ``agents.memory.stream.MemoryStream`` (embedded chromadb), and the fakes' methods keep the real signatures."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest

from agents.memory.stream import MemoryStore, MemoryStream
from tests._fakes import T0, FakeMemory, FakeWorld
from town.world.protocol import WorldView
from town.world.state import World


_agents = itertools.count()


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> MemoryStore:
    return MemoryStore.persistent(tmp_path_factory.mktemp("contract") / "memory")


@pytest.fixture(params=["fake", "real"])
def stream(request: pytest.FixtureRequest) -> FakeMemory | MemoryStream:
    if request.param == "fake":
        return FakeMemory("Klaus Mueller")
    return request.getfixturevalue("real_store").stream(f"Agent {next(_agents)}")  # a fresh stream per test


def _fill(stream) -> dict[str, str]:
    """Four memories added out of time order; returns text -> id."""
    added = {}
    for minutes, kind, text in [(20, "observation", "c"), (0, "observation", "a"), (30, "thought", "d"),
                                (10, "chat", "b")]:
        added[text] = stream.add(kind, text, created=T0 + timedelta(minutes=minutes), importance=3).id
    return added


def test_recent_is_newest_first(stream):
    _fill(stream)
    assert [r.text for r in stream.recent(3)] == ["d", "c", "b"]
    assert [r.text for r in stream.recent(10, kinds={"observation"})] == ["c", "a"]
    assert stream.recent(0) == []


def test_since_is_oldest_first_and_inclusive(stream):
    _fill(stream)
    assert [r.text for r in stream.since(T0 + timedelta(minutes=10))] == ["b", "c", "d"]
    assert [r.text for r in stream.since(T0, kinds={"chat", "thought"})] == ["b", "d"]


def test_count_get_and_set_importance(stream):
    ids = _fill(stream)
    assert stream.count() == 4 and stream.count({"observation"}) == 2
    assert [r.text for r in stream.get([ids["d"], ids["a"]])] == ["d", "a"]
    stream.set_importance({ids["a"]: 9})
    assert stream.get([ids["a"]])[0].importance == 9
    insight = stream.add("reflection", "e", created=T0 + timedelta(hours=1), importance=5, evidence=[ids["a"]])
    assert tuple(insight.evidence) == (ids["a"],)


@pytest.mark.parametrize("call", [
    lambda s: s.recent(-1),
    lambda s: s.recent(3, kinds={"dream"}),
    lambda s: s.count({"dream"}),
    lambda s: s.add("thought", "x", created=T0, importance=11),
    lambda s: s.add("reflection", "x", created=T0, importance=5, evidence=["no-such-id"]),
])
def test_both_refuse_the_same_bad_calls(stream, call: Callable):
    _fill(stream)
    with pytest.raises(ValueError):
        call(stream)


def _params(cls: type, name: str) -> list[str]:
    return [p.name for p in inspect.signature(getattr(cls, name)).parameters.values() if p.name != "self"]


@pytest.mark.parametrize("name", ["add", "add_many", "get", "set_importance", "count", "recent", "since", "retrieve"])
def test_fake_memory_methods_take_the_real_parameters(name: str):
    real = _params(MemoryStream, name)
    fake = _params(FakeMemory, name)
    assert fake[: len(real)] == real, (name, fake, real)


@pytest.mark.parametrize("name", [n for n in dir(WorldView) if not n.startswith("_")])
def test_fake_world_methods_take_the_world_views_parameters(name: str):
    assert _params(FakeWorld, name) == _params(World, name) == _params(WorldView, name), name
