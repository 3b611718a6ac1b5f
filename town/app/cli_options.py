"""What every ``town`` command shares: the typer app, the common options and their one check, the one-line
failure, logging set-up, and the steps before a run (LLM flags, a user's own model, the embedded model's files).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from town.app.console import err_console as console

#: the help of bare `town --help`
HELP = "`python -m town ...` / `town ...`: run, resume, fork, replay, talk to the town, prompts, bench, report, doctor."

# no locals in crash tracebacks: they would print settings, API keys included
app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP, pretty_exceptions_show_locals=False)

RunDir = Annotated[Path, typer.Argument(help="a run folder, e.g. runs/demo")]
PromptsOpt = Annotated[
    Optional[Path], typer.Option("--prompts", help="folder of templates that replace the defaults by name")
]
#: the embedded models the CLI offers, checked here alone (run, resume, doctor, model); the same names as
#: agents.llm.model_files.MODEL_SPECS (a test keeps them equal), not imported from there so that --help stays fast
ModelSize = Literal["1.5b", "0.5b"]


def _model_option(value: str | None) -> str | None:
    """The one check of ``--model``: one of ModelSize, or the path of an existing ``.gguf`` file (which
    :func:`_check_own_model` later starts once to see that it loads)."""
    from typing import get_args

    if value is None or value in get_args(ModelSize):
        return value
    path = Path(value).expanduser()
    if path.suffix.lower() != ".gguf" or not path.is_file():
        choices = ", ".join(repr(c) for c in get_args(ModelSize))
        _fail(f"--model: {value!r} is not one of {choices}, nor the path of an existing .gguf file")
    return str(path.resolve())


ModelOpt = Annotated[
    Optional[str],
    typer.Option("--model", metavar="<1.5b|0.5b|FILE.gguf>", callback=_model_option,
                 help="embedded model, used when no endpoint is configured: a size, or your own GGUF file"),
]
BaseUrlOpt = Annotated[
    Optional[list[str]], typer.Option("--base-url", metavar="URL", help="OpenAI-compatible endpoint(s); repeat for a pool")
]
SetOpt = Annotated[
    Optional[list[str]], typer.Option("--set", metavar="TABLE.KEY=VALUE", callback=lambda v: _set_option(v),
                                      help="a setting over environment and town.toml, e.g. engine.vision_radius=6; repeatable"),
]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="INFO logs, and every counter in the summary")]
HeadlessOpt = Annotated[bool, typer.Option("--headless", help="no window: a progress bar and logs")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"town {version('town')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("town (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """A small town of LLM-driven generative agents."""


def _set_option(items: list[str] | None) -> list[str] | None:
    """``--set`` items go through the settings models now: a bad key or value is one line, exit 2, nothing written."""
    from town.app.town_env import apply_sets
    from town.world.config import SettingsError

    try:
        apply_sets(items or [])
    except SettingsError as exc:
        _fail(str(exc))
    return items


def _fail(msg: str) -> None:
    from rich.markup import escape

    from agents import redact

    msg = " ".join(part.strip() for part in redact(str(msg)).splitlines() if part.strip())  # one line, always
    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _stopped(msg: str) -> None:
    """A run stopped early but resumable (exit 3: not bad input, not a crash)."""
    console.print(f"[bold red]stopped:[/] {msg}", soft_wrap=True)
    raise typer.Exit(3)


def _setup_logging(verbose: bool, run_dir: Path | None = None) -> None:
    """Console (rich) and ``RUN/town.log`` handlers; both mask credentials, tracebacks included."""
    from agents import RedactingFilter, RedactingFormatter

    handlers: list[logging.Handler] = []
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(run_dir / "town.log", encoding="utf-8")
        fh.setFormatter(RedactingFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")))
        handlers.append(fh)
    from town.app.console import console_log_handler

    handler = console_log_handler(verbose)
    handler.setFormatter(RedactingFormatter(logging.Formatter("%(message)s")))  # no second level prefix
    handlers.append(handler)
    for h in handlers:
        h.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    for noisy in ("httpx", "httpx2", "httpcore", "chromadb", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _has_display() -> bool:
    from town.app.doctor import has_display

    return has_display()


def _apply_llm_options(model: str | None, base_urls: list[str] | None) -> None:
    """CLI flags win over environment and config file (pydantic-settings reads these); ``--model`` was
    checked by :func:`_model_option`."""
    if model is not None:
        os.environ["TOWN_EMBEDDED_MODEL"] = model
    if base_urls:
        os.environ["OPENAI_BASE_URL"] = ",".join(base_urls)


def _check_own_model() -> None:
    """With ``embedded_model`` a user's GGUF file, start it once (before the run folder exists): a file that does
    not load is one line and exit 2, not a traceback after the run has begun."""
    from agents import SettingsError, agent_settings, check_loads

    try:
        settings = agent_settings()
        if settings.embedded and settings.embedded_file is not None:
            check_loads(settings.embedded_file, threads=settings.embedded_threads)
        if settings.small_embedded and settings.small_embedded_file is not None:  # the cascade's small model
            check_loads(settings.small_embedded_file, threads=settings.embedded_threads)
    except (SettingsError, RuntimeError) as exc:
        _fail(str(exc))


def _prepare_embedded_model() -> None:
    """With no endpoint configured, join and verify the model before the run opens, with a progress bar."""
    from agents import ModelFilesError
    from agents import SettingsError, agent_settings
    from town.app.console import model_join_progress

    try:
        settings = agent_settings()
        if settings.embedded and settings.embedded_file is None:  # a user's own file needs no joining
            model_join_progress(settings.embedded_model)
        if settings.small_embedded and settings.small_embedded_file is None:  # the cascade's small model
            model_join_progress(settings.small_embedded_model)
    except (SettingsError, ModelFilesError) as exc:
        _fail(str(exc))
