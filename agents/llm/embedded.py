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
from typing import Any

log = logging.getLogger("agents.llm.embedded")

QUIET = -1  # llama.cpp log verbosity threshold that keeps its logs off stderr
#: speculative decoding: none, n-gram lookup in the prompt and answer so far, or a small draft model
SPECULATIVE = ("none", "ngram", "draft")


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
        speculative: str = "none",
        draft_path: str | Path | None = None,
        draft_max: int = 8,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"embedded model file {self.model_path} does not exist")
        if speculative not in SPECULATIVE:
            raise ValueError(f"speculative must be one of {', '.join(SPECULATIVE)}, got {speculative!r}")
        self.draft_path = Path(draft_path) if draft_path is not None else None
        if speculative == "draft" and (self.draft_path is None or not self.draft_path.is_file()):
            raise FileNotFoundError(f"speculative decoding needs a draft model file; {self.draft_path} does not exist")
        if not 1 <= draft_max <= 64:
            raise ValueError(f"draft_max must be 1..64 tokens, got {draft_max}")
        self.speculative = speculative
        self.draft_max = draft_max
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

    def params(self) -> Any:
        """The llama.cpp server parameters (``xllamacpp.CommonParams``) :meth:`start` serves with."""
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
        kinds = type(params.speculative.types[0])
        if self.speculative == "ngram":  # drafts copied from earlier text of the same prompt and answer
            params.speculative.types = [kinds.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
        elif self.speculative == "draft":  # a small model of the same tokenizer drafts, the model checks
            params.speculative.types = [kinds.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
            draft = params.speculative.draft
            draft.mparams.path = str(self.draft_path)
            draft.n_max = self.draft_max
            draft.cpuparams.n_threads = self.threads
            draft.cpuparams_batch.n_threads = self.threads
        return params

    def start(self) -> EmbeddedServer:
        """Load the model and serve; blocks until ``/health`` answers (run it in a thread from async code)."""
        if self._server is not None:
            return self
        import xllamacpp as xlc

        params = self.params()
        t0 = time.perf_counter()
        try:
            self._server = xlc.Server(params)
        except Exception as exc:  # the native side reports load failures as generic exceptions
            raise RuntimeError(f"embedded llama.cpp server failed to start with {self.model_path}: {exc}") from exc
        self.port = params.port
        self._wait_ready()
        self.start_s = time.perf_counter() - t0
        log.info(
            "embedded LLM %s serving at %s (%d slots x %d ctx, %d threads, speculative decoding: %s, started in %.1f s)",
            self.model_name, self.base_url, self.parallel, self.ctx // self.parallel, self.threads,
            self.speculative if self.speculative != "draft" else f"draft {self.draft_path.name} x{self.draft_max}",  # type: ignore[union-attr]
            self.start_s,
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
