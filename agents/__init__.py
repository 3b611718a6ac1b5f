"""The minds of the town. Public API (the only part ``town`` uses, from ``town/app.py``)::

    runtime = await MindRuntime.open(run_dir, seed=7, prompts_dir=None, llm=None, memory_url=None)
    factory = runtime.factory()            # (persona, world) -> AgentMind (a town.protocol.Mind)
    runtime.summary(); await runtime.aclose()
"""

from agents.context import CognitionSettings
from agents.mind import AgentMind
from agents.prompts import PromptError, PromptLibrary
from agents.runtime import MindRuntime

__all__ = ["AgentMind", "CognitionSettings", "MindRuntime", "PromptError", "PromptLibrary"]
