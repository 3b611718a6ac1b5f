"""Credentials never survive redaction: URL userinfo, bearer headers, key fields, registered secrets, log records."""

from __future__ import annotations

import logging

from agents.llm.redact import RedactingFilter, RedactingFormatter, redact, register_secret


def test_userinfo_in_urls_is_masked():
    out = redact("connect to http://alice:s3cretKEY@10.0.0.5:8000/v1 failed; https://tok123@h/v1")
    assert "s3cretKEY" not in out and "alice" not in out and "tok123" not in out
    assert "http://***@10.0.0.5:8000/v1" in out and "https://***@h/v1" in out


def test_headers_key_fields_and_sk_keys_are_masked():
    text = ('Authorization: Bearer abcdef123456 {"api_key": "zzz999yyy"} ?api-key=qqq111 '
            'key sk-proj-ABCDEFGH12345678')
    out = redact(text)
    for secret in ("abcdef123456", "zzz999yyy", "qqq111", "sk-proj-ABCDEFGH12345678"):
        assert secret not in out
    assert "Bearer ***" in out


def test_registered_secret_is_masked_anywhere():
    register_secret("plainlookingvalue42")
    assert "plainlookingvalue42" not in redact("the key was plainlookingvalue42, see")
    assert redact("nothing secret here") == "nothing secret here"


def test_log_filter_and_formatter_mask_messages_args_and_tracebacks():
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(RedactingFormatter(logging.Formatter("%(message)s")))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    try:
        logger.warning("endpoint %s down", "http://u:hunter2hunter2@host/v1")
        try:
            raise RuntimeError("boom at http://u:traceback-secret@host/v1")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(records)
    assert "hunter2hunter2" not in joined and "traceback-secret" not in joined
    assert "http://***@host/v1" in joined
