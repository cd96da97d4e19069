"""Delivering alerts to the channels a watchlist names: webhook, Slack, email, log.

Each channel is a small function that raises on failure; ``deliver`` calls the channels an
alert has not reached yet and reports which succeeded, so one failing channel never makes
another one send twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any

import httpx
from tenacity import retry, stop_after_attempt, wait_exponential

from news_ingest.redaction import redact, register
from news_ingest.text.watchlists import (
    Channel,
    EmailChannel,
    LogChannel,
    SlackChannel,
    WebhookChannel,
)

log = logging.getLogger(__name__)

PUBLIC_FIELDS = (
    "story_id",
    "watchlist",
    "watchlist_name",
    "severity",
    "url",
    "title",
    "source",
    "language",
    "matched",
    "surface_forms",
    "snippet",
    "published_at",
    "fetched_at",
    "first_seen_at",
    "alerted_at",
    "latency_published_seconds",
    "latency_first_seen_seconds",
    "latency_fetched_seconds",
)


OPTIONAL_FIELDS = ("digest", "stories", "kind", "edit_of", "revision", "edited_at", "changes")


class DeliveryError(RuntimeError):
    pass


def channel_key(channel: Channel) -> str:
    """A stable name for a channel, recorded in ``delivered`` once it succeeded."""
    if isinstance(channel, WebhookChannel):
        return f"webhook:{redact(str(channel.url))}"
    if isinstance(channel, SlackChannel):
        return f"slack:{channel.webhook_url_env}"
    if isinstance(channel, EmailChannel):
        return "email:" + ",".join(channel.to)
    return "log"


def idempotency_key(alert_id: str, channel: str) -> str:
    """The same for every resend of one alert to one channel: receivers drop repeats by it."""
    return hashlib.sha256(f"{alert_id}\x1f{channel}".encode()).hexdigest()[:32]


def payload(alert: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {
        "alert_id": alert["_id"],
        "idempotency_key": key,
        **{name: alert.get(name) for name in PUBLIC_FIELDS},
        # A digest (news_ingest.alerting.digests) carries its list of stories, an edit
        # (news_ingest.alerting.edits) what changed and the alert it follows.
        **{name: alert[name] for name in OPTIONAL_FIELDS if name in alert},
    }


def summary(alert: Mapping[str, Any]) -> str:
    matched = ", ".join(alert.get("surface_forms") or alert.get("matched") or [])
    edited = f"edited (revision {alert.get('revision')}): " if alert.get("kind") == "edited" else ""
    return (
        f"[{alert.get('severity')}] {alert.get('watchlist_name')}: {edited}{alert.get('title')} "
        f"({matched}) {alert.get('url')}"
    )


@retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
def post_json(url: str, body: bytes, headers: Mapping[str, str]) -> None:
    response = httpx.post(
        url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=10
    )
    if response.status_code >= 300:
        raise DeliveryError(redact(f"{url} answered {response.status_code}"))


def _required(env_name: str) -> str:
    value = os.environ.get(env_name)
    if not value:
        raise DeliveryError(f"environment variable {env_name} is not set")
    return value


def _secret(env_name: str) -> str:
    """A credential named in configuration: from now on redacted wherever it would appear."""
    value = _required(env_name)
    register(value)
    return value


def send(channel: Channel, alert: Mapping[str, Any]) -> None:
    key = idempotency_key(alert["_id"], channel_key(channel))
    if isinstance(channel, WebhookChannel):
        body = json.dumps(payload(alert, key), ensure_ascii=False).encode()
        headers = {"Idempotency-Key": key}
        if channel.secret_env:
            signing_key = _secret(channel.secret_env).encode()
            signature = hmac.new(signing_key, body, hashlib.sha256).hexdigest()
            headers["X-News-Ingest-Signature"] = f"sha256={signature}"
        post_json(str(channel.url), body, headers)
    elif isinstance(channel, SlackChannel):
        message: dict[str, Any] = {"text": summary(alert) + "\n> " + str(alert.get("snippet"))}
        if channel.channel:
            message["channel"] = channel.channel
        post_json(_secret(channel.webhook_url_env), json.dumps(message).encode(), {})
    elif isinstance(channel, EmailChannel):
        _send_email(channel, alert, key)
    elif isinstance(channel, LogChannel):
        level = logging.getLevelName(channel.level.upper())
        log.log(level, "event=alert idempotency_key=%s %s", key, summary(alert))


def _send_email(channel: EmailChannel, alert: Mapping[str, Any], key: str) -> None:
    host = _required("NEWS_INGEST_SMTP_HOST")
    message = EmailMessage()
    message["Subject"] = summary(alert)[:200]
    message["From"] = os.environ.get("NEWS_INGEST_SMTP_FROM", "news-ingest@localhost")
    message["To"] = ", ".join(channel.to)
    message["Message-ID"] = f"<{key}@news-ingest>"
    message.set_content(json.dumps(payload(alert, key), ensure_ascii=False, indent=2))
    port = int(os.environ.get("NEWS_INGEST_SMTP_PORT", "25"))
    with smtplib.SMTP(host, port, timeout=15) as smtp:
        if os.environ.get("NEWS_INGEST_SMTP_STARTTLS", "").lower() == "true":
            smtp.starttls()
        user = os.environ.get("NEWS_INGEST_SMTP_USER")
        if user:
            smtp.login(user, _secret("NEWS_INGEST_SMTP_PASSWORD"))
        smtp.send_message(message)


def deliver(
    channels: Sequence[Channel],
    alert: Mapping[str, Any],
    on_progress: Callable[[list[str]], None] | None = None,
) -> tuple[list[str], list[str]]:
    """Send to every channel not yet delivered; returns (delivered keys, errors).
    ``on_progress`` sees the delivered keys after each channel that succeeded."""
    delivered = list(alert.get("delivered") or [])
    errors = []
    for channel in channels:
        key = channel_key(channel)
        if key in delivered:
            continue
        try:
            send(channel, alert)
        except Exception as exc:  # any channel failure is recorded on the alert, not raised
            error = redact(f"{key}: {type(exc).__name__}: {exc}")[:500]
            errors.append(error)
            log.warning("event=notify_failed alert=%s error=%s", alert["_id"], error)
        else:
            delivered.append(key)
            if on_progress is not None:
                on_progress(list(delivered))
    return delivered, errors
