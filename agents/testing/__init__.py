"""Test doubles for the minds' LLM gateway: a loopback OpenAI-compatible server that answers or misbehaves on cue,
in a thread or as a real process. Not part of ``agents``' public API: tests and benchmarks import it by name.
"""

from agents.testing.openai_server import GARBAGE, FakeOpenAIServer, default_handler, example_for_schema
from agents.testing.process import ServerProcess

__all__ = ["GARBAGE", "FakeOpenAIServer", "ServerProcess", "default_handler", "example_for_schema"]
