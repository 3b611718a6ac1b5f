"""ReAct tools: typed, documented functions an agent may call while deciding how to do a task.

Each tool is a plain function whose first parameter is the :class:`~agents.context.MindContext`;
the remaining parameters, their type hints and the docstring's first line *are* the tool's
description shown to the model (see :func:`describe_tools`). Arguments from the model are
validated with a pydantic model built from the signature before the tool runs.

Two families:

- **terminal** tools (``move_to``, ``use_object``, ``talk_to``, ``wait``) return an
  :class:`~town.world.protocol.Action` and end the ReAct loop;
- **observation** tools (``look_around``, ``recall``, ``town_directory``, ``check_time``)
  return a short string fed back to the model as the next Observation.

A tool raises :class:`ToolError` for bad input coming from the model (an unknown address, a
name that is not in town); the loop turns it into an Observation. Anything else raised is
our bug and propagates.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from rank_bm25 import BM25Plus

from agents.context import MindContext
from town.world.protocol import Action, PlaceInfo

MAX_OBSERVATION_CHARS = 600
RECALL_K = 5
DIRECTORY_K = 4

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class ToolError(Exception):
    """The model asked for something impossible (bad address, unknown person): fed back as an Observation."""


@dataclass(frozen=True)
class Tool:
    """One registered tool: the function, its argument model and whether it ends the loop."""

    name: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]
    terminal: bool
    signature: str
    summary: str

    def describe(self) -> str:
        """One line for the prompt: ``name(arg: type) - summary``."""
        return f"{self.signature} - {self.summary}"

    def run(self, ctx: MindContext, args: dict[str, Any]) -> Action | str:
        """Validate ``args`` against the signature, then call the tool.

        Raises :class:`ToolError` when the arguments do not fit (the model's mistake).
        """
        try:
            parsed = self.args_model.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors()[:3])
            raise ToolError(f"bad arguments for {self.signature}: {problems}") from exc
        return self.fn(ctx, **dict(parsed))


TOOLS: dict[str, Tool] = {}


def _type_name(annotation: Any) -> str:
    """Readable type for the prompt: ``Annotated[str, ...]`` -> ``str``."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return getattr(annotation, "__name__", str(annotation))


def tool(*, terminal: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a tool; its signature (minus ``ctx``) and docstring describe it."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        params = list(sig.parameters.values())
        if not params or params[0].name != "ctx":
            raise TypeError(f"tool {fn.__name__} must take ctx as its first parameter")
        fields: dict[str, Any] = {}
        shown: list[str] = []
        for p in params[1:]:
            if p.annotation is inspect.Parameter.empty:
                raise TypeError(f"tool {fn.__name__}: parameter {p.name} needs a type hint")
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (p.annotation, default)
            shown.append(f"{p.name}: {_type_name(p.annotation)}")
        doc = inspect.getdoc(fn)
        if not doc:
            raise TypeError(f"tool {fn.__name__} needs a docstring: it is the tool's description")
        model = create_model(f"{fn.__name__}_args", __config__=ConfigDict(extra="forbid"), **fields)
        TOOLS[fn.__name__] = Tool(
            name=fn.__name__,
            fn=fn,
            args_model=model,
            terminal=terminal,
            signature=f"{fn.__name__}({', '.join(shown)})",
            summary=doc.split("\n\n")[0].replace("\n", " "),
        )
        return fn

    return register


def describe_tools() -> str:
    """All tools, one per line, as shown to the model."""
    return "\n".join(t.describe() for t in TOOLS.values())


def _clip(text: str) -> str:
    return text if len(text) <= MAX_OBSERVATION_CHARS else text[: MAX_OBSERVATION_CHARS - 3] + "..."


def _place_to_enter(ctx: MindContext, address: str) -> tuple[str, PlaceInfo]:
    """The address to use and its place, if it exists and this agent may go there (else a ToolError saying why).

    With ``[mind] react_short_addresses`` a short name that ends one known address stands for it."""
    place = ctx.world.place(address)
    if place is None and ctx.settings.react_short_addresses:
        place = _by_short_name(ctx, address)
        if place is not None:
            ctx.count("react_short_addresses")
            address = place.address
    if place is None:
        raise _unknown_place(ctx, address)
    if not ctx.may_enter(address):
        raise ToolError(f"{address!r} is someone else's home or room: you do not go in there uninvited")
    return address, place


def arena_of(address: str) -> str:
    """``sector:arena`` of an address (of an object, an agent or an arena), lower case; empty outdoors."""
    return ":".join(address.lower().split(":")[:2])


def _by_short_name(ctx: MindContext, name: str) -> PlaceInfo | None:
    """The one known place whose address ``name`` ends ('cafe table 1' for 'Hobbs Cafe:cafe:cafe table 1'); of
    several, the one in an arena where the agent sees something now; None when none or more than one fit."""
    tail = ":" + name.strip().lower()
    if tail == ":":
        return None
    hits = [p for p in ctx.world.places() if p.address.lower().endswith(tail)]
    if len(hits) > 1:
        near = {arena_of(e.address) for e in ctx.world.look_around(ctx.name)}
        hits = [h for h in hits if arena_of(h.address) in near]
    return hits[0] if len(hits) == 1 else None


def _unknown_place(ctx: MindContext, address: str) -> ToolError:
    """A ToolError naming the closest known addresses, so a small model can correct itself."""
    hits = search_directory(ctx, address.replace(":", " "), k=3, include_news=False)
    hint = "; ".join(h.address for h in hits if h.address) or "use town_directory to find one"
    return ToolError(f"unknown address {address!r}. Closest known: {hint}")


# -- terminal tools ---------------------------------------------------------------------------


@tool(terminal=True)
def move_to(ctx: MindContext, address: ShortText) -> Action:
    """Walk to a place given as 'Sector', 'Sector:arena' or 'Sector:arena:object'."""
    address, _ = _place_to_enter(ctx, address)
    return Action(agent=ctx.name, kind="move_to", target=address)


@tool(terminal=True)
def use_object(ctx: MindContext, address: ShortText, state: Annotated[str, Field(min_length=1, max_length=80)]) -> Action:
    """Use an object ('Sector:arena:object') and set its state, e.g. 'brewing coffee'."""
    address, place = _place_to_enter(ctx, address)
    if place.kind != "object":
        objects = ", ".join(place.objects[:6]) or "none"
        raise ToolError(f"{address!r} is a {place.kind}, not an object; its objects: {objects}")
    return Action(agent=ctx.name, kind="use_object", target=address, object_state=state)


@tool(terminal=True)
def talk_to(ctx: MindContext, name: ShortText, opening_line: Annotated[str, Field(min_length=1, max_length=300)]) -> Action:
    """Start a conversation with a person in town, saying opening_line."""
    names = ctx.world.agent_names()
    match = next((n for n in names if n.lower() == name.strip().lower()), None)
    if match is None or match == ctx.name:
        others = ", ".join(n for n in names if n != ctx.name)
        raise ToolError(f"{name!r} is not someone you can talk to; people in town: {others}")
    return Action(agent=ctx.name, kind="talk", target=match, utterance=opening_line)


@tool(terminal=True)
def wait(ctx: MindContext, minutes: Annotated[int, Field(ge=1, le=240)]) -> Action:
    """Stay where you are for some minutes (1-240), e.g. until a place opens."""
    return Action(agent=ctx.name, kind="wait", duration_min=minutes)


# -- observation tools ------------------------------------------------------------------------


@tool(terminal=False)
def look_around(ctx: MindContext) -> str:
    """See who and what is near you right now."""
    seen = ctx.world.look_around(ctx.name)
    if not seen:
        return "Nothing notable nearby."
    return _clip("; ".join(f"{e.description} (at {e.address})" for e in sorted(seen, key=lambda e: e.distance)))


@tool(terminal=False)
def recall(ctx: MindContext, query: ShortText) -> str:
    """Search your memories for query."""
    hits = ctx.memory.retrieve(query, now=ctx.now(), k=RECALL_K)
    if not hits:
        return "You remember nothing about that."
    return _clip("; ".join(h.record.text for h in hits))


@tool(terminal=False)
def town_directory(ctx: MindContext, query: ShortText) -> str:
    """Search the town directory (places, objects, opening hours, news board) for query."""
    hits = search_directory(ctx, query, k=DIRECTORY_K)
    if not hits:
        return "No directory entry matches. Try other words."
    return _clip("; ".join(h.text for h in hits))


@tool(terminal=False)
def check_time(ctx: MindContext) -> str:
    """Tell the current time and weekday."""
    return ctx.now().strftime("%A %B %d, %H:%M")


# -- the town directory -----------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the of to in on at for and or is are be with my me i where what when who".split())


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, naive plural folding ('cafes' -> 'cafe')."""
    out = []
    for w in _WORD.findall(text.lower()):
        if w in _STOP:
            continue
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


@dataclass(frozen=True)
class DirectoryEntry:
    """One searchable line of the town directory; ``address`` is empty for news items."""

    address: str
    text: str


def directory_entries(places: list[PlaceInfo], news: list[str]) -> list[DirectoryEntry]:
    """Build the directory from the world's places and news board."""
    entries = []
    for p in places:
        parts = []
        if p.description:
            parts.append(p.description)
        if p.opening_hours:
            parts.append(f"open {p.opening_hours}")
        if p.objects:
            parts.append("has " + ", ".join(p.objects))
        if p.state:
            parts.append(f"now {p.state}")
        head = f"{p.address} ({p.kind})"
        entries.append(DirectoryEntry(p.address, f"{head}: {'; '.join(parts)}" if parts else head))
    entries.extend(DirectoryEntry("", f"news: {item}") for item in news)
    return entries


def search_directory(ctx: MindContext, query: str, *, k: int = DIRECTORY_K, include_news: bool = True) -> list[DirectoryEntry]:
    """BM25 search over the directory; only entries sharing a word with the query are returned."""
    entries = directory_entries(ctx.world.places(), ctx.world.news() if include_news else [])
    q = tokenize(query)
    if not entries or not q:
        return []
    docs = [tokenize(e.text) for e in entries]
    scores = BM25Plus(docs).get_scores(q)
    qset = set(q)
    ranked = sorted(
        (i for i, d in enumerate(docs) if qset.intersection(d)),
        key=lambda i: (-scores[i], len(entries[i].text)),
    )
    return [entries[i] for i in ranked[:k]]
