"""Structured, one-line-per-event logging for the CLI (Airflow configures its own)."""

from __future__ import annotations

import logging
import os

from news_ingest.redaction import install_log_redaction

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def configure_logging() -> None:
    level = os.environ.get("NEWS_INGEST_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format=FORMAT)
    install_log_redaction()
    # Client libraries log every request at INFO; ops need our events, not theirs.
    for noisy in (
        "aiohttp",
        "httpx",
        "elastic_transport",
        "trafilatura",
        "htmldate",
        "charset_normalizer",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
