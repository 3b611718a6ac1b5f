"""Memory retrieval: Smallville scoring plus a keyword (BM25) route.

A query gathers candidates from two routes over one agent's stream:

- the vector route: the ``candidates`` nearest memories by cosine similarity (chroma);
- the keyword route: the ``candidates`` best memories by BM25 over the memory texts.

Every candidate of the union gets four raw signals: recency (``decay_per_hour ** hours``
since it was last accessed, in game time), importance (``importance / 10``), relevance
(cosine similarity to the query) and keyword (BM25 score). Each signal is min-max
normalised over the candidate set and the score is their weighted sum, as in
Park et al. (2023) with BM25 as a fourth term.

The maths (:func:`min_max`, :func:`recency`, :func:`score_candidates`) is pure and works
without chroma; :func:`retrieve` is the glue that MemoryStream.retrieve calls.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agents.memory.stream import MemoryRecord

if TYPE_CHECKING:
    from agents.memory.stream import MemoryStore, MemoryStream


class RetrievalWeights(BaseModel):
    """Weights of the four retrieval signals and the recency decay."""

    model_config = ConfigDict(extra="forbid")

    recency: float = Field(1.0, ge=0)
    importance: float = Field(1.0, ge=0)
    relevance: float = Field(1.0, ge=0)
    keyword: float = Field(0.5, ge=0)
    decay_per_hour: float = Field(0.9, gt=0, le=1, description="recency = decay_per_hour ** game hours since last access")
    candidates: int = Field(50, ge=1, le=10_000, description="top-N taken from each route before scoring")


class ScoredMemory(BaseModel):
    """One retrieved memory with its score and the normalised (0..1) components of the score."""

    record: MemoryRecord
    score: float
    recency: float
    importance: float
    relevance: float
    keyword: float
    cosine: float = Field(description="raw cosine similarity between the query and the memory")


@dataclass(frozen=True)
class Candidate:
    """A memory with its raw query signals, before scoring."""

    record: MemoryRecord
    cosine: float
    bm25: float


def min_max(values: Sequence[float]) -> list[float]:
    """Scale ``values`` to [0, 1]. When all values are equal (one value included) each becomes 0.5."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:
        return [0.5] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


def recency(last_accessed: datetime, now: datetime, decay_per_hour: float) -> float:
    """``decay_per_hour ** hours`` since ``last_accessed`` (game time). Raises if ``now`` is earlier."""
    hours = (now - last_accessed) / timedelta(hours=1)
    if hours < 0:
        raise ValueError(f"retrieval time {now.isoformat()} is before last access {last_accessed.isoformat()}")
    return decay_per_hour**hours


def score_candidates(candidates: Sequence[Candidate], now: datetime, weights: RetrievalWeights) -> list[ScoredMemory]:
    """Score candidates and return them best first (ties: newer first, then by id)."""
    rec = min_max([recency(c.record.last_accessed, now, weights.decay_per_hour) for c in candidates])
    imp = min_max([c.record.importance / 10 for c in candidates])
    rel = min_max([c.cosine for c in candidates])
    kw = min_max([c.bm25 for c in candidates])
    scored = [
        ScoredMemory(
            record=c.record,
            score=weights.recency * rec[i]
            + weights.importance * imp[i]
            + weights.relevance * rel[i]
            + weights.keyword * kw[i],
            recency=rec[i],
            importance=imp[i],
            relevance=rel[i],
            keyword=kw[i],
            cosine=c.cosine,
        )
        for i, c in enumerate(candidates)
    ]
    scored.sort(key=lambda s: s.record.id)
    scored.sort(key=lambda s: s.record.created, reverse=True)
    scored.sort(key=lambda s: s.score, reverse=True)
    return scored


def retrieve(
    stream: MemoryStream,
    query: str,
    *,
    now: datetime,
    k: int,
    kinds: set[str] | None,
    weights: RetrievalWeights,
    touch: bool,
) -> list[ScoredMemory]:
    """Multi-route recall over one stream, then Smallville scoring; see the module docstring."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"retrieval query must be a non-empty string, got {query!r}")
    if k < 1:
        raise ValueError(f"retrieval k must be >= 1, got {k}")
    pool = stream.count(kinds)
    if pool == 0:
        return []
    n = min(weights.candidates, pool)
    qvec = stream.embed_query(query)
    vector = stream.vector_search(qvec, n, kinds)
    keyword = stream.keyword_scores(query, kinds)
    keyword_top = sorted(keyword, key=lambda i: (-keyword[i], i))[:n]
    ids = list(vector) + [i for i in keyword_top if i not in vector]
    missing = [i for i in ids if i not in vector]
    cosines = dict(vector)
    if missing:
        vectors = stream.embeddings(missing)
        cosines.update({i: float(np.dot(vectors[i], qvec)) for i in missing})
    records = stream.get(ids)
    candidates = [Candidate(record=r, cosine=cosines[r.id], bm25=keyword.get(r.id, 0.0)) for r in records]
    top = score_candidates(candidates, now, weights)[:k]
    if touch and top:
        touched = {r.id: r for r in stream.touch([s.record.id for s in top], now)}
        top = [s.model_copy(update={"record": touched[s.record.id]}) for s in top]
    return top


_PEOPLE = ["Isabella", "Klaus", "Maria", "Tom", "Ayesha", "Sam", "Carmen", "Wolfgang", "Jennifer", "Eddy"]
_ACTIVITIES = [
    "brewing coffee", "painting a mural", "reading about chemistry", "planning a party", "writing a poem",
    "playing guitar", "talking about the election", "cleaning the kitchen", "studying for an exam", "baking bread",
    "watering the garden", "repairing a bicycle", "discussing a research paper", "jogging in the park",
]
_PLACES = ["Hobbs Cafe", "the library", "Oak Hill College", "the park", "the pharmacy", "The Rose and Crown Pub", "home"]


def _synthetic_memory(rng: random.Random, i: int, start: datetime) -> dict[str, Any]:
    text = f"{rng.choice(_PEOPLE)} is {rng.choice(_ACTIVITIES)} at {rng.choice(_PLACES)} (note {i})"
    return {
        "kind": rng.choice(["observation", "observation", "observation", "thought", "chat"]),
        "text": text,
        "created": start + timedelta(minutes=10 * i),
        "importance": rng.randint(1, 10),
    }


def bench_retrieval(store: MemoryStore, n_memories: int, n_queries: int, *, batch: int = 500, seed: int = 0) -> dict[str, Any]:
    """Fill a fresh stream with ``n_memories`` synthetic memories (in batches), time ``n_queries`` retrievals.

    Returns insert time and rate (embedding included) and query p50/p95/mean in milliseconds.
    The bench stream is dropped afterwards.
    """
    if n_memories < 1 or n_queries < 1 or batch < 1:
        raise ValueError(f"bench_retrieval needs n_memories, n_queries, batch >= 1, got {n_memories}, {n_queries}, {batch}")
    rng = random.Random(seed)
    agent = f"bench_{n_memories}_{time.time_ns()}"
    stream = store.stream(agent)
    if stream.count() != 0:
        raise RuntimeError(f"bench stream {agent!r} is not empty")
    start = datetime(2023, 2, 13, 6, 0)
    try:
        t0 = time.perf_counter()
        for lo in range(0, n_memories, batch):
            stream.add_many([_synthetic_memory(rng, i, start) for i in range(lo, min(lo + batch, n_memories))])
        insert_s = time.perf_counter() - t0
        now = start + timedelta(minutes=10 * n_memories)
        latencies = []
        for _ in range(n_queries):
            query = f"What do I know about {rng.choice(_PEOPLE)} {rng.choice(_ACTIVITIES)}?"
            q0 = time.perf_counter()
            stream.retrieve(query, now=now, touch=False)
            latencies.append((time.perf_counter() - q0) * 1000)
    finally:
        store.drop(agent)
    latencies.sort()
    return {
        "backend": store.backend,
        "n_memories": n_memories,
        "n_queries": n_queries,
        "insert_s": round(insert_s, 3),
        "insert_per_s": round(n_memories / insert_s, 1),
        "query_p50_ms": round(statistics.median(latencies), 2),
        "query_p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2),
        "query_mean_ms": round(statistics.fmean(latencies), 2),
    }
