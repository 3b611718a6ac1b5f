"""A Chroma server process on loopback: ``chroma run`` started, heartbeat-checked and stopped.

The memory store talks to it through ``MemoryStore.http``; this file only manages the process
(the bench and the server tests share one per run folder).
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
        return True


class ChromaServer:
    """A ``chroma run`` subprocess on loopback. Use as a context manager (or call :meth:`stop`)."""

    def __init__(self, path: Path, port: int | None = None, *, host: str = "127.0.0.1", timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.host = host
        self.port = port or free_port(host)
        self.timeout_s = timeout_s
        self.log_path = self.path.parent / f"{self.path.name}.chroma.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @staticmethod
    def executable() -> Path:
        """The ``chroma`` CLI installed next to the running Python."""
        exe = Path(sys.executable).parent / ("chroma.exe" if os.name == "nt" else "chroma")
        if not exe.is_file():
            raise FileNotFoundError(f"chroma CLI not found at {exe} (is chromadb installed in this environment?)")
        return exe

    def start(self) -> ChromaServer:
        if self.process is not None:
            raise RuntimeError(f"chroma server on {self.url} already started")
        if not _port_free(self.host, self.port):
            raise RuntimeError(f"cannot start chroma server: {self.host}:{self.port} is already in use")
        self.path.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        cmd = [str(self.executable()), "run", "--path", str(self.path), "--host", self.host, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma server exited with {self.process.returncode}: {self._log_tail()}")
            if self.heartbeat():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"chroma server on {self.url} gave no heartbeat in {self.timeout_s}s: {self._log_tail()}")

    def heartbeat(self) -> bool:
        """True when the server answers its heartbeat endpoint."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server; kill it if it does not exit within ``timeout_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)

    def _log_tail(self, n: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else "(no log)"

    def __enter__(self) -> ChromaServer:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_chroma_server(path: Path, port: int | None = None, *, host: str = "127.0.0.1", timeout_s: float = 60.0) -> ChromaServer:
    """Start ``chroma run --path PATH`` on ``host:port`` (a free port if None) and wait for its heartbeat.

    The result is a context manager that stops the server on exit::

        with start_chroma_server(tmp / "chroma") as server:
            store = MemoryStore.http(server.host, server.port, namespace="bench")
    """
    return ChromaServer(path, port, host=host, timeout_s=timeout_s).start()
