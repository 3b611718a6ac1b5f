"""Pydantic models for every LLM answer, one per cognitive step, plus a registry by name.

Every string has a ``max_length`` and every list a ``max_length``: the JSON schema sent as the
response format bounds what a small model can emit, and validation rejects anything longer
(a retry, then the caller's logged fallback). Planning, reaction and reflection answers start
with a short ``reasoning`` field so the model thinks before it commits (cheap chain-of-thought).

Some steps need bounds that depend on the call (how many memories were numbered, which
addresses exist): :func:`importance_schema`, :func:`insights_schema` and
:func:`decomposition_schema` build cached subclasses carrying those bounds, so a bad answer is
a validation error (retry) and never a silent fix-up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator


Line = Annotated[str, Field(min_length=1, max_length=120)]
#: an event, plan or invitation mentioned in a conversation
Event = Annotated[str, Field(min_length=1, max_length=160)]
#: how much a memory matters (1 mundane .. 10 life-changing)
Importance = Annotated[int, Field(ge=1, le=10)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- planning -------------------------------------------------------------------------------------
class DailyPlan(_Answer):
    """Wake-up hour, bed hour and the day in broad strokes."""

    reasoning: str = Field(max_length=200)
    wake_hour: int = Field(ge=3, le=12)
    bed_hour: int = Field(ge=18, le=23)
    items: list[Line] = Field(min_length=3, max_length=8)


class ScheduleBlock(_Answer):
    start_hour: int = Field(ge=0, le=23)
    minutes: int = Field(ge=15, le=600)
    activity: str = Field(min_length=1, max_length=80)


class HourlySchedule(_Answer):
    """The day as blocks; a block lasts until the next one starts (the last one for ``minutes``)."""

    reasoning: str = Field(max_length=160)
    blocks: list[ScheduleBlock] = Field(min_length=1, max_length=10)


class PlannedTask(_Answer):
    """A 5-60 minute task at one place (an arena address ``Sector:arena``)."""

    description: str = Field(min_length=1, max_length=80)
    duration_min: int = Field(ge=5, le=60)
    address: str = Field(min_length=1, max_length=120)


class TaskDecomposition(_Answer):
    reasoning: str = Field(max_length=160)
    tasks: list[PlannedTask] = Field(min_length=1, max_length=6)


# -- perception -----------------------------------------------------------------------------------
class ImportanceScores(_Answer):
    """One poignancy score (1 mundane .. 10 life-changing) per numbered memory, in order."""

    scores: list[int] = Field(min_length=1, max_length=20)


# -- reflection -----------------------------------------------------------------------------------
class FocalQuestions(_Answer):
    questions: list[Line] = Field(min_length=1, max_length=5)


class Insight(_Answer):
    # a sentence, not a topic: small models otherwise answer "social justice"
    text: str = Field(min_length=24, max_length=200, description="one full sentence")
    evidence: list[int] = Field(min_length=1, max_length=8, description="numbers of the memories it rests on")


class Insights(_Answer):
    reasoning: str = Field(max_length=200)
    insights: list[Insight] = Field(min_length=1, max_length=5)


# -- reaction / conversation / acting (used by agents/react.py, converse.py, act.py) ---------------
class Reaction(_Answer):
    reasoning: str = Field(max_length=160)
    kind: Literal["ignore", "talk", "react"]
    target: str | None = Field(default=None, max_length=80, description="whom to talk to (kind=talk)")
    new_activity: str | None = Field(default=None, max_length=80, description="what to do instead (kind=react)")


class Utterance(_Answer):
    text: str = Field(min_length=1, max_length=300)
    end_conversation: bool = False


class ConversationSummary(_Answer):
    summary: str = Field(min_length=1, max_length=300)
    relationship: str = Field(default="", max_length=160, description="how I now feel about them")


class Feeling(_Answer):
    person: str = Field(min_length=1, max_length=60)
    feeling: str = Field(min_length=1, max_length=120, description="how this person now feels about the others")


class ConversationDigest(_Answer):
    """One conversation told once for everyone in it ([mind] shared_digest): what was said, the events,
    plans and invitations mentioned, how each person now feels, and how much it matters."""

    summary: str = Field(min_length=1, max_length=300)
    events: list[Event] = Field(default_factory=list, max_length=3)
    feelings: list[Feeling] = Field(default_factory=list, max_length=4)
    importance: Importance

    @field_validator("feelings")
    @classmethod
    def _one_each(cls, feelings: list[Feeling]) -> list[Feeling]:
        people = [f.person for f in feelings]
        if len(set(people)) != len(people):
            raise ValueError(f"one feeling per person, got {people}")
        return feelings


class ObjectPick(_Answer):
    """Which object of the room a task uses, or "none" ([mind] object_pick: one call instead of the ReAct loop)."""

    object: str = Field(min_length=1, max_length=60)
    emoji: str = Field(default="", max_length=8)


class PlacePick(_Answer):
    """Where an hour of the schedule is spent ([mind] hour_tasks: one task at one place, no decomposition)."""

    address: str = Field(min_length=1, max_length=120)


class ReActStep(_Answer):
    thought: str = Field(max_length=200)
    tool: str = Field(min_length=1, max_length=40)
    args: dict[str, Any] = Field(default_factory=dict, max_length=4)


class InterviewAnswer(_Answer):
    answer: str = Field(min_length=1, max_length=400)


class Judgement(_Answer):
    """A judge's yes/no ruling (does the answer state the fact? is the claim backed by the memories?)."""

    reason: str = Field(max_length=240)
    yes: bool


class PairJudgement(_Answer):
    """A judge's pick between two answers to the same interview question."""

    reason: str = Field(max_length=240)
    better: Literal["first", "second"]


SCHEMAS: dict[str, type[BaseModel]] = {
    cls.__name__: cls
    for cls in (
        DailyPlan,
        HourlySchedule,
        PlannedTask,
        TaskDecomposition,
        ImportanceScores,
        FocalQuestions,
        Insights,
        Reaction,
        Utterance,
        ConversationSummary,
        ConversationDigest,
        ReActStep,
        ObjectPick,
        PlacePick,
        InterviewAnswer,
        Judgement,
        PairJudgement,
    )
}


# -- call-specific bounds -------------------------------------------------------------------------
@lru_cache(maxsize=64)
def importance_schema(n: int) -> type[ImportanceScores]:
    """``ImportanceScores`` that must hold exactly ``n`` scores, each 1..10."""
    if not 1 <= n <= 20:
        raise ValueError(f"importance batch must be 1..20 memories, got {n}")
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"ImportanceScores{n}",
        __base__=ImportanceScores,
        scores=(list[Importance], Field(min_length=n, max_length=n)),  # type: ignore[valid-type]
    )


@lru_cache(maxsize=64)
def insights_schema(n_memories: int) -> type[Insights]:
    """``Insights`` whose evidence numbers must lie in 1..n_memories."""
    if n_memories < 1:
        raise ValueError("insights need at least one numbered memory")
    cited = create_model(
        f"Insight{n_memories}",
        __base__=Insight,
        evidence=(list[Annotated[int, Field(ge=1, le=n_memories)]], Field(min_length=1, max_length=8)),  # type: ignore[valid-type]
    )
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"Insights{n_memories}",
        __base__=Insights,
        insights=(list[cited], Field(min_length=1, max_length=5)),  # type: ignore[valid-type]
    )


@lru_cache(maxsize=256)
def decomposition_schema(addresses: tuple[str, ...], max_tasks: int = 6) -> type[TaskDecomposition]:
    """``TaskDecomposition`` of at most ``max_tasks`` tasks whose addresses must be one of ``addresses``."""
    if not addresses:
        raise ValueError("decomposition needs at least one address")
    addr_type = Literal[addresses]  # type: ignore[valid-type]
    task = create_model(f"PlannedTaskAt{len(addresses)}", __base__=PlannedTask, address=(addr_type, ...))
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"TaskDecompositionAt{len(addresses)}",
        __base__=TaskDecomposition,
        tasks=(list[task], Field(min_length=1, max_length=max_tasks)),  # type: ignore[valid-type]
    )


@lru_cache(maxsize=64)
def daily_plan_schema(wake: tuple[int, int], bed: tuple[int, int]) -> type[DailyPlan]:
    """``DailyPlan`` whose wake-up and bed hours lie in the given inclusive ranges (from the persona)."""
    if not (3 <= wake[0] <= wake[1] <= 12 and 18 <= bed[0] <= bed[1] <= 23):
        raise ValueError(f"wake range {wake} must lie in 3..12 and bed range {bed} in 18..23")
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"DailyPlanWake{wake[0]}to{wake[1]}Bed{bed[0]}to{bed[1]}",
        __base__=DailyPlan,
        wake_hour=(int, Field(ge=wake[0], le=wake[1])),
        bed_hour=(int, Field(ge=bed[0], le=bed[1])),
    )


@lru_cache(maxsize=64)
def schedule_schema(wake_hour: int, bed_hour: int) -> type[HourlySchedule]:
    """``HourlySchedule`` whose blocks start between ``wake_hour`` and ``bed_hour - 1``."""
    if not 0 <= wake_hour < bed_hour <= 24:
        raise ValueError(f"need 0 <= wake_hour < bed_hour <= 24, got {wake_hour}, {bed_hour}")
    block = create_model(
        f"ScheduleBlock{wake_hour}to{bed_hour}",
        __base__=ScheduleBlock,
        start_hour=(int, Field(ge=wake_hour, le=bed_hour - 1)),
    )
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"HourlySchedule{wake_hour}to{bed_hour}",
        __base__=HourlySchedule,
        blocks=(list[block], Field(min_length=1, max_length=10)),  # type: ignore[valid-type]
    )


@lru_cache(maxsize=64)
def digest_schema(participants: tuple[str, ...]) -> type[ConversationDigest]:
    """``ConversationDigest`` whose feelings name only ``participants``, at most one each."""
    if len(participants) < 2 or len(set(participants)) != len(participants):
        raise ValueError(f"a conversation needs two or more different people, got {participants}")
    person = Literal[participants]  # type: ignore[valid-type]
    feeling = create_model(f"FeelingOf{len(participants)}", __base__=Feeling, person=(person, ...))
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"ConversationDigestOf{len(participants)}",
        __base__=ConversationDigest,
        feelings=(list[feeling], Field(default_factory=list, max_length=len(participants))),  # type: ignore[valid-type]
    )


@lru_cache(maxsize=64)
def place_schema(addresses: tuple[str, ...]) -> type[PlacePick]:
    """``PlacePick`` whose address must be one of ``addresses`` (an enum the server decodes: a few tokens)."""
    if not addresses or len(set(addresses)) != len(addresses):
        raise ValueError(f"a place pick needs different addresses, got {addresses}")
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"PlacePickOf{len(addresses)}",
        __base__=PlacePick,
        address=(Literal[addresses], Field(description="one address from the list")),  # type: ignore[valid-type]
    )


#: what an object pick answers when the task needs none of the room's objects
NO_OBJECT = "none"


@lru_cache(maxsize=64)
def pick_schema(names: tuple[str, ...]) -> type[ObjectPick]:
    """``ObjectPick`` whose object is one of ``names`` (the room's objects by name) or ``"none"``."""
    if not names or len(set(names)) != len(names) or NO_OBJECT in names:
        raise ValueError(f"an object pick needs different object names, none of them {NO_OBJECT!r}, got {names}")
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"ObjectPickOf{len(names)}",
        __base__=ObjectPick,
        object=(Literal[(*names, NO_OBJECT)], Field(description="the object used, or none")),  # type: ignore[valid-type]
    )


# -- the reasoning lever ([mind] reasoning = false) ---------------------------------------------------
def _drop_reasoning(schema: dict[str, Any]) -> None:
    schema.get("properties", {}).pop("reasoning", None)
    required = [name for name in schema.get("required", []) if name != "reasoning"]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)


@lru_cache(maxsize=256)
def without_reasoning(schema: type[BaseModel]) -> type[BaseModel]:
    """``schema`` without its ``reasoning`` field: the model is not asked for it (its JSON schema has no such
    property, so a grammar-constrained server cannot emit it) and an answer carrying one is rejected.

    A subclass, so the call-specific bounds and validators of ``schema`` still hold and ``ask``'s
    subclass check passes; ``reasoning`` reads ``""`` on the parsed answer."""
    if "reasoning" not in schema.model_fields:
        raise ValueError(f"{schema.__name__} has no reasoning field")
    brief = create_model(  # type: ignore[call-overload]
        f"{schema.__name__}Brief",
        __base__=schema,
        reasoning=(str, Field(default="", max_length=0)),
    )
    brief.model_config["json_schema_extra"] = _drop_reasoning
    brief.model_rebuild(force=True)
    return brief  # type: ignore[no-any-return]
