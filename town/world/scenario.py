"""Scenarios: who lives in the town, when the story starts, seeded facts and news (``maps/scenarios/*.yaml``).

``load_scenario("valentines")`` finds ``maps/scenarios/valentines.yaml``; a path to any YAML file works
too. The ``map`` field is relative to the scenario file and must stay inside the scenario's folder tree or the
packaged ``maps`` folder. Every problem raises :class:`ScenarioError` naming the file, the field and the YAML line.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from town.world.maps import MapError, TownMap, inside, load_map
from town.world.protocol import Persona
from town.world.resources import data_dir


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file, field and line."""


class Fact(BaseModel):
    """A seeded piece of information, to measure how it spreads."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    known_by: list[str] = Field(min_length=1)
    keywords: list[str] = Field(min_length=1, description="words that show someone knows it")
    question: str | None = Field(default=None, min_length=1, max_length=300,
                                 description="asked of every agent at the end of an eval run (`town eval`)")

    @field_validator("keywords")
    @classmethod
    def _keywords_not_blank(cls, v: list[str]) -> list[str]:
        if any(not k.strip() for k in v):
            raise ValueError("keywords must not be blank")
        return v


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    map: str = Field(min_length=1, description="map file, relative to the scenario file")
    start: datetime
    seconds_per_tick: int = Field(default=60, ge=1, le=3600)
    personas: list[Persona] = Field(min_length=1)
    facts: list[Fact] = Field(default_factory=list)
    news: list[str] = Field(default_factory=list)
    _path: Path | None = PrivateAttr(default=None)
    _map_path: Path | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path:
        """The scenario file (set by :func:`load_scenario`)."""
        if self._path is None:
            raise RuntimeError(f"scenario {self.name!r} was not loaded from a file")
        return self._path

    @property
    def map_path(self) -> Path:
        """The resolved map file (set by :func:`load_scenario`)."""
        if self._map_path is None:
            raise RuntimeError(f"scenario {self.name!r} was not loaded from a file")
        return self._map_path

    @property
    def roots(self) -> list[Path]:
        """The folders the map and the files it names may come from: the scenario's tree, the packaged maps."""
        if self._base_dir is None:
            raise RuntimeError(f"scenario {self.name!r} was not loaded from a file")
        return [self._base_dir, maps_dir()]

    def load_map(self) -> TownMap:
        """The scenario's map, held to the same folders as when the scenario was checked."""
        return load_map(self.map_path, self.roots)

    def persona(self, name: str) -> Persona:
        for p in self.personas:
            if p.name == name:
                return p
        raise KeyError(f"no persona {name!r} in scenario {self.name!r}")


def maps_dir() -> Path:
    """The ``maps`` folder: the installed package data, else the repository's folder."""
    return data_dir("maps")


def scenarios_dir() -> Path:
    return maps_dir() / "scenarios"


def available_scenarios() -> list[str]:
    return sorted(p.stem for p in scenarios_dir().glob("*.yaml"))


def resolve_scenario_path(ref: str | Path) -> Path:
    """A YAML path as given, or a scenario name in ``maps/scenarios``."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{path}: scenario file not found")
        return path
    named = scenarios_dir() / f"{ref}.yaml"
    if not named.is_file():
        raise ScenarioError(f"no scenario named {str(ref)!r}; available: {', '.join(available_scenarios()) or 'none'}")
    return named


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _where(path: Path, root: yaml.Node | None, loc: tuple[Any, ...]) -> str:
    field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    line = _line_of(root, loc)
    return f"{path}:{line}: {field}" if line else f"{path}: {field}"


def scenario_problems(ref: str | Path, *, base_dir: str | Path | None = None
                      ) -> tuple[Scenario | None, TownMap | None, list[str]]:
    """Validate a scenario and check it against its map; every problem found, one line each, file + line + field.

    ``map`` resolves against ``base_dir`` (default: the scenario file's folder; a run folder's copy of a
    scenario passes the original folder here). The scenario comes back set up only when there is no problem.
    """
    path = resolve_scenario_path(ref)
    base = Path(base_dir).resolve() if base_dir is not None else path.resolve().parent
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [f"{path}: cannot read the scenario: {exc}"]
    except yaml.YAMLError as exc:
        return None, None, [f"{path}: invalid YAML: {' '.join(str(exc).split())}"]
    if not isinstance(data, dict):
        return None, None, [f"{path}: expected a mapping at the top level"]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        return None, None, [f"{_where(path, root, tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]

    def where(*loc: Any) -> str:
        return _where(path, root, loc)

    map_path = base / scenario.map
    roots = [base, maps_dir()]
    if not inside(map_path, roots):
        return scenario, None, [f"{where('map')}: {scenario.map!r} lies outside the scenario's folder ({base}) "
                                "and the packaged maps"]
    try:
        town_map = load_map(map_path, roots)
    except MapError as exc:
        return scenario, None, [f"{where('map')}: {exc}"]
    problems: list[str] = []
    names: set[str] = set()
    for i, p in enumerate(scenario.personas):
        if p.name in names:
            problems.append(f"{where('personas', i, 'name')}: duplicate persona {p.name!r}")
        names.add(p.name)
        if p.living_area not in town_map.arenas:
            problems.append(f"{where('personas', i, 'living_area')}: {p.living_area!r} is not an arena of "
                            f"{map_path.name} (e.g. {next(iter(town_map.arenas), 'none')!r})")
        if p.spawn is not None and p.spawn not in town_map.spawns and town_map.kind_of(p.spawn) is None:
            problems.append(f"{where('personas', i, 'spawn')}: {p.spawn!r} is neither a spawn point nor an address "
                            f"of {map_path.name}")
    ids: set[str] = set()
    for i, f in enumerate(scenario.facts):
        if f.id in ids:
            problems.append(f"{where('facts', i, 'id')}: duplicate fact id {f.id!r}")
        ids.add(f.id)
        for j, who in enumerate(f.known_by):
            if who not in names:
                problems.append(f"{where('facts', i, 'known_by', j)}: {who!r} is not a persona of this scenario")
    scenario._path = path.resolve()
    scenario._map_path = map_path.resolve()
    scenario._base_dir = base
    return scenario, town_map, problems


def load_scenario(ref: str | Path, *, base_dir: str | Path | None = None) -> Scenario:
    """Load, validate and check a scenario against its map; the first problem raises :class:`ScenarioError`."""
    scenario, _, problems = scenario_problems(ref, base_dir=base_dir)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise ScenarioError(problems[0] + more)
    assert scenario is not None
    return scenario
