"""Analysts' and ops' views: feed health and extraction drift, and the web pages that the
Airflow plugin (``plugins/news_ingest_views.py``) serves inside the API server."""
