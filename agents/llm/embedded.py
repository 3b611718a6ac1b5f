"""The embedded default LLM: llama.cpp's OpenAI-compatible HTTP server, in-process, via ``xllamacpp``.

The server listens on a free loopback port; :attr:`EmbeddedServer.base_url` is what the gateway
(:class:`~agents.llm.openai_backend.OpenAIChatLLM`) talks to, so the embedded model and a remote
server share one code path. ``cache_prompt`` is on: the cognition prompts are laid out
system -> persona -> memories -> question, so consecutive requests of one agent reuse the KV
prefix. The total context is split evenly between ``parallel`` slots.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger("agents.llm.embedded")

QUIET = -1  # llama.cpp log verbosity threshold that keeps its logs off stderr


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """llama.cpp server for one GGUF file on 127.0.0.1. Start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        ctx: int = 8192,
        parallel: int = 4,
        threads: int = 2,
        port: int | None = None,
        verbose: bool = False,
        ready_timeout_s: float = 120.0,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"embedded model file {self.model_path} does not exist")
        if ctx // parallel < 512:
            raise ValueError(f"ctx={ctx} over parallel={parallel} slots leaves under 512 tokens per slot")
        self.ctx = ctx
        self.parallel = parallel
        self.threads = threads
        self.port = port
        self.verbose = verbose
        self.ready_timeout_s = ready_timeout_s
        self.start_s: float | None = None  # seconds the last start took (load + ready)
        self._server: object | None = None

    @property
    def model_name(self) -> str:
        """The name requests carry: the model's file name."""
        return self.model_path.name

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._server is None or self.port is None:
            raise RuntimeError("EmbeddedServer is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> EmbeddedServer:
        """Load the model and serve; blocks until ``/health`` answers (run it in a thread from async code)."""
        if self._server is not None:
            return self
        import xllamacpp as xlc  # heavy native module: imported only when the embedded model is used

        params = xlc.CommonParams()
        params.model.path = str(self.model_path)
        params.model_alias = {self.model_name}
        params.hostnames = ["127.0.0.1"]
        params.port = self.port or free_port()
        params.n_ctx = self.ctx
        params.n_parallel = self.parallel
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.cache_prompt = True
        params.warmup = False
        if not self.verbose:
            params.verbosity = QUIET
        t0 = time.perf_counter()
        try:
            self._server = xlc.Server(params)
        except Exception as exc:  # the native side reports load failures as generic exceptions
            raise RuntimeError(f"embedded llama.cpp server failed to start with {self.model_path}: {exc}") from exc
        self.port = params.port
        self._wait_ready()
        self.start_s = time.perf_counter() - t0
        log.info(
            "embedded LLM %s serving at %s (%d slots x %d ctx, %d threads, started in %.1f s)",
            self.model_name, self.base_url, self.parallel, self.ctx // self.parallel, self.threads, self.start_s,
        )
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        url = f"http://127.0.0.1:{self.port}/health"
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except (urllib.error.URLError, OSError) as exc:  # loading (503) or not listening yet
                last = str(exc)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"embedded llama.cpp server at {url} not ready after {self.ready_timeout_s:.0f} s: {last}")

    def stop(self) -> None:
        """Stop serving (xllamacpp shuts the server down when the object is released)."""
        if self._server is not None:
            log.info("stopping embedded LLM at port %s", self.port)
            self._server = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_loads(model_path: str | Path, *, threads: int = 1) -> str:
    """Start the server on ``model_path`` with one small slot, ask ``/v1/models``, stop; the model id it serves.

    Raises RuntimeError (one line naming the file) when the file does not load or the server does not answer:
    a user's own GGUF file is checked so before a run writes anything.
    """
    import json

    server = EmbeddedServer(model_path, ctx=2048, parallel=1, threads=threads)
    try:
        server.start()
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=30) as resp:
            models = [m["id"] for m in json.loads(resp.read())["data"]]
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuntimeError(f"{model_path}: not a GGUF model the embedded server can load ({reason})") from exc
    finally:
        server.stop()
    if not models:
        raise RuntimeError(f"{model_path}: the embedded server loaded it but lists no model")
    return models[0]
