"""A tiny OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` after ``delay_s`` with the content a handler produces
(default: a minimal JSON instance of the requested ``json_schema``, or ``"ok"`` for plain text), and
``GET /v1/models``. It counts requests and the most requests it had in flight at once, and can be told
to misbehave: a script of per-request behaviours (``"500"``, ``"429"``, ``"garbage"``, ``"timeout"``)
consumed in order, or ``reject_json_schema`` (a 400 naming ``response_format``, as some servers do).

    with FakeOpenAIServer(delay_s=0.3) as srv:
        llm = OpenAIChatLLM([srv.url], model="test-model")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Behaviour = Literal["ok", "500", "429", "garbage", "timeout"]
Handler = Callable[[dict[str, Any]], "str | dict[str, Any]"]

GARBAGE = "Sure! Here is what you asked for, no JSON though."


def example_for_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A minimal instance satisfying a (pydantic-generated) JSON schema."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example_for_schema(defs[name], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return example_for_schema(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_for_schema(sub, defs) for name, sub in props.items()}
    if kind == "array":
        n = schema.get("minItems", 0)
        return [example_for_schema(schema.get("items", {}), defs) for _ in range(n)]
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
    if kind == "number":
        return float(schema.get("minimum", 0.0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    raise ValueError(f"example_for_schema: unsupported schema type {kind!r}")


def default_handler(body: dict[str, Any]) -> str | dict[str, Any]:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return example_for_schema(fmt["json_schema"]["schema"])
    if fmt.get("type") == "json_object":
        return {}
    return "ok"


class FakeOpenAIServer:
    """Loopback OpenAI-compatible chat server with counters. Use as a context manager."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        delay_s: float = 0.0,
        model: str = "test-model",
        script: list[Behaviour] | None = None,
        reject_json_schema: bool = False,
        hang_s: float = 5.0,
    ) -> None:
        self.handler = handler or default_handler
        self.delay_s = delay_s
        self.model = model
        self.script: list[Behaviour] = list(script or [])
        self.reject_json_schema = reject_json_schema
        self.hang_s = hang_s
        self.requests = 0  # chat completion requests received
        self.in_flight = 0
        self.max_in_flight = 0
        self.statuses: list[int] = []
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None  # kept after stop(), so a test can aim at a dead endpoint

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeOpenAIServer was never started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return None

            def do_GET(self) -> None:
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                elif self.path == "/health":
                    self._send(200, {"status": "ok"})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                status, payload = server._answer(body)
                self._send(status, payload)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour ----------------------------------------------------------------------------
    def _answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            behaviour: Behaviour = self.script.pop(0) if self.script else "ok"
        try:
            status, payload = self._respond(body, behaviour)
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.statuses.append(status)
        return status, payload

    def _respond(self, body: dict[str, Any], behaviour: Behaviour) -> tuple[int, dict[str, Any]]:
        if self.delay_s:
            time.sleep(self.delay_s)
        fmt = body.get("response_format") or {}
        if self.reject_json_schema and fmt.get("type") == "json_schema":
            return 400, {"error": {"message": "response_format type json_schema is not supported", "code": 400}}
        if behaviour == "500":
            return 500, {"error": {"message": "internal error (scripted)"}}
        if behaviour == "429":
            return 429, {"error": {"message": "rate limited (scripted)"}}
        if behaviour == "timeout":
            time.sleep(self.hang_s)
        answer = GARBAGE if behaviour == "garbage" else self.handler(body)
        content = answer if isinstance(answer, str) else json.dumps(answer)
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return 200, {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": len(content.split()),
                "total_tokens": prompt_words + len(content.split()),
            },
        }


def main(argv: list[str] | None = None) -> None:
    """Serve in this process until killed or SIGTERM:
    ``python -c "from agents.llm.testserver import main; main()" [--delay S] [--model NAME]``.

    Prints ``listening <base URL>`` on a line of its own once it accepts requests (for tests that need
    a real server process on loopback, e.g. one of a pool that is killed mid-run).
    """
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(prog="agents.llm.testserver", description="a loopback OpenAI-compatible test server")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="test-model", help="the model name /v1/models reports")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FakeOpenAIServer(delay_s=args.delay, model=args.model) as srv:
        print(f"listening {srv.url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    sys.exit(0)
