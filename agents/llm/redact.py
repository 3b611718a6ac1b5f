"""Secrets out of everything we log, store or report: URL userinfo, API keys, Authorization headers.

``redact(text)`` masks what looks like a credential; ``register_secret(value)`` adds a configured key (read from
settings) so that it is masked verbatim wherever it shows up, even where it has no tell-tale shape.
``RedactingFilter`` applies the same to every log record that passes through a handler.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()

# scheme://user:password@host or scheme://token@host -> scheme://***@host
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@'\"<>]+)@")
# Authorization: Bearer xyz / "authorization": "Basic xyz"
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|token)?\s*([^\s'\",}]+)")
# api_key=..., api-key: ..., "api_key": "..." (query strings, dict reprs, JSON)
_KEY_FIELD = re.compile(r"(?i)((?:api[_-]?key|access[_-]?token|secret)['\"]?\s*[:=]\s*['\"]?)([^\s'\"&,}]+)")
# OpenAI-style keys: sk-..., sk-proj-...
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")


def register_secret(value: str | None) -> None:
    """Mask this exact string from now on (ignored when empty or too short to be a real secret)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every credential we can recognise replaced by ``***``."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        text = text.replace(s, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{(m.group(2) + ' ') if m.group(2) else ''}{MASK}", text)
    text = _KEY_FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _SK.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (with its args merged) so no handler ever sees a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a malformed %-format is the logging module's to report, not ours
            return True
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter so the whole formatted record, traceback included, is redacted."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))
