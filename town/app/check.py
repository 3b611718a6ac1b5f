"""`town check SCENARIO`: validate a scenario, its map and the prompt templates without running anything.

Every problem is one line naming the file, the line or field; a town whose places cannot all be reached
from where its people start is a problem too (a sealed room, a door drawn as wall).
"""

from __future__ import annotations

from pathlib import Path

from town.world.maps import TownMap
from town.world.pathfinding import Pathfinder
from town.world.scenario import Scenario, ScenarioError, scenario_problems
from town.world.state import World


def unreachable(scenario: Scenario, town_map: TownMap) -> list[str]:
    """Places (arenas, objects) that nobody can walk to from the first person's start, and people who start apart."""
    world = World.create(town_map, scenario, seed=0)
    paths = Pathfinder(town_map)
    starts = {name: world.agents[name].tile for name in world.agent_names()}
    first, origin = next(iter(starts.items()))
    problems = [f"{town_map.path}: spawns: {name} starts at {tile}, which has no path to {first}'s start {origin}"
                for name, tile in starts.items() if not paths.reachable(origin, tile)]
    for layer, addresses in (("arenas", town_map.arenas), ("objects", town_map.objects)):
        for address in addresses:
            if not any(paths.reachable(origin, t) for t in paths.candidate_tiles(address)):
                problems.append(f"{town_map.path}: {layer}: {address!r} cannot be reached on foot from {first}'s "
                                f"start {origin} (a missing door?)")
    return problems


def check_town(ref: str | Path, prompts_dir: Path | None = None) -> tuple[list[str], str]:
    """(problems, summary): every problem in the scenario, its map and the templates; the summary when none."""
    from agents import check_prompts  # the minds' templates: checked here, never rendered

    try:
        scenario, town_map, problems = scenario_problems(ref)
    except ScenarioError as exc:  # no such scenario file or name
        scenario, town_map, problems = None, None, [str(exc)]
    if scenario is not None and town_map is not None and not problems:
        problems = unreachable(scenario, town_map)
    template_problems = [" ".join(p.split()) for p in check_prompts(prompts_dir)]
    problems = problems + template_problems
    if problems or scenario is None or town_map is None:
        return problems, ""
    objects_with_state = sum(1 for o in town_map.objects.values() if o.state != "idle")
    summary = (f"OK {scenario.name}: {len(scenario.personas)} agents, {len(town_map.sectors)} sectors, "
               f"{len(town_map.arenas)} arenas, {len(town_map.objects)} objects ({objects_with_state} with a state "
               f"other than idle), map {town_map.width}x{town_map.height} tiles of {town_map.tile_size} px "
               f"({town_map.path.name}), {len(scenario.facts)} facts, templates OK")
    return problems, summary
