"""What a user reads on the console: the end-of-run summary (the town first, then the cost), the progress
shown while the model works, and the log handler. Rendering only: the figures come from the run folder's
event log and the session's summary (``summary.json`` keeps every counter; ``-v`` prints them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.logging import RichHandler
from rich.progress import (
    BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

#: progress, status lines and logs; the summary goes to stdout so that it can be piped
err_console = Console(stderr=True)

#: what a cognitive step is, in the words of the progress line (prefix of the step name -> activity)
ACTIVITIES = {
    "plan_daily": "planning the day", "plan_schedule": "planning the day", "plan_decompose": "planning tasks",
    "plan_replan": "re-planning", "perceive": "noticing things", "react": "deciding how to react",
    "act": "acting", "converse": "talking", "reflect": "reflecting",
}


def activity(step: str) -> str:
    for prefix, words in ACTIVITIES.items():
        if step.startswith(prefix):
            return words
    return step


# -- logs -----------------------------------------------------------------------------------------


class ConsoleLogHandler(RichHandler):
    """A RichHandler that prints one line per record (level, message) instead of rich's table layout; on a
    soft-wrapping console (:func:`console_log_handler`) a long path stays whole for the terminal to wrap,
    where the default layout folds it mid-path at the console's width."""

    def render(self, *, record: logging.LogRecord, traceback: Any, message_renderable: Any) -> Any:
        message = message_renderable if isinstance(message_renderable, Text) else Text(str(message_renderable))
        line = Text.assemble(self.get_level_text(record), message)
        return line if traceback is None else Group(line, traceback)


def console_log_handler(verbose: bool) -> logging.Handler:
    """INFO and up with ``verbose``, else WARNING and up, on stderr, one unfolded line each."""
    handler = ConsoleLogHandler(
        console=Console(stderr=True, soft_wrap=True), level=logging.INFO if verbose else logging.WARNING,
        show_path=False, show_time=False, markup=False, rich_tracebacks=verbose,
    )
    handler.setFormatter(logging.Formatter("%(message)s"))  # else basicConfig's default repeats the level
    return handler


# -- progress -------------------------------------------------------------------------------------


def interactive(console: Console = err_console) -> bool:
    """Progress and spinners only on a terminal: none in pipes, log files or tests."""
    return console.is_terminal


@contextlib.contextmanager
def status(message: str, console: Console = err_console) -> Iterator[None]:
    """A spinner with ``message`` while a long step runs (nothing when the output is not a terminal)."""
    if not interactive(console):
        yield
        return
    with console.status(message):
        yield


def tick_progress(console: Console = err_console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} ticks"),
        TextColumn("{task.fields[clock]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[work]}"), console=console, disable=not interactive(console),
    )


def eval_progress(console: Console = err_console) -> Progress:
    """`town eval`'s lines: one per run (its ticks, clock and phase in ``status``) and an overall one."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not interactive(console),
    )


class ModelWork:
    """What the model did since the tick began, read off the LLM's accounting: calls done and the latest step
    and agent (e.g. "planning the day: Klaus Mueller, 7 calls"). Polled while a tick runs."""

    def __init__(self, accounting: Any) -> None:
        self.accounting = accounting
        self._calls = 0
        self._by_step: dict[str, int] = {}
        self._by_agent: dict[str, int] = {}
        self.mark()

    def mark(self) -> None:
        """A new tick: count from here."""
        self._calls = self.accounting.total.calls
        self._by_step = {k: v.calls for k, v in self.accounting.by_step.items()}
        self._by_agent = {k: v.calls for k, v in self.accounting.by_agent.items()}

    def line(self) -> str:
        """The calls under way (step and agents), else the latest done; with the count done this tick."""
        done = self.accounting.total.calls - self._calls
        waiting = [(step, agent) for (step, agent), n in self.accounting.in_flight.items() if n > 0]
        if waiting:
            steps = [step for step, _ in waiting]
            agents = [agent for _, agent in waiting if agent]
        else:
            steps = [k for k, v in self.accounting.by_step.items() if v.calls > self._by_step.get(k, 0)]
            agents = [k for k, v in self.accounting.by_agent.items() if v.calls > self._by_agent.get(k, 0) and k != "-"]
        if not steps:
            return ""
        who = ", ".join(sorted({a.split()[0] for a in agents}))
        counts = f"{done} LLM call{'s' if done != 1 else ''} done this tick"
        counts += f", {len(waiting)} under way" if waiting else ""
        return f"{activity(steps[-1])}{': ' + who if who else ''} · {counts}"


async def watch_model_work(progress: Progress, task: TaskID, work: ModelWork, every_s: float = 0.5) -> None:
    """Refresh the progress line with the model work under way until cancelled (the tick is done)."""
    while True:
        progress.update(task, work=work.line())
        await asyncio.sleep(every_s)


def model_join_progress(size: str, console: Console = err_console) -> Path:
    """Join and verify the embedded model's files with a byte progress bar (quiet when not on a terminal)."""
    from agents import ensure_model, verified_model

    ready = verified_model(size)
    if ready is not None:
        return ready
    with Progress(
        TextColumn(f"joining the {size} model"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=console, disable=not interactive(console),
    ) as progress:
        task = progress.add_task("join", total=None)
        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return ensure_model(size, on_progress=show)  # type: ignore[arg-type]


# -- the end-of-run summary -----------------------------------------------------------------------


def _hm(t: datetime) -> str:
    return f"{t:%a %H:%M}"


def town_story(run_dir: Path) -> list[str]:
    """What happened in the town, from the run folder's event log: conversations (between whom),
    reflections, and who learned each seeded fact of the scenario and when."""
    from town.app.report import conversation_graph, knowledge_times, load_run, reflections, utterances

    try:
        run = load_run(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        return [f"(no story: {exc})"]
    events = run.events
    lines: list[str] = []
    n_conv = len({u.conversation for u in utterances(events)})
    g = conversation_graph(events)
    pairs = sorted(g.edges(data=True), key=lambda e: -e[2]["conversations"])
    between = ", ".join(f"{a.split()[0]}-{b.split()[0]} {d['conversations']}" for a, b, d in pairs)
    lines.append(f"conversations: {n_conv}" + (f" ({between})" if between else ""))
    refl = reflections(events)
    by_agent: dict[str, int] = {}
    for _, agent, _ in refl:
        by_agent[agent] = by_agent.get(agent, 0) + 1
    per = ", ".join(f"{a.split()[0]} {n}" for a, n in sorted(by_agent.items()))
    lines.append(f"reflections: {len(refl)}" + (f" ({per})" if per else ""))
    everyone = sorted(g.nodes)
    for fact in run.facts:
        known = knowledge_times(events, fact)
        learned = sorted((t, a) for a, t in known.items() if a not in fact.known_by)
        parts = [f"known at the start by {', '.join(a.split()[0] for a in fact.known_by) or 'nobody'}"]
        parts += [f"{a.split()[0]} learned it at {t:%H:%M}" for t, a in learned]
        missing = [a.split()[0] for a in everyone if a not in known]
        if missing:
            parts.append(f"not yet {', '.join(missing)}")
        lines.append(f"fact '{fact.id}': " + "; ".join(parts))
    return lines


def cost_line(summary: dict[str, Any]) -> str:
    minds = summary.get("minds", {})
    total = minds.get("llm", {}).get("total", {})
    by_step = ", ".join(f"{k} {v}" for k, v in minds.get("fallbacks_by_step", {}).items())
    return (
        f"LLM calls {total.get('calls', 0):,} (answered from cache {total.get('cache_hits', 0):,}); "
        f"tokens {total.get('prompt_tokens', 0):,} in / {total.get('completion_tokens', 0):,} out; "
        f"retries {total.get('retries', 0)}; fallbacks {minds.get('fallbacks', 0)}"
        + (f" ({by_step})" if by_step else "") + f"; wall time {summary.get('wall_s', 0):.1f} s"
    )


def server_summary_line(summary: dict[str, Any]) -> str | None:
    """The model server's busy share and prefix-cache hit rate this session, when the server gave figures."""
    from town.app.report.server_time import server_line

    return server_line(summary.get("model_server"))


def print_run_summary(summary: dict[str, Any], *, verbose: bool = False, console: Console | None = None) -> None:
    """The short human summary of a run; with ``verbose`` also the calls by step and every counter."""
    console = console or Console(soft_wrap=True)
    run_dir = Path(summary["run_dir"])
    game = datetime.fromisoformat(summary["game_time"])
    console.print(f"[bold]{summary['scenario']}[/], seed {summary['seed']}: {summary['ticks']} ticks, "
                  f"the town's clock now {_hm(game)}")
    console.print("[bold]In the town[/]")
    for line in town_story(run_dir):
        console.print(f"  {line}", markup=False)
    resumed = summary.get("ticks_this_session", summary["ticks"]) < summary["ticks"]
    console.print(f"[bold]Cost[/]{' of this session' if resumed else ''}")
    console.print(f"  {cost_line(summary)}", markup=False)
    server = server_summary_line(summary)
    if server:
        console.print(f"  {server}", markup=False)
    if verbose:
        _print_counters(summary, console)
    else:
        console.print(f"every counter: {run_dir / 'summary.json'} (or -v)", markup=False)
    console.print(f"run folder: {run_dir}", markup=False)


def _print_counters(summary: dict[str, Any], console: Console) -> None:
    minds = summary.get("minds", {})
    by_step = minds.get("llm", {}).get("by_step", {})
    if by_step:
        table = Table(title="LLM calls by cognitive step")
        for col in ("step", "calls", "cache hits", "tokens in", "tokens out", "retries", "fallbacks", "latency s"):
            table.add_column(col, justify="left" if col == "step" else "right")
        for step, t in by_step.items():
            cells = [t["calls"], t["cache_hits"], t["prompt_tokens"], t["completion_tokens"], t.get("retries", 0), t["fallbacks"]]
            table.add_row(step, *map(str, cells), f"{t['latency_s']:.1f}")
        console.print(table)
    counters = minds.get("counters", {})
    if counters:
        table = Table(title="cognition counters (all agents)")
        table.add_column("counter")
        table.add_column("value", justify="right")
        for k, v in counters.items():
            table.add_row(k, str(v))
        console.print(table)
