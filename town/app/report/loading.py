"""Reading a run folder for the report: its event log, summary.json and the scenario's seeded facts.

A bad file is a ``ValueError`` or ``FileNotFoundError`` naming the file (and the fact entry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from town.world.events import Event, read_events


class Fact(BaseModel):
    """A seeded fact from the scenario (e.g. Isabella's Valentine's Day party)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    text: str = ""
    known_by: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(min_length=1)



@dataclass
class RunData:
    """What a run folder holds, loaded and checked."""

    run_dir: Path
    events: list[Event]
    summary: dict[str, Any] | None
    facts: list[Fact]


def load_facts(path: Path) -> list[Fact]:
    """Read the ``facts`` list of a scenario YAML; a missing file or key means no seeded facts."""
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    raw = doc.get("facts") or []
    if not isinstance(raw, list):
        raise ValueError(f"{path}: 'facts' must be a list, got {type(raw).__name__}")
    facts = []
    for i, item in enumerate(raw):
        try:
            facts.append(Fact.model_validate(item))
        except ValidationError as exc:
            raise ValueError(f"{path}: facts[{i}] is invalid: {exc}") from exc
    return facts


def load_run(run_dir: Path) -> RunData:
    """Load ``events.jsonl`` (required), ``summary.json`` and ``scenario.yaml`` (optional) of a run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a directory: give a run folder such as runs/demo")
    events_path = run_dir / "events.jsonl"
    if not events_path.exists():
        raise FileNotFoundError(f"{events_path} not found: is {run_dir} a run folder?")
    events = list(read_events(events_path))
    if not events:
        raise ValueError(f"{events_path} holds no events: nothing to report")
    summary_path = run_dir / "summary.json"
    summary: dict[str, Any] | None = None
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{summary_path}: not valid JSON: {exc}") from exc
        if not isinstance(summary, dict):
            raise ValueError(f"{summary_path}: expected a JSON object")
    return RunData(run_dir, events, summary, load_facts(run_dir / "scenario.yaml"))
