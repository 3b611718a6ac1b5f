"""A tiny OpenAI-compatible HTTP server on loopback, for tests and benchmarks; it answers or misbehaves on cue.

It answers ``POST /v1/chat/completions`` after ``delay_s`` with the content a handler produces (default: a minimal
JSON instance of the requested ``json_schema``, or ``"ok"`` for plain text), and ``GET /v1/models``. A script of
per-request behaviours (:mod:`agents.testing.faults`: garbage, empty, bad_json, truncated, html, no_choices, 401,
403, 429, 500, hang, reset) is consumed in order, then ``default`` applies. It counts requests and the most it had
in flight at once. Run as a process (``python -m agents.testing``) it prints ``listening URL`` and is
steered over HTTP: ``POST /control/script`` sets the script, ``GET /control/stats`` reads the counters.
With ``timings=(prompt ms per token, generation ms per token)`` an answer carries llama.cpp's ``timings`` and
``usage.prompt_tokens_details.cached_tokens``, computed from the request (see :func:`server_timings`).

    with FakeOpenAIServer(delay_s=0.3, script=["html", "500"]) as srv:
        llm = OpenAIChatLLM([srv.url], model="test-model")
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .faults import GARBAGE, RawAnswer, check_behaviour, completion, fault_answer

__all__ = ["GARBAGE", "FakeOpenAIServer", "default_handler", "example_for_schema", "main"]

Handler = Callable[[dict[str, Any]], "str | dict[str, Any]"]


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


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: 32+ clients connecting at once overflowed it and the kernel reset
    # the connections it could not queue (`town bench` died with "connection error" on a busy 2-core machine)
    request_queue_size = 1024
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout, reset) is expected here; anything else is printed as before."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """Loopback OpenAI-compatible chat server with counters and scripted faults. Use as a context manager."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        delay_s: float = 0.0,
        model: str = "test-model",
        script: list[str] | None = None,
        default: str = "ok",
        reject_json_schema: bool = False,
        hang_s: float = 5.0,
        retry_after_s: float = 1.0,
        timings: tuple[float, float] | None = None,
    ) -> None:
        self.handler = handler or default_handler
        self.timings = timings
        self._slot_prompt: list[str] = []  # the last prompt's words: the one slot's prefix cache
        self.delay_s = delay_s
        self.model = model
        self.set_script(script or [], default)
        self.reject_json_schema = reject_json_schema
        self.hang_s = hang_s
        self.retry_after_s = retry_after_s
        self.requests = 0  # chat completion requests received
        self.in_flight = 0
        self.max_in_flight = 0
        self.statuses: list[int] = []  # 0 for a reset connection
        self.served: list[str] = []  # the behaviour each request got, in arrival order
        self.arrivals: list[float] = []  # time.monotonic() of each request's arrival
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._port: int | None = None  # kept after stop(), so a test can aim at a dead endpoint

    def set_script(self, script: list[str], default: str = "ok") -> None:
        """Behaviours for the next requests, in order; ``default`` for every request after them."""
        self.script = [check_behaviour(b) for b in script]
        self.default = check_behaviour(default)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "max_in_flight": self.max_in_flight, "statuses": list(self.statuses),
                    "served": list(self.served), "arrivals": list(self.arrivals), "script_left": len(self.script)}

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
        self._httpd = _Server(("127.0.0.1", 0), _handler_class(self))
        self._port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True).start()
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
    def answer(self, body: dict[str, Any]) -> RawAnswer:
        """The raw answer to one chat completion request (counts it; sleeps for ``delay_s`` / ``hang_s``)."""
        with self._lock:
            self.requests += 1
            n = self.requests
            self.bodies.append(body)
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            behaviour = self.script.pop(0) if self.script else self.default
            self.served.append(behaviour)
        status = 0  # stays 0 if the handler raised
        try:
            raw = self._respond(body, behaviour, n)
            status = raw.status
        finally:
            with self._lock:
                self.in_flight -= 1
                self.statuses.append(status)
        return raw

    def _respond(self, body: dict[str, Any], behaviour: str, n: int) -> RawAnswer:
        if self.delay_s:
            time.sleep(self.delay_s)
        fmt = body.get("response_format") or {}
        if self.reject_json_schema and fmt.get("type") == "json_schema":
            msg = {"error": {"message": "response_format type json_schema is not supported", "code": 400}}
            return RawAnswer(400, json.dumps(msg).encode())
        if behaviour == "hang":
            time.sleep(self.hang_s)
        # the handler only runs for answers that carry its content (a counting handler counts real answers)
        answer = self.handler(body) if behaviour in ("ok", "hang", "truncated") else ""
        content = answer if isinstance(answer, str) else json.dumps(answer)
        ok = completion(content, body, n, self.model)
        if self.timings is not None:
            words = prompt_words(body)
            with self._lock:
                reused = 0 if body.get("cache_prompt") is False else common_prefix(self._slot_prompt, words)
                self._slot_prompt = words
            ok = server_timings(ok, reused, *self.timings)
        return fault_answer(behaviour, ok, retry_after_s=self.retry_after_s) or RawAnswer(200, json.dumps(ok).encode())


def prompt_words(body: dict[str, Any]) -> list[str]:
    """The prompt as the fake counts it (a word is a token, as in ``usage``)."""
    return [w for m in body.get("messages", []) for w in str(m.get("content", "")).split()]


def common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def server_timings(ok: dict[str, Any], reused: int, prompt_ms_per_token: float,
                   gen_ms_per_token: float) -> dict[str, Any]:
    """``ok`` with llama.cpp's ``timings`` added: ``reused`` prompt tokens from the cache, the rest evaluated at
    ``prompt_ms_per_token``, the completion generated at ``gen_ms_per_token`` (the server's clock, not the fake's)."""
    usage = ok["usage"]
    prompt_n = usage["prompt_tokens"] - reused
    gen_n = usage["completion_tokens"]
    timings = {
        "cache_n": reused, "prompt_n": prompt_n, "prompt_ms": prompt_n * prompt_ms_per_token,
        "prompt_per_token_ms": prompt_ms_per_token, "prompt_per_second": 1000 / prompt_ms_per_token,
        "predicted_n": gen_n, "predicted_ms": gen_n * gen_ms_per_token,
        "predicted_per_token_ms": gen_ms_per_token, "predicted_per_second": 1000 / gen_ms_per_token,
    }
    return {**ok, "usage": {**usage, "prompt_tokens_details": {"cached_tokens": reused}}, "timings": timings}


def _handler_class(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def do_GET(self) -> None:
            path = self.path.rstrip("/")
            if path in ("/v1/models", "/models"):
                self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
            elif path == "/health":
                self._json(200, {"status": "ok"})
            elif path == "/control/stats":
                self._json(200, server.stats())
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            path = self.path.rstrip("/")
            if path == "/control/script":
                try:
                    server.set_script(list(body.get("script", [])), body.get("default", "ok"))
                except ValueError as exc:
                    self._json(400, {"error": {"message": str(exc)}})
                    return
                self._json(200, {"ok": True})
            elif path in ("/v1/chat/completions", "/chat/completions"):
                self._write(server.answer(body))
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._write(RawAnswer(status, json.dumps(payload).encode()))

        def _write(self, raw: RawAnswer) -> None:
            if raw.reset:  # SO_LINGER 0: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            try:
                self.send_response(raw.status)
                self.send_header("Content-Type", raw.content_type)
                self.send_header("Content-Length", str(len(raw.body)))
                for name, value in raw.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (hang past its timeout)
                self.close_connection = True

    return _Handler


def main(argv: list[str] | None = None) -> None:
    """Serve in this process until killed or SIGTERM: ``python -m agents.testing [options]``.

    Prints ``listening <base URL>`` on a line of its own once it accepts requests (the port is chosen by the
    system), so a test can run it as a real process on loopback, kill it mid-run, or script its faults.
    """
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(prog="python -m agents.testing", description="a loopback OpenAI-compatible test server")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="test-model", help="the model name /v1/models reports")
    parser.add_argument("--script", default="", help="comma-separated behaviours for the first requests")
    parser.add_argument("--default", default="ok", help="behaviour after the script")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds a 'hang' request waits before answering")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of a '429', in seconds")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    script = [b for b in args.script.split(",") if b]
    with FakeOpenAIServer(delay_s=args.delay, model=args.model, script=script, default=args.default,
                          hang_s=args.hang, retry_after_s=args.retry_after) as srv:
        print(f"listening {srv.url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    sys.exit(0)

