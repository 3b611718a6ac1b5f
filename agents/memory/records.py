"""One memory as every memory module sees it: its kinds and the record model. A leaf, so the stream (storage)
and retrieval (scoring) both build on it without importing each other's modules the wrong way round."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

MemoryKind = Literal["observation", "thought", "plan", "chat", "reflection"]
MEMORY_KINDS: frozenset[str] = frozenset(get_args(MemoryKind))


class MemoryRecord(BaseModel):
    """One memory. ``created``/``last_accessed`` are game times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    agent: str
    kind: MemoryKind
    text: str = Field(min_length=1, max_length=2000)
    created: datetime
    last_accessed: datetime
    importance: int = Field(ge=1, le=10)
    evidence: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    private: bool = False  # kept to oneself: never offered as something to tell (a persona's private memory, or
    # a reflection citing one)
