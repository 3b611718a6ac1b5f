"""SQLite response cache: the same request (model, messages, format, temperature, max tokens, seed) gets the same answer.

This is what makes runs reproducible: with the same seed and the same cache file, every LLM call of a
second run is answered from here, with the original answer and token counts (``cached=True`` says none
were spent). One connection guarded by a lock, WAL journal, so threads and coroutines may share it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .base import ChatModel, ChatRequest, Messages, RawCompletion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    content TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(
    model: str,
    messages: Messages,
    response_format: dict[str, Any] | None,
    temperature: float,
    max_tokens: int,
    seed: int | None,
) -> str:
    """sha256 over a canonical JSON of everything that shapes the answer."""
    blob = json.dumps(
        {
            "model": model,
            "messages": messages,
            "response_format": response_format,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "seed": seed,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Answers by request key, in one SQLite file. Counts hits and misses."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(f"LLM cache {self.path}: cannot open as SQLite: {exc}") from exc

    def get(self, key: str) -> RawCompletion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT model, content, prompt_tokens, completion_tokens FROM responses WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        model, content, ptok, ctok = row
        return RawCompletion(content=content, prompt_tokens=ptok, completion_tokens=ctok, model=model, cached=True)

    def put(self, key: str, raw: RawCompletion) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, content, prompt_tokens, completion_tokens, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, raw.model, raw.content, raw.prompt_tokens, raw.completion_tokens, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "entries": len(self)}

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedChat:
    """The cache layer: a seeded request already answered is served from ``cache``, anything else goes to ``inner``.

    Unseeded requests are never cached: a retry must reach the server, not the cached bad answer.
    """

    def __init__(self, inner: ChatModel, cache: ResponseCache) -> None:
        self.inner = inner
        self.cache = cache
        self.model_name = inner.model_name

    async def complete(self, request: ChatRequest) -> RawCompletion:
        if request.seed is None:
            return await self.inner.complete(request)
        key = request_key(self.model_name, request.messages, request.response_format, request.temperature,
                          request.max_tokens, request.seed)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        raw = await self.inner.complete(request)
        self.cache.put(key, raw)
        return raw

    def stats(self) -> dict[str, Any]:
        return {**self.inner.stats(), "cache": self.cache.stats()}

    async def aclose(self) -> None:
        await self.inner.aclose()
        self.cache.close()
