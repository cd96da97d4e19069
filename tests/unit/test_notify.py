"""Alert channels against real loopback receivers: webhook (signed), Slack, email, log."""

from __future__ import annotations

import hashlib
import hmac
import json
import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest

from news_ingest.alerting.notify import deliver, idempotency_key, payload
from news_ingest.text.watchlists import EmailChannel, LogChannel, SlackChannel, WebhookChannel
from tests.conftest import Receiver

ALERT = {
    "_id": "a1",
    "watchlist": "karabakh",
    "watchlist_name": "Nagorno-Karabakh",
    "severity": "high",
    "url": "https://sarabic.ae/20201024/x.html",
    "title": "بوتين وماكرون يؤكدان أهمية امتثال الأطراف في قره باغ",
    "surface_forms": ["قره باغ"],
    "snippet": "... في قره باغ لاتفاقات ...",
    "delivered": [],
}


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP on 127.0.0.1 to receive one message per connection."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.messages: list[Message] = []
        super().__init__(("127.0.0.1", 0), SmtpHandler)


class SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sink = self.server
        assert isinstance(sink, SmtpSink)
        self.wfile.write(b"220 sink\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 sink\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                sink.messages.append(message_from_bytes(data))
                self.wfile.write(b"250 ok\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    yield sink
    sink.shutdown()
    sink.server_close()


def test_webhook_is_signed_when_a_secret_is_configured(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_INGEST_HOOK_SECRET", "s3cret")
    channel = WebhookChannel(type="webhook", url=receiver.url, secret_env="NEWS_INGEST_HOOK_SECRET")
    delivered, errors = deliver([channel], ALERT)
    assert errors == [] and delivered == [f"webhook:{receiver.url}"]
    (body,) = receiver.received
    key = idempotency_key(str(ALERT["_id"]), f"webhook:{receiver.url}")
    assert body == payload(ALERT, key)
    (headers,) = receiver.headers
    assert headers["Idempotency-Key"] == key == body["idempotency_key"]
    expected = hmac.new(
        b"s3cret", json.dumps(body, ensure_ascii=False).encode(), hashlib.sha256
    ).hexdigest()
    assert headers["X-News-Ingest-Signature"] == f"sha256={expected}"


def test_slack_url_comes_from_the_environment(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_INGEST_SLACK_URL", receiver.url)
    channel = SlackChannel(type="slack", webhook_url_env="NEWS_INGEST_SLACK_URL", channel="#ops")
    assert deliver([channel], ALERT) == (["slack:NEWS_INGEST_SLACK_URL"], [])
    (message,) = receiver.received
    assert message["channel"] == "#ops"
    assert "قره باغ" in str(message["text"]) and "[high]" in str(message["text"])


def test_email_goes_through_smtp(smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_INGEST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWS_INGEST_SMTP_PORT", str(smtp.server_address[1]))
    channel = EmailChannel(type="email", to=["analysts@example.org"])
    assert deliver([channel], ALERT) == (["email:analysts@example.org"], [])
    (message,) = smtp.messages
    assert message["To"] == "analysts@example.org"
    assert "Nagorno-Karabakh" in str(message["Subject"])


def test_a_failing_channel_is_recorded_and_the_others_are_not_resent(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    hook = WebhookChannel(type="webhook", url=receiver.url)
    slack = SlackChannel(type="slack", webhook_url_env="NEWS_INGEST_UNSET_SLACK_URL")
    log = LogChannel(type="log")
    delivered, errors = deliver([hook, slack, log], ALERT)
    assert delivered == [f"webhook:{receiver.url}", "log"]
    assert len(errors) == 1 and "NEWS_INGEST_UNSET_SLACK_URL is not set" in errors[0]
    assert "event=alert" in caplog.text
    # The next run retries only what failed: the webhook is not called a second time.
    again, _ = deliver([hook, slack, log], {**ALERT, "delivered": delivered})
    assert again == delivered
    assert len(receiver.received) == 1
