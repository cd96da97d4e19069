"""Credentials never reach a message or a log line (pure)."""

from __future__ import annotations

import logging

import pytest

from news_ingest.redaction import MASK, RedactingFilter, redact, register


def test_url_userinfo_is_masked() -> None:
    text = "Elasticsearch at https://elastic:s3cr3t-pass@es.example:9200 is unreachable"
    assert redact(text) == f"Elasticsearch at https://{MASK}@es.example:9200 is unreachable"
    assert redact("see http://token@host/x and ftp://u:p@h") == (
        f"see http://{MASK}@host/x and ftp://{MASK}@h"
    )


def test_secret_environment_values_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_INGEST_ES_PASSWORD", "hunter2-long")
    monkeypatch.setenv("NEWS_INGEST_ES_API_KEY", "a2V5LWlkOmtleQ==")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example/T000/B000/XXXX")
    message = (
        "auth hunter2-long key a2V5LWlkOmtleQ== posting to https://hooks.example/T000/B000/XXXX"
    )
    assert redact(message) == f"auth {MASK} key {MASK} posting to {MASK}"


def test_registered_secrets_are_masked() -> None:
    register("named-by-config-0042")
    assert redact("signature key named-by-config-0042 rejected") == f"signature key {MASK} rejected"


def test_short_values_are_not_treated_as_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_INGEST_SMTP_PASSWORD", "x")
    assert redact("x marks the spot") == "x marks the spot"


def test_log_filter_masks_message_arguments_and_tracebacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWS_INGEST_ES_PASSWORD", "hunter2-long")
    try:
        raise RuntimeError("login hunter2-long refused")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "news_ingest.x", logging.ERROR, __file__, 1, "url=%s", ("http://u:p@h",), sys.exc_info()
        )
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "hunter2-long" not in formatted and "u:p@" not in formatted
    assert f"url=http://{MASK}@h" in formatted


def test_password_in_the_es_url_is_not_in_the_error_or_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from news_ingest.es import store
    from news_ingest.settings import Settings

    settings = Settings(es_url="http://elastic:hunter2-in-url@127.0.0.1:1")
    with caplog.at_level(logging.DEBUG), pytest.raises(store.StoreUnavailable) as down:
        store.connect(settings)
    assert "hunter2-in-url" not in str(down.value)
    assert f"http://{MASK}@127.0.0.1:1" in str(down.value)
    assert "hunter2-in-url" not in caplog.text
