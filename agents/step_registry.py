"""The prompt variables each cognitive step declares: steps call :func:`register_step` when imported, and the
prompt library reads :func:`registered_steps` to check templates. A leaf module, so the low-level prompt code never
imports the steps above it; ``agents.steps`` imports every step, so importing ``agents`` fills the registry."""

from __future__ import annotations

#: variables :func:`agents.context.ask` fills from the context for every step
COMMON_VARIABLES: frozenset[str] = frozenset({"persona", "now"})

_STEPS: dict[str, frozenset[str]] = {}


def register_step(name: str, variables: set[str] | frozenset[str]) -> None:
    """Declare that step ``name`` (template ``name.j2``) renders with ``variables`` (plus persona and now)."""
    clash = set(variables) & COMMON_VARIABLES
    if clash:
        raise ValueError(f"step {name!r}: {sorted(clash)} are filled from the context, do not declare them")
    old = _STEPS.get(name)
    if old is not None and old != frozenset(variables):
        raise ValueError(f"step {name!r} registered twice with different variables: {sorted(old)} vs {sorted(variables)}")
    _STEPS[name] = frozenset(variables)


def registered_steps() -> dict[str, frozenset[str]]:
    """Every registered step and its variables."""
    return dict(_STEPS)
