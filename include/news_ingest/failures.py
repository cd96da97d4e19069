"""Telling ops that a task or a DAG run failed, through an Airflow notifier.

Task failures (after their retries) and failed DAG runs always produce one log line; when
``NEWS_INGEST_OPS_WEBHOOK_URL`` is set they are also POSTed there as JSON (a Slack or Teams
incoming webhook, or an on-call tool), with the same retries as alert webhooks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseNotifier

from news_ingest.redaction import redact
from news_ingest.settings import get_settings

log = logging.getLogger(__name__)


def failure_message(context: Mapping[str, Any]) -> dict[str, Any]:
    """What ops need to find and re-run the failure (pure: reads only the context)."""
    instance = context.get("ti") or context.get("task_instance")
    run = context.get("dag_run")
    exception = context.get("exception")
    return {
        "event": "news_ingest_failure",
        "dag_id": getattr(run, "dag_id", None) or getattr(instance, "dag_id", None),
        "run_id": context.get("run_id") or getattr(run, "run_id", None),
        "task_id": getattr(instance, "task_id", None),
        "map_index": getattr(instance, "map_index", None),
        "try_number": getattr(instance, "try_number", None),
        "error": redact(f"{type(exception).__name__}: {exception}")
        if exception
        else context.get("reason"),
    }


class OpsFailureNotifier(BaseNotifier):
    def notify(self, context: Any) -> None:
        message = failure_message(context)
        log.error(
            "event=failure dag=%s run=%s task=%s error=%s",
            message["dag_id"],
            message["run_id"],
            message["task_id"],
            message["error"],
        )
        url = get_settings().ops_webhook_url
        if url:
            # Imported here: this module is loaded at every DAG parse, delivery only on failure.
            from news_ingest.alerting.notify import post_json

            post_json(url, json.dumps(message, ensure_ascii=False, default=str).encode(), {})
