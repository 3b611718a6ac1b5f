"""One file per cognitive step: perceive, plan, react, converse, act, reflect (and the eval judge).

Importing the package imports every step, so each has registered its prompt variables
(:mod:`agents.step_registry`) before a prompt library checks the templates."""

from agents.steps import act, converse, judge, perceive, plan, react, reflect  # noqa: F401 (registers the steps)
