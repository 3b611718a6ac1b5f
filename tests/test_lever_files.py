"""The settings files the README hands to `town eval --compare-settings` turn on what they say, and nothing is on
by default (a lever changes behaviour only once an eval has measured it)."""

from __future__ import annotations

from pathlib import Path

from agents import CognitionSettings
from town.app.eval.cascade import arm_cascade
from town.app.eval.runner import Arm, arm_settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_levers_file_turns_every_lever_on_and_the_defaults_leave_them_off():
    on = arm_settings(Arm(settings=str(DOCS / "levers.toml")))
    off = CognitionSettings()
    assert (on.min_conversation_lines, on.news_k, on.importance_max_wait_min, on.object_rules) == (4, 3, 30, True)
    assert (off.min_conversation_lines, off.news_k, off.importance_max_wait_min, off.object_rules) == (1, 0, 0, False)
    assert on.model_dump(exclude={"min_conversation_lines", "news_k", "importance_max_wait_min", "object_rules"}) == \
        off.model_dump(exclude={"min_conversation_lines", "news_k", "importance_max_wait_min", "object_rules"})
    assert arm_cascade(Arm(settings=str(DOCS / "levers.toml"))) == {}


def test_cascade_file_routes_routine_steps_to_the_small_embedded_model():
    picked = arm_cascade(Arm(settings=str(DOCS / "cascade.toml")))
    assert picked == {"small_embedded_model": "0.5b", "small_steps": ["perceive_importance", "react_decide"]}
    assert arm_settings(Arm(settings=str(DOCS / "cascade.toml"))) == CognitionSettings()
