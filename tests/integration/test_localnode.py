"""The real local node, as `news-ingest es start` left it (make test starts it first).

These tests only look: other tests use the same node, so nothing here stops it.
"""

from __future__ import annotations

import stat

import httpx
import pytest

from news_ingest.local import localnode
from news_ingest.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node() -> localnode.NodeStatus:
    status = localnode.status(Settings())
    assert status.running, f"start the node first: news-ingest es start\n{status.problem or ''}"
    return status


def test_node_is_a_running_elasticsearch_9(node: localnode.NodeStatus) -> None:
    assert node.version is not None and node.version.startswith("9.")
    assert node.health in {"green", "yellow"}
    assert "x-pack-security" in node.modules
    assert node.pid is not None


def test_requests_without_credentials_are_refused(node: localnode.NodeStatus) -> None:
    response = httpx.get(f"{node.url}/_cluster/health", trust_env=False)
    assert response.status_code == 401


def test_requests_with_the_stored_credentials_work(node: localnode.NodeStatus) -> None:
    url, user, password = localnode.local_connection(Settings())
    assert (url, user, password) == (node.url, node.user, node.password)
    assert user is not None and password is not None
    response = httpx.get(f"{url}/_security/_authenticate", auth=(user, password), trust_env=False)
    assert response.status_code == 200
    assert response.json()["username"] == "elastic"


def test_credentials_file_is_private() -> None:
    credentials = localnode.node_paths(Settings()).credentials
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_start_on_a_running_node_returns_it(node: localnode.NodeStatus) -> None:
    again = localnode.start(Settings(), timeout=10)
    assert again.running and again.pid == node.pid
