"""The settings files the README hands to `town eval --compare-settings` turn on what they say, and nothing is on
by default (a lever changes behaviour only once an eval has measured it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import CognitionSettings
from agents.prompts import PromptLibrary
from tests._cognition_fixtures import persona
from town.app.eval.cascade import arm_cascade
from town.app.eval.runner import Arm, arm_settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_levers_file_turns_every_lever_on_and_the_defaults_leave_them_off():
    on = arm_settings(Arm(settings=str(DOCS / "levers.toml")))
    off = CognitionSettings()
    levers = ("min_conversation_lines", "news_k", "importance_max_wait_min", "object_rules", "reasoning")
    assert tuple(getattr(on, k) for k in levers) == (4, 3, 30, True, False)
    assert tuple(getattr(off, k) for k in levers) == (1, 0, 0, False, True)
    assert on.model_dump(exclude=set(levers)) == off.model_dump(exclude=set(levers))
    assert arm_cascade(Arm(settings=str(DOCS / "levers.toml"))) == {}


def test_cascade_file_routes_routine_steps_to_the_small_embedded_model():
    picked = arm_cascade(Arm(settings=str(DOCS / "cascade.toml")))
    assert picked == {"small_embedded_model": "0.5b", "small_steps": ["perceive_importance", "react_decide"]}
    assert arm_settings(Arm(settings=str(DOCS / "cascade.toml"))) == CognitionSettings()


@pytest.mark.parametrize("lever", ["importance_repeat", "walk_back", "shared_digest", "object_pick", "answer_questions",
                                   "hour_tasks"])
def test_a_one_lever_file_turns_on_that_lever_alone(lever: str):
    on = arm_settings(Arm(settings=str(DOCS / f"{lever}.toml")))
    assert getattr(on, lever) is True and getattr(CognitionSettings(), lever) is False
    assert on.model_dump(exclude={lever}) == CognitionSettings().model_dump(exclude={lever})


def test_levers_with_reasoning_file_is_the_levers_file_less_the_reasoning_lever():
    all_on = arm_settings(Arm(settings=str(DOCS / "levers.toml")))
    kept = arm_settings(Arm(settings=str(DOCS / "levers-with-reasoning.toml")))
    assert kept.reasoning and kept.model_dump(exclude={"reasoning"}) == all_on.model_dump(exclude={"reasoning"})


def test_importance_calibrated_folder_sets_the_object_rule_and_replaces_only_the_importance_template():
    folder = DOCS / "importance_calibrated"
    on = arm_settings(Arm(settings=str(folder / "town.toml")))
    assert on.object_importance == 2 == CognitionSettings().object_importance  # the rule is the default now
    assert on.model_dump() == CognitionSettings().model_dump()
    assert [p.name for p in folder.glob("*.j2")] == ["perceive_importance.j2"]
    calibrated, default = PromptLibrary.load(folder), PromptLibrary.load()
    memories = ["the coffee machine is on", "Maria Lopez told me about a party"]
    asked = calibrated.get("perceive_importance").render(now="Monday 08:00", persona=persona(), memories=memories)
    text = "\n".join(m["content"] for m in asked)
    assert "Most memories are everyday routine" in text and "Give exactly 2 scores" in text
    assert calibrated.get("perceive_importance").overridden and not default.get("perceive_importance").overridden
    assert not any(calibrated.get(name).overridden for name in calibrated.templates if name != "perceive_importance")


def test_compact_json_folder_changes_only_the_system_messages_answer_instruction():
    compact, default = PromptLibrary.load(DOCS / "compact_json"), PromptLibrary.load()
    assert sorted(p.name for p in (DOCS / "compact_json").glob("*.j2")) == ["_system.j2"]
    fills = {"plan_daily": {"memories": ["a"], "reasoning": True}, "perceive_importance": {"memories": ["a", "b"]},
             "reflect_questions": {"memories": ["a"], "n": 3}}
    for name, fill in fills.items():
        ours, theirs = (lib.get(name).render(now="Monday 08:00", persona=persona(), **fill) for lib in (compact, default))
        assert "compact, on a single line" in ours[0]["content"]
        assert ours[0]["content"].replace(", compact, on a single line.", ".") == theirs[0]["content"]
        assert ours[1] == theirs[1]


def test_importance_rules_file_is_the_old_default_with_people_and_objects_scored_by_rule():
    on = arm_settings(Arm(settings=str(DOCS / "importance_rules.toml")))
    assert (on.object_importance, on.activity_importance, on.talk_transcripts) == (2, 2, True)
    assert on.model_dump(exclude={"talk_transcripts"}) == CognitionSettings().model_dump(exclude={"talk_transcripts"})


def test_importance_rules_gists_file_is_the_default_now_and_adds_only_the_transcript_lever_to_the_rules():
    rules = arm_settings(Arm(settings=str(DOCS / "importance_rules.toml")))
    gists = arm_settings(Arm(settings=str(DOCS / "importance_rules_gists.toml")))
    assert gists == CognitionSettings() and not gists.talk_transcripts
    assert gists.model_dump(exclude={"talk_transcripts"}) == rules.model_dump(exclude={"talk_transcripts"})


def test_talk_levers_file_turns_on_the_two_conversation_levers_alone():
    on = arm_settings(Arm(settings=str(DOCS / "talk_levers.toml")))
    assert (on.min_conversation_lines, on.news_k) == (4, 3)
    levers = {"min_conversation_lines", "news_k"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)
    assert arm_cascade(Arm(settings=str(DOCS / "talk_levers.toml"))) == {}


def test_talk_levers_retry_file_is_the_talk_levers_file_plus_one_repeat_retry():
    talk = arm_settings(Arm(settings=str(DOCS / "talk_levers.toml")))
    retry = arm_settings(Arm(settings=str(DOCS / "talk_levers_retry.toml")))
    assert retry.repeat_retries == 1 and CognitionSettings().repeat_retries == 0
    assert retry.model_dump(exclude={"repeat_retries"}) == talk.model_dump(exclude={"repeat_retries"})


def test_react_per_tool_file_turns_on_that_lever_alone():
    on = arm_settings(Arm(settings=str(DOCS / "react_per_tool.toml")))
    assert on.react_per_tool_schema and not CognitionSettings().react_per_tool_schema
    levers = {"react_per_tool_schema"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_react_context_file_turns_on_the_two_react_context_levers_alone():
    on = arm_settings(Arm(settings=str(DOCS / "react_context.toml")))
    levers = {"react_look_first", "react_short_addresses"}
    assert all(getattr(on, k) for k in levers) and not any(getattr(CognitionSettings(), k) for k in levers)
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_fewer_tasks_file_sets_that_lever_alone():
    on = arm_settings(Arm(settings=str(DOCS / "fewer_tasks.toml")))
    assert (on.max_tasks, CognitionSettings().max_tasks) == (3, 6)
    assert on.model_dump(exclude={"max_tasks"}) == CognitionSettings().model_dump(exclude={"max_tasks"})


def test_no_reasoning_and_ignore_cooldown_files_each_set_one_lever_alone():
    for name, key, value in (("no_reasoning.toml", "reasoning", False),
                             ("ignore_cooldown.toml", "ignore_cooldown_min", 30)):
        on = arm_settings(Arm(settings=str(DOCS / name)))
        assert getattr(on, key) == value != getattr(CognitionSettings(), key)
        assert on.model_dump(exclude={key}) == CognitionSettings().model_dump(exclude={key})


def test_the_defaults_file_changes_nothing_and_routes_nothing():
    """docs/defaults.toml is the baseline arm of a lever checked on other seeds: exactly the defaults."""
    assert arm_settings(Arm(settings=str(DOCS / "defaults.toml"))) == CognitionSettings()
    assert arm_cascade(Arm(settings=str(DOCS / "defaults.toml"))) == {}


def test_hour_tasks_object_pick_file_turns_on_those_two_levers_alone():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick.toml")))
    assert on.hour_tasks and on.object_pick
    assert on.model_dump(exclude={"hour_tasks", "object_pick"}) == CognitionSettings().model_dump(exclude={"hour_tasks", "object_pick"})


def test_hour_tasks_company_file_is_hour_tasks_plus_people_around_offered_again_every_30_minutes():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_company.toml")))
    assert on.hour_tasks and on.company_min == 30 and CognitionSettings().company_min == 0
    levers = {"hour_tasks", "company_min"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_hour_tasks_object_pick_company_file_adds_company_min_to_the_cheapest_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_company.toml")))
    assert on.hour_tasks and on.object_pick and on.company_min == 30
    levers = {"hour_tasks", "object_pick", "company_min"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_hour_tasks_object_pick_greet_file_adds_greet_first_to_the_cheapest_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet.toml")))
    assert on.hour_tasks and on.object_pick and on.greet_first and not CognitionSettings().greet_first
    levers = {"hour_tasks", "object_pick", "greet_first"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_hour_tasks_object_pick_greet_awake_file_also_drops_sleep_blocks():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_awake.toml")))
    assert on.hour_tasks and on.object_pick and on.greet_first and not on.sleep_blocks
    assert CognitionSettings().sleep_blocks
    levers = {"hour_tasks", "object_pick", "greet_first", "sleep_blocks"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_hour_tasks_object_pick_greet_talk_file_holds_the_greeting_arms_conversations_to_four_lines():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_talk.toml")))
    assert on.hour_tasks and on.object_pick and on.greet_first
    assert (on.min_conversation_lines, on.repeat_retries) == (4, 1)
    levers = {"hour_tasks", "object_pick", "greet_first", "min_conversation_lines", "repeat_retries"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_hour_tasks_object_pick_greet_place_file_adds_the_place_rule_to_the_greeting_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place.toml")))
    assert on.hour_tasks and on.object_pick and on.greet_first and on.place_rule
    assert not CognitionSettings().place_rule
    levers = {"hour_tasks", "object_pick", "greet_first", "place_rule"}
    assert on.model_dump(exclude=levers) == CognitionSettings().model_dump(exclude=levers)


def test_hour_tasks_object_pick_greet_talk_chat_file_adds_chat_turns_to_the_talk_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_talk_chat.toml")))
    talk = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_talk.toml")))
    assert on.chat_turns and not talk.chat_turns and not CognitionSettings().chat_turns
    assert on.model_dump(exclude={"chat_turns"}) == talk.model_dump(exclude={"chat_turns"})


def test_hour_tasks_object_pick_greet_place_awake_file_drops_sleep_blocks_from_the_cheap_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_awake.toml")))
    cheap = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place.toml")))
    assert not on.sleep_blocks and cheap.sleep_blocks and cheap.place_rule
    assert on.model_dump(exclude={"sleep_blocks"}) == cheap.model_dump(exclude={"sleep_blocks"})


def test_hour_tasks_object_pick_greet_place_schedule_file_adds_the_schedule_rule_to_the_cheap_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule.toml")))
    cheap = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place.toml")))
    assert on.schedule_rule and not cheap.schedule_rule and not CognitionSettings().schedule_rule
    assert on.model_dump(exclude={"schedule_rule"}) == cheap.model_dump(exclude={"schedule_rule"})


def test_schedule_topic_file_adds_four_lines_a_retry_and_a_topic_a_line_to_the_schedule_arm():
    levers = {"min_conversation_lines", "repeat_retries", "turn_topic"}
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic.toml")))
    schedule = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule.toml")))
    assert (on.min_conversation_lines, on.repeat_retries, on.turn_topic) == (4, 1, True)
    assert (schedule.min_conversation_lines, schedule.repeat_retries, schedule.turn_topic) == (1, 0, False)
    assert not CognitionSettings().turn_topic
    assert on.model_dump(exclude=levers) == schedule.model_dump(exclude=levers)


def test_topic_retry2_file_asks_a_repeated_line_again_twice_and_is_otherwise_the_topic_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic_retry2.toml")))
    topic = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic.toml")))
    assert (on.repeat_retries, topic.repeat_retries) == (2, 1)
    assert on.model_dump(exclude={"repeat_retries"}) == topic.model_dump(exclude={"repeat_retries"})


def test_topic_min5_file_holds_conversations_to_five_lines_and_is_otherwise_the_topic_arm():
    on = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic_min5.toml")))
    topic = arm_settings(Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic.toml")))
    assert (on.min_conversation_lines, topic.min_conversation_lines) == (5, 4)
    assert on.model_dump(exclude={"min_conversation_lines"}) == topic.model_dump(exclude={"min_conversation_lines"})


def test_topic_left_file_is_the_topic_arm_under_the_worlds_old_leaving_rule():
    from town.app.eval.runner import arm_engine

    left = Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic_left.toml"))
    topic = Arm(settings=str(DOCS / "hour_tasks_object_pick_greet_place_schedule_topic.toml"))
    assert arm_settings(left) == arm_settings(topic)
    assert arm_engine(left).opening_line_heard is False and arm_engine(topic) is None
