"""Turning a planned task into one Action: a short ReAct loop (Thought / Action / Observation) over tools.

The real model is small and slow, so the loop runs only where a choice is to be made:

1. **walk** - not yet at the task's (known) address and no other person named in the task: ``move_to``
   it, no model call; counted ``react_skipped_move``. The mind calls again on arrival.
2. **settle** - at the task's address and nothing to choose (an object address: ``use_object`` it; an
   arena without objects: ``wait`` there doing the task); counted ``react_skipped``.
3. **object by name** - in an arena with objects, a task that names exactly one of them best ("practising
   the piano" and ``piano``; setting ``[mind] object_rules``) uses it, no model call; counted
   ``react_skipped_object``.
4. **cache** - the terminal action chosen earlier for the same (persona, normalised task) is
   reused when its target still exists; counted ``react_cache_hits``.
5. **pick** - with ``[mind] object_pick``, at the task's place among objects and naming no one: one short
   call (``act_pick``, an :class:`~agents.schemas.ObjectPick`: one of the room's objects by name, or "none"
   to do the task in the room) instead of the loop; counted ``react_picked``, noted as a ``pick_object`` tool.
6. **loop** - in an arena with objects, or for a task naming someone: up to
   ``ctx.settings.react_max_steps`` model answers, each an :class:`ActStep` ``{thought, tool, args}``
   (its schema names the tools and their argument shapes, so schema-constrained servers decode only
   well-formed calls). An observation tool's result (or the error for bad arguments or a refused
   request) is fed back into the next prompt; a terminal tool ends the loop. The last step's schema
   admits only terminal tools (:class:`FinalActStep`); an observation call made twice (its answer is
   already in the prompt) makes the next step the last one (counted ``react_repeats_forced``); a refused
   call made twice ends the loop. Every tool call is noted (``tool``). When the model gives no valid
   answer or repeats a refused call, a fallback action is returned, noted (``fallback``) and counted
   (``react_fallbacks``). With ``[mind] react_look_first`` the loop starts with look_around's answer
   already in the prompt, no call.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from agents.context import MindContext, ask
from agents.step_registry import register_step
from agents.schemas import NO_OBJECT, PlannedTask, ReActStep, pick_schema
from agents.tools import TOOLS, ToolError, describe_tools
from town.world.protocol import Action, Observation

STEP = "act_react"
PICK_STEP = "act_pick"
CACHEABLE_KINDS = frozenset({"move_to", "use_object"})

register_step(STEP, {"task", "obs", "tools", "scratchpad", "last_step", "objects"})
register_step(PICK_STEP, {"task", "obs", "objects"})


def _args_schema(tool: str) -> dict[str, Any]:
    """JSON schema of one tool's argument object, untitled."""
    js = TOOLS[tool].args_model.model_json_schema()
    js.pop("title", None)
    return js


def _args_json_schema() -> dict[str, Any]:
    """JSON schema of ``args``: one of the registered tools' argument objects (identical shapes once)."""
    variants: dict[str, dict[str, Any]] = {}
    for name in TOOLS:
        js = _args_schema(name)
        variants.setdefault(json.dumps(js, sort_keys=True), js)
    return {"anyOf": list(variants.values())}


class ActStep(ReActStep):
    """One ReAct step: a thought, a tool with its arguments, and an emoji for the viewer."""

    # The docstring above is part of the JSON schema (prompt text in json_object mode): keep it short.
    # The tool is one of the registered tools (validated). ``args`` is sent to the server as one of the
    # tools' argument objects, so a server with schema-constrained decoding (llama.cpp, vLLM) cannot emit
    # a dict keyed by an address or an argument no tool takes; arguments that fit another tool than the
    # one named are that tool's ToolError, fed back as an observation.
    tool: Literal[tuple(TOOLS)] = Field(description="one of the tools")  # type: ignore[valid-type]
    args: Annotated[dict[str, Any], WithJsonSchema(_args_json_schema())] = Field(default_factory=dict, max_length=4)
    emoji: str = Field(default="", max_length=8)


class FinalActStep(ActStep):
    """The last ReAct step: a thought, a tool that acts, its arguments, and an emoji for the viewer."""

    tool: Literal[tuple(n for n, t in TOOLS.items() if t.terminal)] = Field(  # type: ignore[valid-type]
        description="one of the tools that act")


def _per_tool(tools: tuple[str, ...]) -> Any:
    """A ``json_schema_extra`` that makes the answer schema one object shape per tool (a union on ``tool``).

    ``{"tool": "look_around", "args": {"query": ...}}`` fits :class:`ActStep`'s schema, whose ``args`` is any
    tool's argument object: the server decodes it and the tool refuses it (a wasted call). Here each shape pairs
    a ``tool`` constant with that tool's own argument object, so a schema-constrained server (llama.cpp, vLLM)
    decodes only calls that fit, and a json_object server sees which arguments go with which tool.
    """
    def edit(schema: dict[str, Any]) -> None:
        props = schema["properties"]
        shapes = []
        for name in tools:
            shapes.append({
                "type": "object",
                "properties": {"thought": props["thought"], "tool": {"const": name}, "args": _args_schema(name),
                               "emoji": props["emoji"]},
                "required": ["thought", "tool", "args"],
                "additionalProperties": False,
            })
        description = schema.get("description", "")
        schema.clear()
        schema.update({"description": description, "anyOf": shapes})
    return edit


class ToolActStep(ActStep):
    """One ReAct step: a thought, a tool with its arguments, and an emoji for the viewer."""

    # [mind] react_per_tool_schema: the same answer, sent to the server as one shape per tool (see _per_tool)
    model_config = ConfigDict(json_schema_extra=_per_tool(tuple(TOOLS)))


class FinalToolActStep(FinalActStep):
    """The last ReAct step: a thought, a tool that acts, its arguments, and an emoji for the viewer."""

    model_config = ConfigDict(json_schema_extra=_per_tool(tuple(n for n, t in TOOLS.items() if t.terminal)))


def _step_schema(ctx: MindContext, last: bool) -> type[ActStep]:
    """The answer schema of a ReAct step: the last one admits only terminal tools."""
    if ctx.settings.react_per_tool_schema:
        return FinalToolActStep if last else ToolActStep
    return FinalActStep if last else ActStep


def normalise_task(text: str) -> str:
    """Lower-case words only, so 'Brewing coffee.' and 'brewing  coffee' share a cache entry."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def at_address(current: str, target: str) -> bool:
    """Whether an agent at arena address ``current`` is at ``target`` (a sector, arena or object address)."""
    cur, tgt = current.lower(), target.lower()
    if not cur or not tgt:
        return False
    return cur == tgt or tgt.startswith(cur + ":") or cur.startswith(tgt + ":")


def mentions_someone(ctx: MindContext, text: str) -> bool:
    """Whether ``text`` names another agent (full or first name): such a task may need ``talk_to``."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    for name in ctx.world.agent_names():
        if name == ctx.name:
            continue
        if name.lower() in text.lower() or name.split()[0].lower() in words:
            return True
    return False


def _finish(task: PlannedTask, action: Action, emoji: str = "") -> Action:
    """Give a terminal action the task's description and duration (a wait keeps its own minutes)."""
    update: dict[str, Any] = {"description": task.description[:200]}
    if action.kind != "wait":
        update["duration_min"] = task.duration_min
    if emoji:
        update["emoji"] = emoji[:8]
    return action.model_copy(update=update)


def _objects_here(ctx: MindContext, obs: Observation) -> list[str]:
    """Object addresses in the arena the agent stands in."""
    place = ctx.world.place(obs.address) if obs.address else None
    if place is None or place.kind != "arena":
        return []
    return [f"{obs.address}:{o}" if not o.startswith(obs.address) else o for o in place.objects]


def _in_place_action(ctx: MindContext, task: PlannedTask, obs: Observation, *, allow_choice: bool = False) -> Action | None:
    """The obvious action when the agent is already at the task's (known) address, else None.

    With ``allow_choice`` an arena that has objects gives None too: there is a choice for the model.
    """
    if not at_address(obs.address, task.address):
        return None
    place = ctx.world.place(task.address)
    if place is None:
        return None
    if place.kind == "object":
        action = Action(agent=ctx.name, kind="use_object", target=task.address, object_state=task.description[:80])
    elif allow_choice and _objects_here(ctx, obs):
        return None
    else:  # the world's "continue" keeps the old activity; "wait" shows the task for its duration
        action = Action(agent=ctx.name, kind="wait", duration_min=task.duration_min)
    return _finish(task, action)


#: words that say nothing about which object a task needs
_STOPWORDS = frozenset("the a an and or of to in on at for with from my her his their some area room".split())


def _words(text: str) -> set[str]:
    """Content words, with a plural 's' dropped so 'books' meets 'book'."""
    out = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        if len(w) >= 3 and w not in _STOPWORDS:
            out.add(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return out


def object_by_name(task: PlannedTask, objects: list[str]) -> str | None:
    """The one object in ``objects`` whose name shares the most words with the task, if exactly one is best."""
    want = _words(task.description)
    scored = sorted(((len(want & _words(o.rsplit(":", 1)[-1])), o) for o in objects), reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _cache_key(ctx: MindContext, task: PlannedTask) -> str:
    return f"act:{ctx.name}:{normalise_task(task.description)}@{task.address.lower()}"


def _from_cache(ctx: MindContext, task: PlannedTask, key: str) -> Action | None:
    """The cached terminal action for this task if its target still exists; a stale entry is dropped."""
    entry = ctx.plan_cache.get(key)
    if entry is None:
        return None
    if ctx.world.place(entry["target"]) is None:
        del ctx.plan_cache[key]
        return None
    return _finish(task, Action(agent=ctx.name, **entry))


def _remember(ctx: MindContext, key: str, action: Action) -> Action:
    """``action``, kept in the plan cache for the same task when it names a place or an object."""
    if ctx.settings.plan_cache and action.kind in CACHEABLE_KINDS:
        ctx.plan_cache[key] = {"kind": action.kind, "target": action.target,
                               "object_state": action.object_state, "emoji": action.emoji}
    return action


def _fallback(ctx: MindContext, task: PlannedTask, obs: Observation, reason: str) -> Action:
    """Go to the task's address if it is a real place, else keep doing what we do; noted and counted."""
    ctx.note("fallback", step=STEP, agent=ctx.name, reason=reason, task=task.description)
    ctx.count("react_fallbacks")
    here = _in_place_action(ctx, task, obs)
    if here is not None:
        return here
    if ctx.world.place(task.address) is not None:
        return _finish(task, Action(agent=ctx.name, kind="move_to", target=task.address))
    return _finish(task, Action(agent=ctx.name, kind="continue"))


def _run_tool(ctx: MindContext, step: ReActStep) -> Action | str:
    """Run the step's tool (its name was validated); the model's mistakes come back as an observation string."""
    try:
        return TOOLS[step.tool].run(ctx, step.args)
    except ToolError as exc:
        return f"Error: {exc}"


def _looked_first(ctx: MindContext) -> list[dict[str, Any]]:
    """``[mind] react_look_first``: the scratchpad as if the model had called look_around, without the call; its
    own look_around is then a repeat, which makes its next step the last."""
    ctx.count("react_looked_first")
    seen = TOOLS["look_around"].run(ctx, {})
    return [{"thought": "First I look around.", "tool": "look_around", "args": {}, "observation": seen}]


def walk_back(ctx: MindContext, task: PlannedTask, obs: Observation) -> Action | None:
    """``move_to`` the task's known place when away from it, no model call: the walk rule of :func:`choose_action`,
    and the way back after a conversation took the agent elsewhere."""
    if at_address(obs.address, task.address) or ctx.world.place(task.address) is None:
        return None
    ctx.count("react_skipped_move")
    return _finish(task, Action(agent=ctx.name, kind="move_to", target=task.address))


def _by_rule(ctx: MindContext, task: PlannedTask, obs: Observation) -> Action | None:
    """The walk, settle and object-by-name rules (1-3 of the module doc): an Action without a call, or None."""
    if mentions_someone(ctx, task.description):
        return None
    walk = walk_back(ctx, task, obs)
    if walk is not None:
        return walk
    here = _in_place_action(ctx, task, obs, allow_choice=True)
    if here is not None:
        ctx.count("react_skipped")
        return here
    named = object_by_name(task, _objects_here(ctx, obs)) if ctx.settings.object_rules and \
        at_address(obs.address, task.address) else None
    if named is not None:
        ctx.count("react_skipped_object")
        return _finish(task, Action(agent=ctx.name, kind="use_object", target=named,
                                    object_state=task.description[:80]))
    return None


async def _pick_object(ctx: MindContext, task: PlannedTask, obs: Observation) -> Action | None:
    """``[mind] object_pick``: at the task's place, among objects, a task naming no one is one call choosing the
    object it uses (or none: the task is done in the room), not the ReAct loop; None where that does not apply
    (a map whose object names repeat, or one named "none", keeps the loop)."""
    objects = _objects_here(ctx, obs)
    if not objects or not at_address(obs.address, task.address) or mentions_someone(ctx, task.description):
        return None
    names = tuple(o.rsplit(":", 1)[-1] for o in objects)
    if len(set(names)) != len(names) or NO_OBJECT in names:
        return None
    no_answer = object()
    pick = await ask(ctx, PICK_STEP, fallback=no_answer, schema=pick_schema(names), task=task, obs=obs, objects=names)
    if pick is no_answer:
        return _fallback(ctx, task, obs, "the model gave no valid object pick")
    ctx.count("react_picked")
    if pick.object == NO_OBJECT:
        action = Action(agent=ctx.name, kind="wait", duration_min=task.duration_min)
    else:
        action = Action(agent=ctx.name, kind="use_object", target=objects[names.index(pick.object)],
                        object_state=task.description[:80])
    ctx.note("tool", tool="pick_object", args={"object": pick.object}, observation=f"-> {action.kind} "
             f"{action.target or ''}".strip())
    return _finish(task, action, pick.emoji)


async def choose_action(ctx: MindContext, task: PlannedTask, obs: Observation) -> Action:
    """Decide the Action that carries out ``task`` now (skip, cache, or ReAct loop; see module doc)."""
    ruled = _by_rule(ctx, task, obs)
    if ruled is not None:
        return ruled
    key = _cache_key(ctx, task)
    if ctx.settings.plan_cache:
        cached = _from_cache(ctx, task, key)
        if cached is not None:
            ctx.count("react_cache_hits")
            return cached
    picked = await _pick_object(ctx, task, obs) if ctx.settings.object_pick else None
    if picked is not None:
        return _remember(ctx, key, picked)

    scratchpad = _looked_first(ctx) if ctx.settings.react_look_first else []
    max_steps = ctx.settings.react_max_steps
    forced = False  # the model repeated an observation call: the next step must act
    for i in range(max_steps):
        last = forced or i == max_steps - 1
        no_answer = ActStep.model_construct(thought="(no valid answer)", tool="wait", args={})  # a sentinel
        step = await ask(
            ctx,
            STEP,
            fallback=no_answer,
            schema=_step_schema(ctx, last),
            task=task,
            obs=obs,
            tools=describe_tools(),
            scratchpad=scratchpad,
            last_step=last,
            objects=_objects_here(ctx, obs),
        )
        if step is no_answer:
            return _fallback(ctx, task, obs, "the model gave no valid ReAct step")
        result = _run_tool(ctx, step)
        if isinstance(result, Action):
            ctx.note("tool", tool=step.tool, args=step.args, observation=f"-> {result.kind} {result.target or ''}".strip(),
                     thought=step.thought)
            return _remember(ctx, key, _finish(task, result, step.emoji))
        ctx.note("tool", tool=step.tool, args=step.args, observation=result, thought=step.thought)
        refused = result.startswith("Error")
        if any(p["tool"] == step.tool and p["args"] == step.args for p in scratchpad):  # nothing new to learn
            if refused:
                return _fallback(ctx, task, obs, f"the model repeated a refused call: {step.tool} {step.args}")
            ctx.count("react_repeats_forced")
            forced = True
            continue
        scratchpad.append({"thought": step.thought, "tool": step.tool, "args": step.args, "observation": result})
    return _fallback(ctx, task, obs, f"no accepted action within {max_steps} steps")
