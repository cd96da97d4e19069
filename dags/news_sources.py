"""Two DAGs per enabled source in include/config/sources.yaml: polling and daily sweep.

Kept thin on purpose: this file runs at every DAG parse, so it only reads the (small)
config and builds DAG objects; all work happens in news_ingest when tasks run.
"""

from __future__ import annotations

from news_ingest.airflow_dags import build_source_dags
from news_ingest.settings import get_settings
from news_ingest.sources import load_sources

for _source in load_sources(get_settings().config_dir):
    if _source.enabled:
        for _dag in build_source_dags(_source):
            globals()[_dag.dag_id] = _dag
