"""The news-ingest plugin: analysts' and ops' pages inside the Airflow UI.

The pages live in the library (``news_ingest.views``); this file only registers them: the
FastAPI app that the API server mounts under /news-ingest, and its entries in the UI (three
in the navigation, a Feed health tab on every DAG page).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from news_ingest.views.app import EXTERNAL_VIEWS, URL_PREFIX, create_app


class NewsIngestViews(AirflowPlugin):
    name = "news_ingest_views"
    fastapi_apps: ClassVar[list[Any]] = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "news-ingest views"}
    ]
    external_views: ClassVar[list[Any]] = EXTERNAL_VIEWS
