"""Retrieval: the scoring maths (pure) and multi-route recall over real streams on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from agents.memory.stream import MemoryRecord, MemoryStore, MemoryStream
from agents.memory.bench import bench_retrieval
from agents.memory.retrieve import Candidate, RetrievalWeights, min_max, recency, score_candidates
from tests._chroma_fixtures import BACKENDS, T0, chroma_server, make_store, store  # noqa: F401 (fixtures)

NOW = T0 + timedelta(hours=10)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _rec(id_: str, *, importance: int = 5, accessed: datetime = T0, created: datetime = T0) -> MemoryRecord:
    return MemoryRecord(
        id=id_, agent="A", kind="observation", text=id_, created=created, last_accessed=accessed, importance=importance
    )


# -- pure maths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], []), ([3.0], [0.5]), ([2.0, 2.0, 2.0], [0.5, 0.5, 0.5]), ([1.0, 3.0, 2.0], [0.0, 1.0, 0.5]), ([-1.0, 1.0], [0.0, 1.0])],
)
def test_min_max(values: list[float], expected: list[float]) -> None:
    assert min_max(values) == pytest.approx(expected)


def test_recency_decays_per_game_hour() -> None:
    assert recency(T0, T0, 0.9) == 1.0
    assert recency(T0, T0 + timedelta(hours=2), 0.9) == pytest.approx(0.81)
    assert recency(T0, T0 + timedelta(minutes=30), 0.5) == pytest.approx(0.5**0.5)
    with pytest.raises(ValueError, match="before last access"):
        recency(T0 + timedelta(hours=1), T0, 0.9)


# One candidate strongest in each signal and weakest in the others.
_SIGNAL_CANDIDATES = [
    Candidate(_rec("recent", importance=1, accessed=NOW), cosine=0.1, bm25=0.0),
    Candidate(_rec("important", importance=10, accessed=T0), cosine=0.1, bm25=0.0),
    Candidate(_rec("relevant", importance=1, accessed=T0), cosine=0.9, bm25=0.0),
    Candidate(_rec("keyword", importance=1, accessed=T0), cosine=0.1, bm25=7.5),
]


@pytest.mark.parametrize(
    ("dominant", "winner"), [("recency", "recent"), ("importance", "important"), ("relevance", "relevant"), ("keyword", "keyword")]
)
def test_dominant_weight_decides_the_winner(dominant: str, winner: str) -> None:
    weights = RetrievalWeights(**{name: (10.0 if name == dominant else 1.0) for name in ("recency", "importance", "relevance", "keyword")})
    scored = score_candidates(_SIGNAL_CANDIDATES, NOW, weights)
    assert scored[0].record.id == winner
    assert getattr(scored[0], dominant) == 1.0
    assert scored[0].score == pytest.approx(10.0)  # 1.0 on its own signal, 0.0 on the three others


def test_score_is_the_weighted_sum_of_normalised_components() -> None:
    weights = RetrievalWeights(recency=0.3, importance=2.0, relevance=1.5, keyword=0.7)
    for s in score_candidates(_SIGNAL_CANDIDATES, NOW, weights):
        for part in (s.recency, s.importance, s.relevance, s.keyword):
            assert 0.0 <= part <= 1.0
        expected = 0.3 * s.recency + 2.0 * s.importance + 1.5 * s.relevance + 0.7 * s.keyword
        assert s.score == pytest.approx(expected)


def test_single_candidate_and_ties() -> None:
    (only,) = score_candidates([Candidate(_rec("x"), cosine=0.3, bm25=0.0)], NOW, RetrievalWeights())
    assert (only.recency, only.importance, only.relevance, only.keyword) == (0.5, 0.5, 0.5, 0.5)
    older = Candidate(_rec("a", created=T0), cosine=0.2, bm25=0.0)
    newer = Candidate(_rec("b", created=T0 + timedelta(hours=1)), cosine=0.2, bm25=0.0)
    assert [s.record.id for s in score_candidates([older, newer], NOW, RetrievalWeights())] == ["b", "a"]


def test_weights_are_validated() -> None:
    with pytest.raises(ValidationError):
        RetrievalWeights(recency=-1)
    with pytest.raises(ValidationError):
        RetrievalWeights(decay_per_hour=0)
    with pytest.raises(ValidationError):
        RetrievalWeights(candidates=0)
    with pytest.raises(ValidationError):
        RetrievalWeights(relevence=1.0)  # type: ignore[call-arg]


# -- over real streams ---------------------------------------------------------------------

_CAFE = [
    "Isabella brewed espresso at Hobbs Cafe",
    "A customer ordered a latte at the cafe",
    "The coffee grinder at Hobbs Cafe is noisy",
    "Isabella cleaned the espresso machine",
    "Maria drank a cappuccino at the cafe counter",
    "Klaus complained that the coffee was cold",
    "The cafe sells croissants with coffee",
    "Isabella bought new coffee beans for the cafe",
]
_RARE = "Tom whispered the password zanzibar near the pharmacy"


def _stream(store: MemoryStore) -> MemoryStream:
    s = store.stream("Isabella Rodriguez")
    items = [
        {"kind": "observation", "text": t, "created": T0 + timedelta(minutes=10 * i), "importance": 4}
        for i, t in enumerate([*_CAFE, _RARE])
    ]
    items.append({"kind": "chat", "text": "Maria said the coffee at the cafe is the best", "created": T0 + timedelta(hours=3), "importance": 4})
    s.add_many(items)
    return s


def test_relevance_route_finds_the_semantic_match(store: MemoryStore) -> None:
    s = _stream(store)
    s.add("thought", "I am planning a Valentine's Day party for the whole town", created=T0 + timedelta(hours=3), importance=4)
    top = s.retrieve("Who is organising a celebration?", now=NOW, k=3)
    assert top[0].record.text.startswith("I am planning a Valentine's Day party")
    assert [t.score for t in top] == sorted((t.score for t in top), reverse=True)
    assert len(top) == 3


def test_keyword_route_recalls_what_the_vector_route_misses(store: MemoryStore) -> None:
    s = _stream(store)
    query = "zanzibar coffee at the cafe"
    rare_id = next(r.id for r in s.recent(100) if r.text == _RARE)
    n = 3
    vector = s.vector_search(s.embed_query(query), n, None)
    assert rare_id not in vector  # the vector route alone misses it
    keyword = s.keyword_scores(query, None)
    assert max(keyword, key=keyword.__getitem__) == rare_id
    keyword_top = sorted(keyword, key=keyword.__getitem__, reverse=True)[:n]

    top = s.retrieve(query, now=NOW, k=2 * n, weights=RetrievalWeights(candidates=n), touch=False)
    by_id = {t.record.id: t for t in top}
    assert set(by_id) == set(vector) | set(keyword_top)  # the union of both routes
    assert by_id[rare_id].keyword == 1.0
    assert by_id[rare_id].cosine < min(vector.values())

    keyword_heavy = s.retrieve(query, now=NOW, k=1, weights=RetrievalWeights(candidates=n, keyword=10.0), touch=False)
    assert keyword_heavy[0].record.id == rare_id


def test_vector_route_reports_cosine_similarity(store: MemoryStore) -> None:
    s = _stream(store)
    qvec = s.embed_query("espresso machine")
    vector = s.vector_search(qvec, 4, None)
    assert list(vector.values()) == sorted(vector.values(), reverse=True)
    stored = s.embeddings(list(vector))
    for id_, cos in vector.items():
        assert cos == pytest.approx(float(stored[id_] @ qvec), abs=1e-4)
    with pytest.raises(KeyError, match="no vectors"):
        s.embeddings(["Isabella_Rodriguez-999999"])


def test_keyword_route_ignores_stopwords(store: MemoryStore) -> None:
    s = _stream(store)
    assert s.keyword_scores("what is the thing at the", None) == {}
    assert set(s.keyword_scores("What about ZANZIBAR?", None)) == {next(r.id for r in s.recent(100) if r.text == _RARE)}


def test_kinds_filter_applies_to_both_routes(store: MemoryStore) -> None:
    s = _stream(store)
    top = s.retrieve("zanzibar coffee cafe", now=NOW, k=10, kinds={"chat"})
    assert [t.record.kind for t in top] == ["chat"]
    assert s.retrieve("coffee", now=NOW, kinds={"reflection"}) == []


def test_retrieve_touches_only_returned_records(store: MemoryStore) -> None:
    s = _stream(store)
    untouched = s.retrieve("espresso", now=NOW, k=2, touch=False)
    assert all(t.record.last_accessed == t.record.created for t in untouched)
    top = s.retrieve("espresso", now=NOW, k=2)
    ids = {t.record.id for t in top}
    assert all(t.record.last_accessed == NOW for t in top)
    for r in s.recent(100):
        assert r.last_accessed == (NOW if r.id in ids else r.created)
    assert top[0].recency == untouched[0].recency  # scored before the touch


def test_recency_weight_prefers_recently_accessed(store: MemoryStore) -> None:
    s = _stream(store)
    old_hit = s.retrieve("croissants", now=NOW, k=1, touch=False)[0].record
    s.touch([r.id for r in s.recent(100) if r.id != old_hit.id], NOW)
    recency_only = RetrievalWeights(recency=1, importance=0, relevance=0, keyword=0)
    top = s.retrieve("croissants", now=NOW, k=20, weights=recency_only, touch=False)
    assert top[-1].record.id == old_hit.id and top[-1].recency == 0.0


def test_retrieve_argument_errors(store: MemoryStore) -> None:
    s = store.stream("Isabella Rodriguez")
    assert s.retrieve("anything", now=NOW) == []
    s.add("observation", "hello", created=NOW, importance=1)
    with pytest.raises(ValueError, match="non-empty"):
        s.retrieve("  ", now=NOW)
    with pytest.raises(ValueError, match="k must"):
        s.retrieve("hello", now=NOW, k=0)
    with pytest.raises(ValueError, match="before last access"):
        s.retrieve("hello", now=T0)
    with pytest.raises(ValueError, match="kinds"):
        s.retrieve("hello", now=NOW, kinds={"gossip"})


def test_bench_retrieval_reports_and_cleans_up(store: MemoryStore) -> None:
    result = bench_retrieval(store, n_memories=40, n_queries=3, batch=16)
    assert result["backend"] == store.backend
    assert (result["n_memories"], result["n_queries"]) == (40, 3)
    assert result["insert_per_s"] > 0 and result["query_p95_ms"] >= result["query_p50_ms"] > 0
    assert store.agents() == []
    with pytest.raises(ValueError, match="n_memories"):
        bench_retrieval(store, n_memories=0, n_queries=1)
