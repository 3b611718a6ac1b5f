"""Rendering the report's sections to HTML (one self-contained page) or Markdown (PNGs beside it).

Markup lives in ``templates/report.{html,md}.j2``. The HTML template is autoescaped, because the
logged text it shows (chat lines, reflections, plans) comes from the agents and is untrusted.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Literal

import jinja2
from matplotlib.figure import Figure

from town.app.report.loading import load_run
from town.app.report.content import Section, sections

TEMPLATES = Path(__file__).parent / "templates"


def _fmt(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _md_cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def _environment(fmt: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=fmt == "html",
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=False)
    env.filters["cell"] = _fmt
    env.filters["mdcell"] = _md_cell
    return env


def _images(sec: Section, fmt: str, out: Path) -> list[tuple[str, str]]:
    """Each figure as an image source: a data URL for HTML, a PNG file written beside ``out`` for Markdown."""
    images = []
    for name, fig in sec.figures:
        data = _png(fig)
        if fmt == "html":
            images.append((name, "data:image/png;base64," + base64.b64encode(data).decode("ascii")))
        else:
            png = out.with_name(f"{out.stem}-{name}.png")
            png.write_bytes(data)
            images.append((name, png.name))
    return images


def render_text(secs: list[Section], title: str, fmt: Literal["html", "md"], out: Path) -> str:
    """The report's text; for Markdown, also writes the figures as ``OUT-NAME.png`` beside ``out``."""
    ctx = [{"title": s.title, "text": s.text, "tables": s.tables, "images": _images(s, fmt, out)} for s in secs]
    return _environment(fmt).get_template(f"report.{fmt}.j2").render(title=title, sections=ctx)


def build_report(run_dir: Path, out: Path | None = None, fmt: Literal["html", "md"] = "html") -> Path:
    """Write a report of the run in ``run_dir``; returns its path (default ``RUN/report.html`` or ``.md``)."""
    if fmt not in ("html", "md"):
        raise ValueError(f"report format must be 'html' or 'md', not {fmt!r}")
    run = load_run(Path(run_dir))
    out = Path(out) if out is not None else run.run_dir / f"report.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render_text(sections(run), f"Town run report: {run.run_dir.name}", fmt, out)
    out.write_text(text, encoding="utf-8")
    return out
