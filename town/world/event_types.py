"""The event vocabulary: one pydantic model per event type, for the ``data`` of a logged :class:`Event`.

The world and engine write these, the minds' notes add theirs; the viewer, replay, console and eval read
them through the same models. To add an event type: a payload model here, registered in ``PAYLOADS``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# v0.1 logs carry no version; v0.2 writes ``schema_version`` in ``run_start``. Same event shapes in both; fields
# added since are optional (an older log reads them as None), which needs no new version.
SCHEMA_VERSION = "0.2"
READABLE_VERSIONS = frozenset({"0.1", SCHEMA_VERSION})


class Payload(BaseModel):
    """An event's ``data``. Extra fields are kept (a note may carry more than its model names)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    @cached_property
    def logged(self) -> dict[str, Any]:
        """The fields as logged: on-disk names (``from``), JSON values, defaults that were not logged left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    # dict-style reads for callers not yet moved to attributes (the report)
    def __getitem__(self, key: str) -> Any:
        return self.logged[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.logged.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.logged


# -- written by the world and the engine --------------------------------------------------------------------
class RunStart(Payload):
    seed: int
    map: str
    scenario: str
    agents: list[str]
    seconds_per_tick: int
    start: str  # iso game time
    schema_version: str | None = None  # absent in v0.1 logs


class Tick(Payload):
    pass


class AgentSnapshot(Payload):
    tile: tuple[int, int]
    address: str | None = None
    activity: str = ""
    emoji: str = ""
    conversation: str | None = None


class Agents(Payload):
    states: dict[str, AgentSnapshot]


class Move(Payload):
    from_: tuple[int, int] = Field(alias="from")
    to: tuple[int, int]
    destination: str | None = None


class ActionTaken(Payload):
    kind: str
    description: str = ""
    emoji: str = ""
    target: str | None = None
    duration_min: int | None = None


class Chat(Payload):
    conversation: str
    speaker: str
    listeners: list[str] = Field(default_factory=list)
    text: str = ""


class SpokenLine(Payload):
    speaker: str
    text: str


class ConversationEnd(Payload):
    conversation: str
    participants: list[str]
    ended_by: str | None = None
    reason: str = ""
    lines: list[SpokenLine] = Field(default_factory=list)


class ObjectState(Payload):
    address: str
    state: str
    by: str | None = None


class WorldEventPayload(Payload):
    description: str
    address: str | None = None


class Whisper(Payload):
    text: str


class InvalidAction(Payload):
    reason: str
    action: dict[str, Any] = Field(default_factory=dict)


class RunEnd(Payload):
    summary: dict[str, Any] = Field(default_factory=dict)


# -- the minds' notes (fields vary by step and by fallback, so all are optional) -----------------------------
class PlanNote(Payload):
    day: str | None = None
    wake_hour: int | None = None
    bed_hour: int | None = None
    items: list[Any] | None = None
    reasoning: str | None = None
    replan: bool = False
    event: str | None = None
    new_activity: str | None = None
    tasks: list[dict[str, Any]] | None = None
    fallback: bool = False


class ScheduleNote(Payload):
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    fallback: bool = False


class DecomposeNote(Payload):
    activity: str | None = None
    minutes: int | None = None
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    fallback: bool = False


class PlanCacheHit(Payload):
    activity: str | None = None
    minutes: int | None = None


class PlaceRuleNote(Payload):
    activity: str | None = None
    address: str | None = None


class ReflectionNote(Payload):
    question: str | None = None
    insight: str | None = None
    evidence: list[Any] | None = None
    id: str | None = None


class ImportanceNote(Payload):
    rule: bool | None = None
    importance: int | None = None
    memories: list[Any] | None = None
    fallback: bool | None = None
    ids: list[str] | None = None
    scores: list[int] | None = None


class ReactNote(Payload):
    other: str | None = None
    decision: str | None = None
    reasoning: str | None = None
    new_activity: str | None = None


class ToolNote(Payload):
    tool: str | None = None
    args: Any = None
    observation: Any = None
    thought: str | None = None


class LLMCall(Payload):
    step: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    latency_s: float | None = None
    attempts: int | None = None
    fallback: bool = False
    # the server's own figures (llama.cpp timings; vLLM/OpenAI give server_cache_n only): logged only when
    # given, so a log without them (v0.1, v0.2 before these fields, a cached answer) reads as None
    server_prompt_n: int | None = None
    server_cache_n: int | None = None
    server_prompt_ms: float | None = None
    server_gen_n: int | None = None
    server_gen_ms: float | None = None
    ended_at: float | None = None  # unix seconds the answer arrived
    server_draft_n: int | None = None  # speculative decoding: tokens drafted, and accepted
    server_draft_accepted: int | None = None


class FallbackNote(Payload):
    step: str | None = None
    reason: str | None = None


class MemoryNote(Payload):
    memory_kind: str | None = None
    text: str | None = None
    id: str | None = None
    importance: int | None = None
    source: str | None = None


class ConversationSummary(Payload):
    conversation: str | None = None
    partners: list[str] | None = None
    summary: str | None = None
    events: list[Any] | None = None
    relationship: Any = None


PAYLOADS: dict[str, type[Payload]] = {
    "run_start": RunStart,
    "tick": Tick,
    "agents": Agents,
    "move": Move,
    "action": ActionTaken,
    "chat": Chat,
    "conversation_end": ConversationEnd,
    "object_state": ObjectState,
    "world_event": WorldEventPayload,
    "whisper": Whisper,
    "invalid_action": InvalidAction,
    "run_end": RunEnd,
    "plan": PlanNote,
    "schedule": ScheduleNote,
    "decompose": DecomposeNote,
    "plan_cache_hit": PlanCacheHit,
    "place_rule": PlaceRuleNote,
    "reflection": ReflectionNote,
    "importance": ImportanceNote,
    "react": ReactNote,
    "tool": ToolNote,
    "llm_call": LLMCall,
    "fallback": FallbackNote,
    "memory": MemoryNote,
    "conversation_summary": ConversationSummary,
}
