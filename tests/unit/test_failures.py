"""The Airflow failure notifier: message contents and delivery to the ops webhook."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from news_ingest.failures import OpsFailureNotifier, failure_message
from news_ingest.settings import get_settings
from tests.conftest import Receiver

CONTEXT = {
    "ti": SimpleNamespace(dag_id="sputnik_arabic", task_id="index", map_index=3, try_number=4),
    "run_id": "scheduled__2026-11-29T08:00:00+00:00",
    "exception": RuntimeError("Elasticsearch at http://127.0.0.1:9200 is unreachable"),
}


def test_message_names_dag_run_task_and_error() -> None:
    assert failure_message(CONTEXT) == {
        "event": "news_ingest_failure",
        "dag_id": "sputnik_arabic",
        "run_id": "scheduled__2026-11-29T08:00:00+00:00",
        "task_id": "index",
        "map_index": 3,
        "try_number": 4,
        "error": "RuntimeError: Elasticsearch at http://127.0.0.1:9200 is unreachable",
    }


def test_dag_run_failure_without_task() -> None:
    run = SimpleNamespace(dag_id="sputnik_arabic", run_id="manual__1")
    message = failure_message({"dag_run": run, "reason": "task_failure"})
    assert (message["dag_id"], message["run_id"], message["task_id"]) == (
        "sputnik_arabic",
        "manual__1",
        None,
    )
    assert message["error"] == "task_failure"


def test_notifier_posts_to_the_ops_webhook(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NEWS_INGEST_OPS_WEBHOOK_URL", receiver.url)
    get_settings.cache_clear()
    try:
        OpsFailureNotifier().notify(CONTEXT)
    finally:
        get_settings.cache_clear()
    assert receiver.received == [failure_message(CONTEXT)]
    assert "event=failure dag=sputnik_arabic" in caplog.text


def test_notifier_without_webhook_only_logs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    OpsFailureNotifier().notify(CONTEXT)
    assert receiver.received == []
    assert "task=index" in caplog.text
