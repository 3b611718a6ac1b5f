"""Run reports: who talked to whom, how seeded facts spread, what the minds cost, what they did.

``loading`` reads a run folder, ``metrics`` computes the figures (pure functions over events),
``content`` lays them out as sections, ``plots`` draws them and ``render`` writes HTML or Markdown from templates.
"""

from town.app.report.loading import Fact, RunData, load_facts, load_run
from town.app.report.metrics import (
    LLM_FIELDS,
    Span,
    Utterance,
    action_timeline,
    agent_names,
    calls_by_agent,
    calls_by_hour,
    calls_by_step,
    conversation_graph,
    conversations,
    count_notes,
    density_over_time,
    diffusion,
    fallbacks,
    hour_of,
    knowledge_times,
    last_hour,
    llm_calls,
    reflections,
    start_time,
    summary_extras,
    summary_llm,
    tool_counts,
    utterances,
    wall_time,
)
from town.app.report.server_time import ServerTime, busy_seconds, run_server_time, server_line, server_time
from town.app.report.render import build_report
from town.app.report.content import Section, Table, sections

__all__ = [
    "LLM_FIELDS", "Fact", "RunData", "Section", "Span", "Table", "Utterance", "action_timeline", "agent_names",
    "build_report", "calls_by_agent", "calls_by_hour", "calls_by_step", "conversation_graph", "conversations",
    "count_notes", "density_over_time", "diffusion", "fallbacks", "hour_of", "knowledge_times", "last_hour",
    "llm_calls", "load_facts", "load_run", "reflections", "sections", "start_time", "summary_extras",
    "summary_llm", "tool_counts", "utterances", "wall_time",
    "ServerTime", "busy_seconds", "run_server_time", "server_line", "server_time",
]
