"""The fault-injection test server as a real process on loopback, steered over HTTP from the test.

    with ServerProcess(script=["html", "500"]) as srv:   # python -m agents.testing
        ... srv.url ...; srv.set_script(["reset"] * 3); srv.stats()["served"]
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any


class ServerProcess:
    """``python -m agents.testing`` started on a system-chosen port; killed on exit."""

    def __init__(self, *, script: list[str] | None = None, default: str = "ok", delay_s: float = 0.0,
                 hang_s: float = 30.0, retry_after_s: float = 1.0, model: str = "test-model") -> None:
        self.args = ["--script", ",".join(script or []), "--default", default, "--delay", str(delay_s),
                     "--hang", str(hang_s), "--retry-after", str(retry_after_s), "--model", model]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "agents.testing", *self.args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"test server process did not start: {line!r}")
        self.url = line.split()[1]
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        root = self.url.removesuffix("/v1")
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(root + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def set_script(self, script: list[str], default: str = "ok") -> None:
        """The next requests' behaviours, then ``default`` (see :mod:`agents.testing.faults`)."""
        self._call("/control/script", {"script": script, "default": default})

    def stats(self) -> dict[str, Any]:
        """requests, max_in_flight, statuses, served (behaviour per request), arrivals, script_left."""
        return self._call("/control/stats")
