"""The retrieval benchmark (``town bench``): fill a throwaway stream with synthetic memories and time queries."""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from agents.memory.stream import MemoryStore

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
