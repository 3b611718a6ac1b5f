"""Test doubles for the minds: ``ScriptedLLM`` (scripted answers behind the real BaseLLM retry and fallback), a
script answering any schema with a minimal valid instance, and a loopback OpenAI-compatible server that answers or
misbehaves on cue, in a thread or as a real process. Not part of ``agents``' public API: tests and ``town bench``
import it by name.
"""

from typing import Any

from agents.testing.openai_server import GARBAGE, FakeOpenAIServer, default_handler, example_for_schema
from agents.testing.process import ServerProcess
from agents.testing.scripted import ScriptedLLM


def schema_example_script(world: Any = None):  # noqa: ARG001 - same call shape as a world-aware script
    """A ScriptedLLM script answering every structured request with a minimal valid instance of its schema."""

    def script(step: str, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> Any:
        if response_format is None:
            return f"({step})"
        return example_for_schema(response_format["json_schema"]["schema"])

    return script


__all__ = [
    "GARBAGE",
    "FakeOpenAIServer",
    "ScriptedLLM",
    "ServerProcess",
    "default_handler",
    "example_for_schema",
    "schema_example_script",
]
