"""A short run of a scenario over the scripted LLM (no model), for the README's pictures.

    python docs/scripted_run.py smallville --hours 0.5 --out runs/smallville-shot
    python -m town replay runs/smallville-shot --screenshot docs/smallville.png --at 30

The minds run their real code paths; their answers come from the scripted test LLM (valid schema examples whose
placeholder texts are swapped for everyday activities picked by a hash of the prompt), so the picture shows where
people go and what the viewer draws, not what a model would say.
"""

from __future__ import annotations

import argparse
import asyncio
import zlib
from pathlib import Path
from typing import Any

import agents
import agents.testing
from town.app.session import RunConfig, Session, run_session, ticks_for_hours
from town.world.maps import load_map
from town.world.scenario import load_scenario
from town.world.state import World


EVERYDAY = [
    "having breakfast", "brewing coffee", "reading the morning paper", "walking to work", "opening the shop",
    "chatting with a neighbour", "watering the plants", "preparing a lecture", "sweeping the floor",
    "stocking the shelves", "writing in a notebook", "planning the party", "sketching", "jogging in the park",
]


def everyday_script(world: Any) -> Any:
    """Schema examples with their one-letter placeholder texts replaced by an everyday activity."""
    base = agents.testing.schema_example_script(world)

    def fill(value: Any, seed: int) -> Any:
        if isinstance(value, str) and len(value) <= 1:
            return EVERYDAY[seed % len(EVERYDAY)]
        if isinstance(value, dict):
            return {k: v if k == "emoji" else fill(v, seed + i) for i, (k, v) in enumerate(value.items())}
        if isinstance(value, list):
            return [fill(v, seed + i) for i, v in enumerate(value)]
        return value

    def script(step: str, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> Any:
        seed = zlib.crc32((step + (messages[-1]["content"] if messages else "")).encode("utf-8"))
        return fill(base(step, messages, response_format), seed)

    return script


async def scripted_run(scenario_name: str, hours: float, run_dir: Path, seed: int) -> None:
    scenario = load_scenario(scenario_name)
    probe = World.create(load_map(scenario.map_path), scenario)
    llm = agents.testing.ScriptedLLM(everyday_script(probe), seed=seed)
    cfg = RunConfig(scenario=scenario_name, hours=hours, seed=seed, run_dir=run_dir)
    session = await Session.open(run_dir, resume=False, cfg=cfg, llm=llm)
    await run_session(session, ticks_for_hours(hours, session.world.clock.seconds_per_tick))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--hours", type=float, default=0.5)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    asyncio.run(scripted_run(args.scenario, args.hours, args.out, args.seed))
    print(f"run written to {args.out}")
