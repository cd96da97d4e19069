"""Integration fixtures: a private index namespace on the real local node, removed after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from elasticsearch import Elasticsearch
from news_ingest.es import store
from news_ingest.es.indices import IndexNames, drop_all
from news_ingest.local.fixturesite import FixtureSite, running_site
from news_ingest.local.localnode import local_connection
from news_ingest.settings import PROJECT_ROOT, get_settings
from tests.conftest import Receiver
from tests.integration.tcpproxy import TcpProxy


@pytest.fixture
def ingest_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for one test: its own index prefix and staging folder."""
    env = {
        "NEWS_INGEST_INDEX_PREFIX": f"test-{uuid.uuid4().hex[:10]}",
        "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "true",
        "NEWS_INGEST_STAGING_URL": (tmp_path / "staging").as_uri(),
        "NEWS_INGEST_FETCH_RETRIES": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    drop_all(store.connect(get_settings()), env["NEWS_INGEST_INDEX_PREFIX"])
    get_settings.cache_clear()


def task_env(ingest_env: dict[str, str], **extra: str) -> dict[str, str]:
    """What a real scheduler's task processes need: the test's namespace, and this
    machine's local node."""
    env = {**ingest_env, **extra}
    for name in ("NEWS_INGEST_ES_PORT", "NEWS_INGEST_STATE_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@pytest.fixture
def served() -> Iterator[FixtureSite]:
    """The loopback site, empty: tests generate or add what they serve."""
    with running_site() as fixture_site:
        yield fixture_site


@pytest.fixture
def es(ingest_env: dict[str, str]) -> Elasticsearch:
    return store.connect(get_settings())


@pytest.fixture
def names(ingest_env: dict[str, str]) -> IndexNames:
    return IndexNames(ingest_env["NEWS_INGEST_INDEX_PREFIX"])


def run_cli(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``news-ingest`` as ops would, in a child process with this test's environment."""
    result = subprocess.run(
        [sys.executable, "-m", "news_ingest", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"news-ingest {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@pytest.fixture
def es_proxy() -> Iterator[TcpProxy]:
    url, _, _ = local_connection(get_settings())
    host, port = url.removeprefix("http://").rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    proxy.start()
    yield proxy
    proxy.cut()


def deliver_to(config: Path, receiver: Receiver) -> None:
    """Make the karabakh watchlist of the config folder deliver to the receiver."""
    data = yaml.safe_load((config / "watchlists.yaml").read_text("utf-8"))
    karabakh = next(w for w in data["watchlists"] if w["id"] == "karabakh")
    karabakh["channels"] = [{"type": "webhook", "url": receiver.url}, {"type": "log"}]
    (config / "watchlists.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


@pytest.fixture
def alert_config(tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    """The project's config with the karabakh watchlist delivering to the receiver."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "include" / "config", config)
    deliver_to(config, receiver)
    return {"NEWS_INGEST_CONFIG_DIR": str(config)}
