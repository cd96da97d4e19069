"""Credentials out of every message: the one place that decides what is secret.

A secret is (1) the userinfo of any URL (``https://user:pass@host`` -> ``https://***@host``),
(2) the value of any environment variable whose name says it is a secret (PASSWORD, SECRET,
TOKEN, API_KEY, or a Slack/ops webhook URL, whose path is its credential), and (3) whatever
the code registers when it reads a secret from a name given in configuration (a channel's
``secret_env``). ``redact`` is applied to exception messages the project raises or records,
and a logging filter applies it to every log line.
"""

from __future__ import annotations

import logging
import os
import re

MASK = "***"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|WEBHOOK_URL|_DSN$", re.IGNORECASE)
USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
# Shorter values ("1", "true") would mask ordinary words.
MIN_SECRET_LENGTH = 6

_registered: set[str] = set()


def register(value: str | None) -> None:
    """Treat ``value`` as a secret from now on in this process."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _registered.add(value)


def known_secrets() -> set[str]:
    from_env = {
        value
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    }
    return from_env | _registered


def redact(text: str) -> str:
    """``text`` without URL userinfo or any known secret value."""
    text = USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    # Longest first: a secret that contains another must not be half-masked.
    for secret in sorted(known_secrets(), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record's message and traceback once, before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of ``logger`` (the root logger by default): handler
    filters see records of every logger that propagates there, logger filters do not."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
