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
without chroma; :func:`retrieve` is the glue that MemoryStream.retrieve calls, over the
stream's search routes (:class:`Searchable`), so this module never imports the stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agents.memory.records import MemoryRecord


class Searchable(Protocol):
    """What :func:`retrieve` needs from a memory stream (``agents.memory.stream.MemoryStream`` is one)."""

    def count(self, kinds: set[str] | None = None) -> int: ...
    def embed_query(self, query: str) -> np.ndarray: ...
    def vector_search(self, qvec: np.ndarray, n: int, kinds: set[str] | None) -> dict[str, float]: ...
    def keyword_scores(self, query: str, kinds: set[str] | None) -> dict[str, float]: ...
    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def get(self, ids: Sequence[str]) -> list[MemoryRecord]: ...
    def touch(self, ids: Sequence[str], now: datetime) -> list[MemoryRecord]: ...


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
    stream: Searchable,
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
