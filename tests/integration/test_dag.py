"""The real Airflow: DAG parsing, and dag.test() of sputnik_arabic against the fixture site."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from elasticsearch import Elasticsearch
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import FixtureSite
from news_ingest.settings import PROJECT_ROOT
from tests.conftest import FEED_PATH, originals

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

CHILD = Path(__file__).with_name("airflow_child.py")
AIRFLOW = Path(sys.executable).with_name("airflow")


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A scratch AIRFLOW_HOME with a migrated SQLite metadata DB."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }
    subprocess.run(
        [str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    yield env


def run_child(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(PROJECT_ROOT / "dags"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (
        f"stdout:\n{done.stdout[-5000:]}\nstderr:\n{done.stderr[-8000:]}"
    )
    result: dict[str, object] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def test_dagbag_imports_every_configured_source(airflow_env: dict[str, str]) -> None:
    result = run_child(airflow_env)
    assert result["import_errors"] == {}
    assert "sputnik_arabic" in result["dag_ids"]  # type: ignore[operator]


def test_dag_test_ingests_the_fixture_feed(
    airflow_env: dict[str, str],
    ingest_env: dict[str, str],
    sputnik_site: FixtureSite,
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "include" / "config", config)
    sources = yaml.safe_load((config / "sources.yaml").read_text("utf-8"))
    sputnik = next(s for s in sources["sources"] if s["id"] == "sputnik_arabic")
    sputnik["feeds"] = [sputnik_site.url(FEED_PATH)]
    (config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    env = {**airflow_env, **ingest_env, "NEWS_INGEST_CONFIG_DIR": str(config)}

    result = run_child(env, "sputnik_arabic")

    assert result["state"] == "success", result
    states = result["task_states"]
    assert isinstance(states, dict)
    assert states["plan[-1]"] == "success"
    assert states["fetch[0]"] == "success" and states["index[0]"] == "success"
    es.indices.refresh(index=names.articles)
    assert es.count(index=names.articles)["count"] == len(originals())
    titles = {
        hit["_source"]["title"] for hit in es.search(index=names.articles, size=50)["hits"]["hits"]
    }
    assert titles == {a["title"] for a in originals()}
