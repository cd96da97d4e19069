"""Least privilege, proved on the real local node with security on.

The roles come from include/elasticsearch/roles.json, the one file that production applies
through the security API (include/docker/es_setup.py). The local node cannot write its
native realm (no .security index on this distribution), so ``news_ingest.local.localnode`` renders
the same roles into the node's file realm (roles.yml) with one file-realm user per role.
Their index pattern is ``<NEWS_INGEST_INDEX_PREFIX at es start>-*``; every test here uses a
prefix inside that pattern (``<prefix>-sectest-<random>``) and an "other" index outside it.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from elasticsearch import AuthorizationException, Elasticsearch
from news_ingest.es import store
from news_ingest.es.indices import IndexNames
from news_ingest.local import localnode
from news_ingest.settings import Settings, get_settings
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration

REALM_RELOAD_SECONDS = 30  # the node re-reads realm files every 5 s


@dataclass(frozen=True)
class Principal:
    user: str
    password: str


@dataclass(frozen=True)
class SecEnv:
    url: str
    admin: Elasticsearch
    writer: Principal
    analyst: Principal
    editor: Principal
    names: IndexNames
    other_index: str
    elastic_password: str

    def client(self, who: Principal) -> Elasticsearch:
        return Elasticsearch(self.url, basic_auth=(who.user, who.password), request_timeout=30)

    def cli_env(self, who: Principal, tmp_path: Path) -> dict[str, str]:
        return {
            "NEWS_INGEST_ES_URL": self.url,
            "NEWS_INGEST_ES_USER": who.user,
            "NEWS_INGEST_ES_PASSWORD": who.password,
            "NEWS_INGEST_INDEX_PREFIX": self.names.prefix,
            "NEWS_INGEST_STAGING_URL": (tmp_path / "staging").as_uri(),
            "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "true",
            "NEWS_INGEST_FETCH_RETRIES": "1",
            "NEWS_INGEST_LOG_LEVEL": "DEBUG",
        }


def _wait_until_authenticates(url: str, who: Principal) -> None:
    deadline = time.monotonic() + REALM_RELOAD_SECONDS
    last = ""
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        while time.monotonic() < deadline:
            response = http.get("/_security/_authenticate", auth=(who.user, who.password))
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
            time.sleep(1)
    pytest.fail(f"file-realm user {who.user} does not authenticate ({last})")


@pytest.fixture(scope="module")
def sec() -> Iterator[SecEnv]:
    settings = get_settings()
    if settings.es_url:
        pytest.skip("NEWS_INGEST_ES_URL is set: these tests need the local node's file realm")
    # start() on a running node refreshes roles.yml and the users from roles.json.
    localnode.start(settings)
    record = localnode.role_users(settings)
    users = record["users"]
    writer = Principal(users["news_writer"]["user"], users["news_writer"]["password"])
    analyst = Principal(users["news_analyst"]["user"], users["news_analyst"]["password"])
    editor = Principal(
        users["news_watchlist_editor"]["user"], users["news_watchlist_editor"]["password"]
    )
    url, _, elastic_password = localnode.local_connection(settings)
    assert elastic_password
    for who in (writer, analyst, editor):
        _wait_until_authenticates(url, who)
    pattern = record["index_pattern"]
    assert pattern.endswith("-*"), pattern
    suffix = uuid.uuid4().hex[:8]
    names = IndexNames(f"{pattern[:-1]}sectest-{suffix}")
    other = f"sectest-other-{suffix}"  # outside the roles' pattern
    admin = store.connect(Settings(index_prefix=names.prefix))
    admin.indices.create(index=other)
    admin.index(index=other, id="x", document={"secret": "not for the pipeline"}, refresh=True)
    try:
        yield SecEnv(url, admin, writer, analyst, editor, names, other, elastic_password)
    finally:
        found = admin.indices.get(index=f"{names.prefix}-*,{other}", expand_wildcards="all")
        if found:
            admin.indices.delete(index=",".join(found))
        admin.options(ignore_status=404).indices.delete_index_template(name=f"{names.prefix}-*")


@pytest.fixture(scope="module")
def set_up(sec: SecEnv, tmp_path_factory: pytest.TempPathFactory) -> SecEnv:
    """`news-ingest setup` run as the writer: templates, the articles alias, state indices."""
    tmp = tmp_path_factory.mktemp("setup")
    result = run_cli("setup", env=sec.cli_env(sec.writer, tmp))
    assert f"indices ready under prefix '{sec.names.prefix}'" in result.stdout
    return sec


def _denied(call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(AuthorizationException) as caught:
        call(*args, **kwargs)
    assert caught.value.meta.status == 403


# --- the writer (Airflow, the CLI) ---------------------------------------------------------


def test_writer_creates_indices_and_indexes_articles(set_up: SecEnv) -> None:
    writer = set_up.client(set_up.writer)
    names = set_up.names
    assert set_up.admin.indices.exists_alias(name=names.articles)
    response = writer.index(
        index=names.articles, id="a1", document={"title": "اختبار", "url": "https://x/1"}
    )
    assert response["result"] in ("created", "updated")
    writer.indices.refresh(index=names.articles)
    assert writer.count(index=names.articles)["count"] == 1
    writer.index(index=names.feeds, id="f1", document={"feed_url": "https://x/feed"})
    writer.indices.create(index=f"{names.prefix}-scratch")


def test_writer_cannot_delete_indices(set_up: SecEnv) -> None:
    writer = set_up.client(set_up.writer)
    names = set_up.names
    _denied(writer.indices.delete, index=names.articles_version(1))
    _denied(writer.indices.delete, index=names.feeds)
    assert set_up.admin.indices.exists(index=names.articles_version(1))


def test_writer_cannot_touch_other_indices(set_up: SecEnv) -> None:
    writer = set_up.client(set_up.writer)
    other = set_up.other_index
    _denied(writer.search, index=other)
    _denied(writer.get, index=other, id="x")
    _denied(writer.index, index=other, document={"x": 1})
    _denied(writer.indices.create, index=f"sectest-elsewhere-{uuid.uuid4().hex[:6]}")
    _denied(writer.indices.delete, index=other)
    # Wildcards silently skip what the user may not see: nothing outside the roles' pattern
    # (the test namespace sits inside it, beside whatever the node's own pipeline wrote).
    hits = writer.search(index="*", query={"match_all": {}}, size=100)["hits"]["hits"]
    role_prefix = set_up.names.prefix.split("sectest-")[0]  # "<prefix>-" of "<prefix>-*"
    outside = {hit["_index"] for hit in hits if not hit["_index"].startswith(role_prefix)}
    assert outside == set(), outside


def test_writer_cannot_change_security(set_up: SecEnv) -> None:
    writer = set_up.client(set_up.writer)
    _denied(writer.security.put_role, name="sectest_escalate", cluster=["all"])
    _denied(writer.security.put_user, username="sectest_user", password="x" * 16, roles=["x"])
    _denied(writer.security.get_user)
    _denied(writer.security.create_api_key, name="sectest", role_descriptors={"r": {}})
    _denied(writer.cluster.put_settings, persistent={"cluster.routing.allocation.enable": "all"})


# --- the analyst (Kibana) ---------------------------------------------------------------


def test_analyst_can_search(set_up: SecEnv) -> None:
    admin, analyst = set_up.admin, set_up.client(set_up.analyst)
    names = set_up.names
    admin.index(index=names.articles, id="a2", document={"title": "خبر"}, refresh=True)
    result = analyst.search(index=names.articles, query={"match_all": {}})
    assert result["hits"]["total"]["value"] >= 1
    assert analyst.indices.get_mapping(index=names.articles)
    _denied(analyst.search, index=set_up.other_index)


def test_analyst_cannot_write(set_up: SecEnv) -> None:
    analyst = set_up.client(set_up.analyst)
    names = set_up.names
    _denied(analyst.index, index=names.articles, document={"title": "x"})
    _denied(analyst.index, index=names.articles, id="a1", document={"title": "x"})
    _denied(analyst.delete, index=names.articles, id="a1")
    _denied(analyst.update, index=names.articles, id="a1", doc={"title": "x"})
    _denied(analyst.bulk, operations=[{"index": {"_index": names.articles}}, {"title": "x"}])
    _denied(analyst.indices.create, index=f"{names.prefix}-analyst")
    _denied(analyst.indices.delete, index=names.feeds)
    _denied(analyst.indices.put_mapping, index=names.articles, properties={"x": {"type": "text"}})
    _denied(analyst.indices.put_index_template, name=f"{names.prefix}-t", index_patterns=["zz-*"])
    _denied(analyst.security.put_role, name="sectest_escalate", cluster=["all"])


def test_analyst_uses_the_read_only_cli(set_up: SecEnv, tmp_path: Path) -> None:
    """search, rejects and alerts need only read access: no template install, no monitor."""
    env = set_up.cli_env(set_up.analyst, tmp_path)
    set_up.admin.index(
        index=set_up.names.articles, id="a3", document={"title": "قره باغ"}, refresh=True
    )
    for args in (("search", "قره باغ", "--json"), ("rejects", "--json"), ("alerts", "--json")):
        result = run_cli(*args, env=env)
        assert result.stdout.lstrip().startswith("["), args


def test_watchlist_editor_adds_versions_and_nothing_else(set_up: SecEnv, tmp_path: Path) -> None:
    """Analysts manage watchlists without the writer's rights; a version is never replaced."""
    env = set_up.cli_env(set_up.editor, tmp_path)
    edited = run_cli("watchlist", "edit", "karabakh", "--add-name", "ar:كرهباخ", env=env)
    assert "karabakh version 2: names.ar +كرهباخ" in edited.stdout
    assert "+كرهباخ" in run_cli("watchlist", "list", env=env).stdout
    analyst_view = run_cli(
        "watchlist", "show", "karabakh", env=set_up.cli_env(set_up.analyst, tmp_path)
    )
    assert "names.ar +كرهباخ" in analyst_view.stdout
    refused = run_cli(
        "watchlist",
        "disable",
        "karabakh",
        env=set_up.cli_env(set_up.analyst, tmp_path),
        check=False,
    )
    assert refused.returncode != 0
    editor = set_up.client(set_up.editor)
    names = set_up.names
    _denied(editor.index, index=names.watchlists, id="karabakh@2", document={"version": 2})
    _denied(editor.index, index=names.articles, id="e1", document={"title": "x"})
    _denied(editor.indices.delete, index=names.watchlists)


# --- no credentials in output or logs ----------------------------------------------------


def _leaks(text: str, *secrets: str) -> list[str]:
    found = []
    for secret in secrets:
        if secret in text:
            found.append("a password")
        for user in ("elastic", "news_writer", "news_analyst"):
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            if token in text:
                found.append("a Basic auth header")
    return found


def test_cli_output_and_logs_never_show_passwords(
    set_up: SecEnv, tmp_path: Path, sputnik_site: Any
) -> None:
    """setup/run/search/rejects at DEBUG log level, and a refused login, print no password.

    (`news-ingest es status` is left out on purpose: printing the local dev node's own
    password is its job, and that password never leaves this machine.)
    """
    env = set_up.cli_env(set_up.writer, tmp_path)
    secrets = (set_up.writer.password, set_up.analyst.password, set_up.elastic_password)
    feed = sputnik_site.url("/export/rss2/archive/index.xml")
    outputs = {
        "setup": run_cli("setup", env=env),
        "run": run_cli("run", "--feed", feed, "--profile", "sputnik", env=env, check=False),
        "search": run_cli("search", "خبر", env=env),
        "rejects": run_cli("rejects", env=env),
        "refused": run_cli(
            "setup",
            env={**env, "NEWS_INGEST_ES_PASSWORD": set_up.analyst.password + "x"},
            check=False,
        ),
    }
    assert outputs["refused"].returncode != 0
    assert "refused" in outputs["refused"].stdout + outputs["refused"].stderr
    for name, result in outputs.items():
        text = result.stdout + result.stderr
        assert not _leaks(text, *secrets), f"news-ingest {name} printed {_leaks(text, *secrets)}"
    assert outputs["run"].returncode == 0, outputs["run"].stdout + outputs["run"].stderr
    assert "DEBUG" in outputs["run"].stderr or "level=" in outputs["run"].stderr


def test_local_role_pattern_follows_the_prefix() -> None:
    """The file-realm roles are rendered from roles.json for the prefix at `es start`."""
    settings = get_settings()
    record = localnode.role_users(settings)
    roles = localnode.load_roles(settings.index_prefix)
    assert record["index_pattern"] == f"{settings.index_prefix}-*"
    for role in roles.values():
        patterns = [names for entry in role["indices"] for names in entry["names"]]
        assert patterns[0] == f"{settings.index_prefix}-*"
        assert all(p.startswith(f"{settings.index_prefix}-") for p in patterns)
    assert os.stat(localnode.node_paths(settings).role_users).st_mode & 0o077 == 0
