"""The local node's pure parts: no JDK, no download, no Elasticsearch."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from news_ingest.local import localnode
from news_ingest.settings import Settings


def make_jdk(root: Path, name: str, version: str, *, java: bool = True) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    if java:
        (home / "bin" / "java").write_text("#!/bin/sh\n")
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", es_port=free_port())


@pytest.mark.parametrize(
    ("release", "major"),
    [
        ('JAVA_VERSION="25.0.3"\n', 25),
        ('IMPLEMENTOR="x"\nJAVA_VERSION="21"\n', 21),
        ('JAVA_VERSION="1.8.0_292"\n', 8),
        ("JAVA_VERSION=17.0.15\n", 17),
        ('IMPLEMENTOR="x"\n', None),
    ],
)
def test_java_major(release: str, major: int | None) -> None:
    assert localnode.java_major(release) == major


def test_find_java_home_takes_the_newest_usable_jdk(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    make_jdk(jvm, "java-17-openjdk-amd64", "17.0.15")
    make_jdk(jvm, "java-21-openjdk-amd64", "21.0.4")
    newest = make_jdk(jvm, "temurin-25-jdk-amd64", "25.0.3")
    make_jdk(jvm, "broken-99", "99.0.1", java=False)
    (jvm / "openjdk-17").mkdir()  # no release file
    assert localnode.find_java_home({}, jvm) == newest


def test_find_java_home_prefers_the_environment(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    make_jdk(jvm, "temurin-25", "25.0.3")
    chosen = make_jdk(tmp_path / "elsewhere", "jdk-21", "21.0.1")
    env = {"ES_JAVA_HOME": str(chosen), "JAVA_HOME": str(jvm / "temurin-25")}
    assert localnode.find_java_home(env, jvm) == chosen


def test_find_java_home_skips_a_too_old_java_home(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    old = make_jdk(tmp_path / "elsewhere", "jdk-17", "17.0.2")
    newer = make_jdk(jvm, "temurin-25", "25.0.3")
    assert localnode.find_java_home({"JAVA_HOME": str(old)}, jvm) == newer


def test_find_java_home_says_what_it_saw_when_nothing_fits(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    make_jdk(jvm, "java-17-openjdk-amd64", "17.0.15")
    with pytest.raises(
        localnode.LocalNodeError, match=r"Java 21.*java-17-openjdk-amd64 \(Java 17\)"
    ):
        localnode.find_java_home({}, jvm)
    with pytest.raises(localnode.LocalNodeError, match="ES_JAVA_HOME"):
        localnode.find_java_home({}, tmp_path / "missing")


def test_elasticsearch_yml_is_a_secured_loopback_single_node(settings: Settings) -> None:
    paths = localnode.node_paths(settings)
    config = yaml.safe_load(localnode.render_elasticsearch_yml(settings, paths))
    assert config["network.host"] == "127.0.0.1"
    assert config["http.port"] == settings.es_port
    assert config["transport.port"] == settings.es_port + 100
    assert config["discovery.type"] == "single-node"
    assert config["xpack.security.enabled"] is True
    assert config["path.data"] == str(settings.state_dir / "es" / "data")
    assert config["path.logs"] == str(settings.state_dir / "es" / "logs")


def test_heap_options() -> None:
    assert localnode.heap_options("512m") == "-Xms512m\n-Xmx512m\n"
    for bad in ("", "1 g", "-Xmx1g", "1g\n-Dx=y", "0g"):
        with pytest.raises(localnode.LocalNodeError, match="ES_HEAP"):
            localnode.heap_options(bad)


def test_untraversable_names_the_closed_directories(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    inner = closed / "open"
    inner.mkdir(parents=True)
    tmp_path.chmod(0o755)
    inner.chmod(0o755)
    closed.chmod(0o700)
    try:
        blocked = localnode.untraversable(inner)
    finally:
        closed.chmod(0o755)
    assert closed in blocked
    assert inner not in blocked and tmp_path not in blocked


def test_error_lines_keep_the_causes_not_the_stack() -> None:
    log = "\n".join(
        [
            "[2026-01-01T00:00:00,000][INFO ][o.e.n.Node] starting ...",
            "[2026-01-01T00:00:01,000][ERROR][o.e.b.Elasticsearch] fatal exception while booting",
            "\tat org.elasticsearch.transport.TcpTransport.bindToPort(TcpTransport.java:514)",
            "Caused by: java.net.BindException: Address already in use",
            "\tat java.base/sun.nio.ch.Net.bind0(Native Method)",
            "ERROR: Elasticsearch did not exit normally - check the logs",
        ]
    )
    assert localnode.error_lines(log) == [
        "[2026-01-01T00:00:01,000][ERROR][o.e.b.Elasticsearch] fatal exception while booting",
        "Caused by: java.net.BindException: Address already in use",
        "ERROR: Elasticsearch did not exit normally - check the logs",
    ]


def test_tail(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert localnode.tail(log, 3) == "line 97\nline 98\nline 99"
    assert "cannot read" in localnode.tail(tmp_path / "missing.log")


def fake_distribution(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("elasticsearch-9.9.9/"), "")
        for name, mode in [("bin/elasticsearch", 0o755), ("config/jvm.options", 0o600)]:
            info = zipfile.ZipInfo(f"elasticsearch-9.9.9/{name}")
            info.external_attr = mode << 16
            archive.writestr(info, f"{name}\n")
    return path


def test_unpack_sets_modes_and_is_idempotent(tmp_path: Path) -> None:
    archive = fake_distribution(tmp_path / "es.zip")
    dist = tmp_path / "dist"
    home = localnode.unpack(archive, dist)
    assert home == dist / "elasticsearch-9.9.9"
    assert stat.S_IMODE((home / "bin" / "elasticsearch").stat().st_mode) == 0o755
    # Readable by the node's own user, whoever unpacked it.
    assert stat.S_IMODE((home / "config" / "jvm.options").stat().st_mode) == 0o644
    (home / "marker").write_text("kept")
    assert localnode.unpack(archive, dist) == home
    assert (home / "marker").exists()


def test_unpack_ignores_and_clears_a_half_done_unpack(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    half = dist / ".unpack-dead" / "elasticsearch-9.9.9"
    half.mkdir(parents=True)
    home = localnode.unpack(fake_distribution(tmp_path / "es.zip"), dist)
    assert (home / "bin" / "elasticsearch").is_file()
    assert sorted(p.name for p in dist.iterdir()) == ["elasticsearch-9.9.9"]


def test_credentials_are_private_and_reused(settings: Settings) -> None:
    paths = localnode.node_paths(settings)
    paths.root.mkdir(parents=True)
    password, new = localnode._ensure_credentials(paths)
    assert new and len(password) >= 20
    assert stat.S_IMODE(paths.credentials.stat().st_mode) == 0o600
    assert localnode._ensure_credentials(paths) == (password, False)
    assert json.loads(paths.credentials.read_text()) == {"user": "elastic", "password": password}
    url = f"http://127.0.0.1:{settings.es_port}"
    assert localnode.local_connection(settings) == (url, "elastic", password)


def test_local_connection_without_credentials(settings: Settings) -> None:
    url = f"http://127.0.0.1:{settings.es_port}"
    assert localnode.local_connection(settings) == (url, None, None)


def test_status_of_a_node_that_is_down(settings: Settings) -> None:
    node = localnode.status(settings)
    assert not node.running and node.problem is None
    assert node.pid is None and node.version is None
    assert node.log_file == settings.state_dir / "es" / "logs" / "news-ingest.log"
    text = localnode.describe(node)
    assert "not running" in text and "news-ingest es start" in text


def test_stop_never_signals_a_process_that_is_not_elasticsearch(settings: Settings) -> None:
    paths = localnode.node_paths(settings)
    paths.run.mkdir(parents=True)
    paths.pid_file.write_text(f"{os.getpid()}\n")  # a reused pid: this very test process
    assert localnode.stop(settings) is False
    paths.pid_file.write_text("not a pid\n")
    assert localnode.stop(settings) is False


class FakeNode(BaseHTTPRequestHandler):
    """Answers the two requests status() makes, the way Elasticsearch 9 does."""

    password = "s3cret"

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"elastic:{self.password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.reply(401, {"error": "security_exception", "status": 401})
        elif self.path.startswith("/_cluster/health"):
            self.reply(200, {"cluster_name": "news-ingest", "status": "green"})
        else:
            modules = [{"name": "x-pack-security"}, {"name": "apm"}]
            plugins = [{"name": "news-ingest-analysis"}]
            node = {"version": "9.5.4", "modules": modules, "plugins": plugins}
            self.reply(200, {"nodes": {"abc": node}})

    def reply(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_node(settings: Settings) -> Iterator[Settings]:
    server = ThreadingHTTPServer(("127.0.0.1", settings.es_port), FakeNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield settings
    server.shutdown()
    server.server_close()


def write_credentials(settings: Settings, password: str) -> None:
    paths = localnode.node_paths(settings)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.credentials.write_text(json.dumps({"user": "elastic", "password": password}))


def test_status_of_a_running_node(fake_node: Settings) -> None:
    write_credentials(fake_node, FakeNode.password)
    node = localnode.status(fake_node)
    assert node.running and node.problem is None
    assert (node.version, node.health) == ("9.5.4", "green")
    assert node.modules == ("apm", "x-pack-security")
    text = localnode.describe(node)
    assert FakeNode.password in text
    assert node.plugins == ("news-ingest-analysis",)
    assert "modules:   apm, x-pack-security" in text
    assert "plugins:   news-ingest-analysis" in text


def test_status_when_the_port_belongs_to_someone_else(fake_node: Settings) -> None:
    write_credentials(fake_node, "not-the-password")
    node = localnode.status(fake_node)
    assert not node.running
    assert node.problem is not None and "HTTP 401" in node.problem
    with pytest.raises(localnode.LocalNodeError, match="HTTP 401"):
        localnode.start(fake_node)
