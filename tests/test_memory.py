"""Memory stream behaviour, on the embedded (PersistentClient) and Chroma server (HttpClient) backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient
from pydantic import ValidationError

from agents.memory.stream import MemoryStore, MemoryStream
from tests._chroma_fixtures import BACKENDS, T0, chroma_server, make_store, store  # noqa: F401 (fixtures)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _fill(s: MemoryStream) -> None:
    s.add("observation", "Klaus is reading at the library", created=T0, importance=3)
    s.add("thought", "I should bake bread for the cafe", created=T0 + timedelta(hours=1), importance=5)
    s.add("plan", "Open Hobbs Cafe at 8am", created=T0 + timedelta(hours=2), importance=4)
    s.add("chat", "Maria said she would come to the party", created=T0 + timedelta(hours=3), importance=7)


def test_add_and_get_round_trip(store: MemoryStore) -> None:
    s = store.stream("Isabella Rodriguez")
    r = s.add("thought", "plan a party", created=T0, importance=8, keywords=["party"])
    assert r.id == "Isabella_Rodriguez-000000"
    assert (r.agent, r.kind, r.text, r.importance, r.keywords) == ("Isabella Rodriguez", "thought", "plan a party", 8, ["party"])
    assert r.last_accessed == r.created == T0
    r2 = s.add("reflection", "I love parties", created=T0 + timedelta(minutes=5), importance=6, evidence=[r.id])
    assert r2.id == "Isabella_Rodriguez-000001"
    assert s.get([r2.id, r.id]) == [r2, r]
    assert s.count() == 2


def test_ids_are_deterministic_across_stores(make_store: Callable[[], MemoryStore]) -> None:
    a = make_store().stream("Klaus Mueller")
    items = [{"kind": "observation", "text": f"event {i}", "created": T0 + timedelta(minutes=i), "importance": 2} for i in range(3)]
    ids = [r.id for r in a.add_many(items)]
    assert ids == ["Klaus_Mueller-000000", "Klaus_Mueller-000001", "Klaus_Mueller-000002"]
    b = make_store().stream("Tom Moreno")
    assert [r.id for r in b.add_many(items)] == ["Tom_Moreno-000000", "Tom_Moreno-000001", "Tom_Moreno-000002"]


def test_add_many_is_one_chroma_round_trip(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    s = store.stream("Isabella Rodriguez")
    calls: list[int] = []
    original = s.collection.add

    def spy(**kwargs: object) -> None:
        calls.append(len(kwargs["ids"]))  # type: ignore[arg-type]
        original(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(s.collection, "add", spy)
    records = s.add_many(
        [{"kind": "observation", "text": f"saw bird {i}", "created": T0 + timedelta(minutes=i), "importance": 1} for i in range(5)]
    )
    assert calls == [5]
    assert s.count() == 5 and [r.text for r in records] == [f"saw bird {i}" for i in range(5)]


def test_recent_since_and_kinds(store: MemoryStore) -> None:
    s = store.stream("Isabella Rodriguez")
    _fill(s)
    assert [r.kind for r in s.recent(3)] == ["chat", "plan", "thought"]
    assert [r.kind for r in s.recent(10, kinds={"observation", "plan"})] == ["plan", "observation"]
    assert s.recent(0) == []
    assert [r.kind for r in s.since(T0 + timedelta(hours=1))] == ["thought", "plan", "chat"]
    assert [r.kind for r in s.since(T0 + timedelta(hours=1), kinds={"chat"})] == ["chat"]
    assert s.count({"thought", "chat"}) == 2
    with pytest.raises(ValueError, match="kinds"):
        s.recent(2, kinds={"dream"})


def test_recent_orders_by_created_not_insertion(store: MemoryStore) -> None:
    s = store.stream("Isabella Rodriguez")
    s.add("observation", "late", created=T0 + timedelta(hours=5), importance=1)
    s.add("observation", "early", created=T0, importance=1)
    assert [r.text for r in s.recent(2)] == ["late", "early"]


def test_set_importance_and_validation(store: MemoryStore) -> None:
    s = store.stream("Isabella Rodriguez")
    r = s.add("observation", "a dog barks", created=T0, importance=2)
    r2 = s.add("observation", "a cat sleeps", created=T0, importance=2)
    s.set_importance({r.id: 9, r2.id: 1})
    assert [m.importance for m in s.get([r.id, r2.id])] == [9, 1]
    with pytest.raises(ValidationError):
        s.set_importance({r2.id: 5, r.id: 11})
    assert [m.importance for m in s.get([r.id, r2.id])] == [9, 1]  # all or nothing
    with pytest.raises(KeyError, match="nope"):
        s.set_importance({r.id: 4, "nope": 3})
    assert s.get([r.id])[0].importance == 9
    s.set_importance({})  # nothing to write


def test_bad_input_raises(store: MemoryStore) -> None:
    s = store.stream("Isabella Rodriguez")
    with pytest.raises(ValidationError):
        s.add("dream", "flying", created=T0, importance=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        s.add("thought", "x", created=T0, importance=0)
    with pytest.raises(ValidationError):
        s.add("thought", "x" * 2001, created=T0, importance=3)
    with pytest.raises(ValueError, match="evidence"):
        s.add("reflection", "insight", created=T0, importance=3, evidence=["Isabella_Rodriguez-000099"])
    with pytest.raises(ValueError, match="unknown keys"):
        s.add_many([{"kind": "thought", "text": "x", "created": T0, "importance": 3, "mood": "happy"}])
    with pytest.raises(KeyError, match="missing-id"):
        s.get(["missing-id"])
    assert s.count() == 0  # nothing half-written


def test_streams_are_separate_even_when_names_slug_alike(store: MemoryStore) -> None:
    a, b = store.stream("Bob O'Neil"), store.stream("Bob ONeil")
    assert store.collection_name("Bob O'Neil") != store.collection_name("Bob ONeil")
    a.add("thought", "I am Bob O'Neil", created=T0, importance=3)
    assert (a.count(), b.count()) == (1, 0)
    assert store.stream("Bob O'Neil") is a
    assert set(store.agents()) == {"Bob O'Neil", "Bob ONeil"}


def test_reopen_restores_records_counter_and_keyword_index(make_store: Callable[[], MemoryStore], backend: str) -> None:
    s = make_store().stream("Isabella Rodriguez")
    _fill(s)
    s.touch(["Isabella_Rodriguez-000001"], T0 + timedelta(hours=4))
    s.set_importance({"Isabella_Rodriguez-000000": 10})
    before = s.recent(10)
    if backend == "persistent":
        SharedSystemClient.clear_system_cache()  # really reopen the folder
    s2 = make_store().stream("Isabella Rodriguez")
    assert s2 is not s
    assert s2.recent(10) == before
    assert s2.get(["Isabella_Rodriguez-000001"])[0].last_accessed == T0 + timedelta(hours=4)
    assert s2.get(["Isabella_Rodriguez-000000"])[0].importance == 10
    assert s2.add("thought", "next", created=T0 + timedelta(hours=5), importance=2).id == "Isabella_Rodriguez-000004"
    assert set(s2.keyword_scores("bread", None)) == {"Isabella_Rodriguez-000001"}


def test_the_private_mark_survives_a_reopen_and_a_store_without_it_reads_as_not_private(
        make_store: Callable[[], MemoryStore], backend: str) -> None:
    s = make_store().stream("Maria Lopez")
    secret = s.add("thought", "I have a crush on Klaus", created=T0, importance=6, private=True)
    told = s.add("thought", "I stream games on Sunday", created=T0, importance=4)
    assert (secret.private, told.private) == (True, False)
    s.collection.update(ids=[told.id], metadatas=[{"private": None}])  # chroma deletes a key set to None
    assert "private" not in s.collection.get(ids=[told.id])["metadatas"][0]
    if backend == "persistent":
        SharedSystemClient.clear_system_cache()
    again = make_store().stream("Maria Lopez")
    assert [r.private for r in again.get([secret.id, told.id])] == [True, False]


def test_namespaces_do_not_share_streams(make_store: Callable[[], MemoryStore], backend: str) -> None:
    base = make_store()
    base.stream("Isabella Rodriguez").add("thought", "mine", created=T0, importance=2)
    other = MemoryStore(base.client, namespace=base.namespace + "-x", backend=backend)
    assert other.agents() == []
    assert other.stream("Isabella Rodriguez").count() == 0
    assert base.agents() == other.agents() == ["Isabella Rodriguez"]
    assert base.stream("Isabella Rodriguez").count() == 1


def test_chroma_default_embedder_is_never_used(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def boom(self: object, input: object) -> None:
        raise AssertionError("chroma's default embedder was called")

    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", boom)
    s = store.stream("Isabella Rodriguez")
    _fill(s)
    assert s.retrieve("party", now=T0 + timedelta(hours=4), k=2)
    assert s.collection.configuration["embedding_function"].name() == "town_minilm_int8"


def test_store_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="namespace"):
        MemoryStore.persistent(tmp_path / "m", namespace="bad name!")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        MemoryStore.persistent(tmp_path / "file")
    with pytest.raises(ValueError, match="HOST:PORT"):
        MemoryStore.from_url("http://localhost", namespace="n")
    with pytest.raises(ValueError, match="no letters"):
        MemoryStore.persistent(tmp_path / "m").stream("!!!")


def test_from_url_folder(tmp_path: Path) -> None:
    store = MemoryStore.from_url(str(tmp_path / "mem"), namespace="run1")
    assert store.backend == "persistent" and store.namespace == "run1"
    store.stream("Ayesha Khan").add("thought", "hello", created=T0, importance=1)
    assert (tmp_path / "mem").is_dir()


def test_forget_from_drops_the_lost_tick_and_reuses_ids(make_store: Callable[[], MemoryStore], backend: str) -> None:
    s = make_store().stream("Isabella Rodriguez")
    _fill(s)  # created at T0, +1h, +2h, +3h
    assert s.forget_from(T0 + timedelta(hours=2)) == 2
    assert [r.text for r in s.recent(10)] == ["I should bake bread for the cafe", "Klaus is reading at the library"]
    assert set(s.keyword_scores("party", None)) == set()
    if backend == "persistent":
        SharedSystemClient.clear_system_cache()
    s2 = make_store().stream("Isabella Rodriguez")
    assert s2.count() == 2  # gone from chroma too, not just from the mirror
    assert s2.add("plan", "Open Hobbs Cafe at 8am", created=T0 + timedelta(hours=2), importance=4).id == "Isabella_Rodriguez-000002"
    assert s2.forget_from(T0 + timedelta(hours=9)) == 0
