"""One endpoint of the gateway's pool: its client, counters and health, and what its failures mean.

Failures come in three kinds: worth a retry elsewhere or later (timeouts, resets, 5xx, 429, a malformed answer:
:class:`~agents.llm.base.LLMError`), fatal for the run (a refused key, an unknown model or URL:
:class:`LLMEndpointError`), and a whole pool down for a sustained stretch (:class:`LLMOutage`). Every message
names the endpoint with its credentials masked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import openai

from .redact import redact

if TYPE_CHECKING:
    import httpx

FATAL_STATUSES = (401, 403, 404)  # wrong key / model / URL: retrying cannot help


class LLMEndpointError(RuntimeError):
    """An endpoint refuses us for a reason no retry fixes (bad key, unknown model or URL). One line, redacted."""


class LLMOutage(RuntimeError):
    """Every endpoint failed for a sustained stretch: stop the run at its last checkpoint instead of falling back."""


@dataclass
class EndpointStats:
    requests: int = 0
    ok: int = 0
    failures: int = 0  # timeouts, connection errors, 5xx, 429, malformed answers
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    empty_answers: int = 0  # a well-formed answer with no content: the answer's fault, retried, not the endpoint's
    bad_requests: int = 0  # other 4xx: the request's fault, not the endpoint's
    times_parked: int = 0
    max_in_flight: int = 0
    latency_s: float = 0.0
    waited_s: float = 0.0  # backoff and Retry-After sleeps after this endpoint's failures
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Endpoint:
    url: str
    client: openai.AsyncOpenAI
    in_flight: int = 0
    consecutive_failures: int = 0
    parked_until: float = 0.0
    json_object_mode: bool = False  # this server rejected json_schema response formats
    stats: EndpointStats = field(default_factory=EndpointStats)

    @property
    def label(self) -> str:
        """The URL as it may be logged, stored or shown: userinfo and keys masked."""
        return redact(self.url)

    def count_failure(self, kind: str) -> None:
        self.stats.failures += 1
        self.stats.failures_by_kind[kind] = self.stats.failures_by_kind.get(kind, 0) + 1
        self.consecutive_failures += 1

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.label,
            "in_flight": self.in_flight,
            "parked": self.parked_until > time.monotonic(),
            "json_object_mode": self.json_object_mode,
            **self.stats.__dict__,
            "failures_by_kind": dict(sorted(self.stats.failures_by_kind.items())),
            "latency_s": round(self.stats.latency_s, 3),
            "waited_s": round(self.stats.waited_s, 3),
        }


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters, credentials masked (for messages built from answers)."""
    return redact(" ".join(str(text).split()))[:limit]


def fatal_error(ep_label: str, model: str, exc: openai.APIStatusError) -> LLMEndpointError:
    """The one line a user needs for a 401/403/404: which endpoint, what it said, what to check."""
    status, said = exc.status_code, one_line(exc.message)
    if status in (401, 403):
        hint = "check OPENAI_API_KEY (or TOWN_API_KEY) and the key's access to this model"
        return LLMEndpointError(f"LLM endpoint {ep_label} refused the request (HTTP {status}: {said}); {hint}")
    return LLMEndpointError(
        f"LLM endpoint {ep_label} answered HTTP {status} for model {model!r} ({said}); "
        "check the base URL (it usually ends in /v1) and TOWN_MODEL"
    )


def retry_after_s(response: httpx.Response | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date), if any."""
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError, OverflowError):
        return None  # a header we cannot read: plain backoff


def envelope_problem(resp: Any) -> str | None:
    """Why ``resp`` is not a usable chat completion (an HTML page, no ``choices``, no message), or None."""
    if isinstance(resp, (str, bytes)):
        return f"not a chat completion: {one_line(resp if isinstance(resp, str) else resp.decode('utf-8', 'replace'), 80)!r}"
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not choices:
        return "answer without choices"
    if getattr(choices[0], "message", None) is None:
        return "answer without a message"
    return None
