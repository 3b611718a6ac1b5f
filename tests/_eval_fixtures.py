"""A scripted LLM and a small scenario for `town eval` tests: three agents meet in the cafe and talk.

The script answers by reading the prompt, the way an instruction-following model would: a converse prompt
that forbids talking about parties gets small talk, any other gets the party news; interview answers come
from the memories shown; the judges rule on the answer against the fact or the evidence they are shown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

import agents.testing
from town.world.scenario import scenarios_dir

FORBID = "Never mention parties, plans or events."
PARTY_LINE = "Did you hear? Isabella is hosting a Valentine's Day party at Hobbs Cafe tomorrow at 5pm."
SMALL_TALK = "Lovely weather today, isn't it?"


def cafe_scenario(tmp: Path) -> Path:
    """valentines, with everyone starting in the cafe so they notice each other at once."""
    doc = yaml.safe_load((scenarios_dir() / "valentines.yaml").read_text())
    doc["map"] = str((scenarios_dir() / doc["map"]).resolve())  # a copy elsewhere still names the packaged map
    for p in doc["personas"]:
        p["spawn"] = "Hobbs Cafe:cafe"
    path = tmp / "cafe.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def forbidding_templates(tmp: Path) -> Path:
    """A template folder whose converse steps forbid talking about plans or parties."""
    folder = tmp / "quiet"
    folder.mkdir()
    base = Path(agents.PromptLibrary.load(None).get("converse_turn").path).parent
    for name in ("converse_open", "converse_turn"):
        text = (base / f"{name}.j2").read_text()
        (folder / f"{name}.j2").write_text(text.replace("=== user ===", f"=== user ===\n{FORBID}", 1))
    return folder


def _user(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


def _memories(text: str) -> str:
    return " ".join(re.findall(r"^\d+\. <<<(.*)>>>$", text, flags=re.MULTILINE))


def eval_script(step: str, messages: list[dict[str, str]], fmt: dict[str, Any] | None) -> Any:
    text = _user(messages)
    if step == "react_decide":
        other = re.search(r"You notice (.*?):", text).group(1)
        return {"reasoning": "a friend", "kind": "talk", "target": other, "new_activity": None}
    if step in ("converse_open", "converse_turn"):
        line = SMALL_TALK if FORBID in text else PARTY_LINE
        return {"text": line, "end_conversation": step == "converse_turn"}
    if step == "interview":
        mem = _memories(text).lower()
        q = re.search(r"An interviewer asks: <<<(.*)>>>", text).group(1)
        if "party" in q.lower():
            return {"answer": "Yes, a Valentine's Day party at Hobbs Cafe." if "party" in mem else "I have not heard of one."}
        who = re.match(r"Who is (.*)\?", q)
        if who:
            known = who.group(1).split()[0].lower() in mem
            return {"answer": f"{who.group(1)} is someone I talked with." if known else "I don't know them."}
        return {"answer": "I am busy with my own work."}
    if step == "judge_fact":
        answer = re.search(r"answered: <<<(.*)>>>", text).group(1).lower()
        return {"reason": "checked", "yes": "valentine" in answer and "party" in answer}
    if step == "judge_knows":
        answer = re.search(r"answered: <<<(.*)>>>", text).group(1).lower()
        return {"reason": "checked", "yes": "talked" in answer}
    if step == "judge_support":
        answer = re.search(r"answered: <<<(.*)>>>", text).group(1).lower()
        return {"reason": "checked", "yes": "party" not in answer or "party" in _memories(text).lower()}
    if step == "judge_pair":
        first = re.search(r"First answer: <<<(.*)>>>", text).group(1)
        second = re.search(r"Second answer: <<<(.*)>>>", text).group(1)
        return {"reason": "more specific", "better": "first" if len(first) >= len(second) else "second"}
    return agents.testing.schema_example_script()(step, messages, fmt)


def scripted(**kw: Any) -> agents.testing.ScriptedLLM:
    return agents.testing.ScriptedLLM(eval_script, **kw)
