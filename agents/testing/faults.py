"""What a misbehaving OpenAI-compatible server sends: one raw HTTP answer per scripted behaviour.

Each behaviour is what some real server, proxy or captive portal has been seen to do; the gateway must turn every
one of them into a retry, a counted fallback or one clear line, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Behaviour = Literal[
    "ok",          # a well-formed chat completion
    "garbage",     # well-formed envelope, prose instead of the requested JSON
    "empty",       # well-formed envelope, empty content
    "bad_json",    # 200 application/json whose body is not JSON
    "truncated",   # 200 application/json cut half-way (Content-Length matches the cut body)
    "html",        # 200 text/html: a proxy's or portal's page
    "no_choices",  # 200 JSON without a ``choices`` list
    "401", "403",  # the key is refused
    "429",         # rate limited, with a Retry-After header
    "500",         # server error
    "hang",        # answers only after ``hang_s`` (past the client's timeout)
    "reset",       # closes the connection with a TCP reset, no answer
]
BEHAVIOURS: tuple[str, ...] = Behaviour.__args__  # type: ignore[attr-defined]
ALIASES = {"timeout": "hang"}  # the name older tests used

GARBAGE = "Sure! Here is what you asked for, no JSON though."
HTML_PAGE = "<!DOCTYPE html><html><head><title>Login required</title></head><body><h1>Please log in</h1></body></html>"


@dataclass
class RawAnswer:
    """A response to write byte for byte (``reset``: none, the connection is torn down instead)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


def check_behaviour(name: str) -> str:
    """``name`` resolved through :data:`ALIASES`, or a ValueError naming the known behaviours."""
    name = ALIASES.get(name, name)
    if name not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(BEHAVIOURS)}")
    return name


def completion(content: str | None, body: dict[str, Any], n: int, model: str) -> dict[str, Any]:
    """A chat completion envelope around ``content`` (word counts stand in for token counts)."""
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    words = len((content or "").split())
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", model),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": words, "total_tokens": prompt_words + words},
    }


def _json(status: int, payload: dict[str, Any], **headers: str) -> RawAnswer:
    return RawAnswer(status, json.dumps(payload).encode(), headers=dict(headers))


def fault_answer(behaviour: str, ok_payload: dict[str, Any], *, retry_after_s: float) -> RawAnswer | None:
    """The raw answer for a faulty ``behaviour`` (None for ``ok`` and ``hang``: the normal answer is sent).

    ``ok_payload`` is the completion the server would have sent; ``garbage``/``empty``/``truncated`` derive from it.
    """
    if behaviour in ("ok", "hang"):
        return None
    if behaviour == "garbage":
        return _json(200, _with_content(ok_payload, GARBAGE))
    if behaviour == "empty":
        return _json(200, _with_content(ok_payload, ""))
    if behaviour == "bad_json":
        return RawAnswer(200, b"{'id': chatcmpl, choices: [oops")
    if behaviour == "truncated":
        whole = json.dumps(ok_payload).encode()
        return RawAnswer(200, whole[: len(whole) // 2])
    if behaviour == "html":
        return RawAnswer(200, HTML_PAGE.encode(), content_type="text/html; charset=utf-8")
    if behaviour == "no_choices":
        return _json(200, {k: v for k, v in ok_payload.items() if k != "choices"})
    if behaviour in ("401", "403"):
        msg = "Incorrect API key provided" if behaviour == "401" else "Your key has no access to this model"
        return _json(int(behaviour), {"error": {"message": msg, "type": "invalid_request_error", "code": behaviour}})
    if behaviour == "429":
        return _json(429, {"error": {"message": "rate limited (scripted)"}}, **{"Retry-After": f"{retry_after_s:g}"})
    if behaviour == "500":
        return _json(500, {"error": {"message": "internal error (scripted)"}})
    if behaviour == "reset":
        return RawAnswer(0, reset=True)
    raise ValueError(f"unknown behaviour {behaviour!r}")


def _with_content(payload: dict[str, Any], content: str) -> dict[str, Any]:
    choice = {**payload["choices"][0], "message": {"role": "assistant", "content": content}}
    return {**payload, "choices": [choice]}
