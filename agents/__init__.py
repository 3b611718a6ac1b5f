"""The minds of the town. Public API (the only part ``town`` uses)::

    runtime = await MindRuntime.open(run_dir, seed=7, prompts_dir=None, llm=None, memory_url=None)
    factory = runtime.factory()            # (persona, world) -> AgentMind (a town.world.protocol.Mind)
    runtime.summary(); await runtime.aclose()

Also exported for benchmarks and tests: the LLM backends (``OpenAIChatLLM``, ``ScriptedLLM``,
``schema_example_script``) and the memory store with its benchmark. The loopback test server lives in
``agents.testing``, outside this API.
"""

from typing import Any

from agents.context import CognitionSettings
from agents.llm import LLMEndpointError, LLMOutage, OpenAIChatLLM, ScriptedLLM
from agents.memory.chroma_server import start_chroma_server
from agents.memory.stream import MemoryStore
from agents.mind import AgentMind
from agents.prompts import PromptError, PromptLibrary
from agents.memory.retrieve import bench_retrieval
from agents.runtime import MindRuntime
from agents.settings import SettingsError
from agents.testing.openai_server import example_for_schema


def schema_example_script(world: Any = None):  # noqa: ARG001 - same call shape as a world-aware script
    """A ScriptedLLM script answering every structured request with a minimal valid instance of its schema."""

    def script(step: str, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> Any:
        if response_format is None:
            return f"({step})"
        return example_for_schema(response_format["json_schema"]["schema"])

    return script


__all__ = [
    "AgentMind",
    "CognitionSettings",
    "LLMEndpointError",
    "LLMOutage",
    "MemoryStore",
    "MindRuntime",
    "OpenAIChatLLM",
    "PromptError",
    "PromptLibrary",
    "ScriptedLLM",
    "SettingsError",
    "bench_retrieval",
    "schema_example_script",
    "start_chroma_server",
]
