"""The minds of the town. This is the public API, the only part of ``agents`` that ``town`` imports::

    runtime = await MindRuntime.open(run_dir, seed=7, prompts_dir=None, llm=None, memory_url=None)
    factory = runtime.factory()            # (persona, world) -> AgentMind (a town.world.protocol.Mind)
    runtime.summary(); await runtime.aclose()

Besides the runtime, the application layer gets: the LLM gateway (for ``town bench`` and ``town eval``), the settings
and their errors (``town doctor``), the model files (``town model``, ``town doctor``), the prompt library (``town
prompts``, ``town check``), secret redaction for logs, the memory store with its benchmark, and the eval judge.
Test doubles (``ScriptedLLM``, the loopback server) live in ``agents.testing``, outside this API.
"""

from agents.context import CognitionSettings
from agents.llm import BaseLLM, LLMEndpointError, LLMOutage, OpenAIChatLLM, open_llm
from agents.llm.embedded import check_loads
from agents.llm.pool import server_figures
from agents.llm.model_files import (
    ModelFilesError,
    ensure_model,
    install_hint,
    model_spec,
    models_dir,
    part_paths,
    rehash_matches,
    verified_model,
)
from agents.llm.redact import RedactingFilter, RedactingFormatter, redact
from agents.memory.bench import bench_retrieval
from agents.memory.embeddings import default_embedder
from agents.memory.chroma_server import start_chroma_server
from agents.memory.stream import MemoryStore
from agents.mind import AgentMind
from agents.prompts import PromptError, PromptLibrary, check_prompts, list_prompts, show_prompt
from agents.runtime import MindRuntime
from agents.settings import TOML_TABLE, AgentSettings, SettingsError, agent_settings, cognition_settings, config_file
from agents.settings import env_names
from agents.steps.judge import JUDGE_FACT, JUDGE_KNOWS, JUDGE_SUPPORT, judge_pair, judge_yes

__all__ = [
    # the minds
    "AgentMind",
    "CognitionSettings",
    "MindRuntime",
    # the LLM gateway
    "BaseLLM",
    "LLMEndpointError",
    "LLMOutage",
    "OpenAIChatLLM",
    "open_llm",
    "check_loads",
    "server_figures",
    # settings
    "TOML_TABLE",
    "AgentSettings",
    "SettingsError",
    "agent_settings",
    "cognition_settings",
    "env_names",
    "config_file",
    # model files
    "ModelFilesError",
    "ensure_model",
    "install_hint",
    "model_spec",
    "models_dir",
    "part_paths",
    "rehash_matches",
    "verified_model",
    # prompts
    "PromptError",
    "PromptLibrary",
    "check_prompts",
    "list_prompts",
    "show_prompt",
    # redaction of secrets in logs
    "RedactingFilter",
    "RedactingFormatter",
    "redact",
    # memory
    "MemoryStore",
    "bench_retrieval",
    "default_embedder",
    "start_chroma_server",
    # the eval judge
    "JUDGE_FACT",
    "JUDGE_KNOWS",
    "JUDGE_SUPPORT",
    "judge_pair",
    "judge_yes",
]
