"""Production auth: the compose stack's airflow-init script (FAB auth manager) creates the
three logins, and the views refuse and allow by their FAB roles (Viewer reads, Op retries)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elasticsearch import Elasticsearch
from news_ingest.alerting import watchlist_store
from news_ingest.es.indices import IndexNames, install
from news_ingest.local.localmode import airflow_binary
from news_ingest.settings import PROJECT_ROOT, get_settings

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

INIT = PROJECT_ROOT / "include" / "docker" / "airflow-init.sh"
CHILD = Path(__file__).with_name("fab_child.py")
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
PASSWORDS = {"admin": "admin-pw-1", "operator": "operator-pw-1", "viewer": "viewer-pw-1"}


# Two airflow-init runs (each: db migrate, fab-db migrate, users list, three users) and the
# API app: about 10 minutes on this project's shared 2 cores under load, past the default.
@pytest.mark.timeout(1800)
def test_fab_roles_guard_the_views(
    tmp_path: Path, es: Elasticsearch, names: IndexNames, ingest_env: dict[str, str]
) -> None:
    install(es, names.prefix)
    # Delivery goes to the stored watchlists' channels (karabakh's is the log).
    watchlist_store.seed(es, names, get_settings().config_dir)
    es.index(
        index=names.alerts,
        id="alert-1",
        refresh=True,
        document={
            "watchlist": "karabakh",
            "source": "sputnik_arabic",
            "title": "قره باغ",
            "article_id": "a1",
            "channels": ["log"],
            "delivered": [],
            "notified": False,
            "state": "failed",
            "notify_attempts": 1,
            "alerted_at": "2026-12-01T00:00:00+00:00",
        },
    )
    env = {
        **os.environ,
        **ingest_env,
        "PATH": f"{Path(airflow_binary()).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-secret-of-32-characters-at-least",
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": "first-admin-password",
        "AIRFLOW_OPERATOR_USER": "operator",
        "AIRFLOW_OPERATOR_PASSWORD": PASSWORDS["operator"],
        "AIRFLOW_VIEWER_USER": "viewer",
        "AIRFLOW_VIEWER_PASSWORD": PASSWORDS["viewer"],
    }
    first = subprocess.run(["bash", str(INIT)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    # A second start (new .env password) resets the existing admin instead of failing.
    env["AIRFLOW_ADMIN_PASSWORD"] = PASSWORDS["admin"]
    again = subprocess.run(["bash", str(INIT)], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "user 'viewer' ready (role Viewer)" in again.stdout
    for secret in PASSWORDS.values():
        assert secret not in first.stdout + first.stderr + again.stdout + again.stderr

    retry = "/news-ingest/alerts/alert-1/retry"
    asks = [
        [None, "GET", "/news-ingest/alerts"],
        [None, "POST", retry],
        ["viewer", "GET", "/news-ingest/alerts"],
        ["viewer", "GET", "/news-ingest/health"],
        ["viewer", "POST", retry],
        ["operator", "POST", retry],
        ["admin", "GET", "/news-ingest/search?q=%D9%82%D8%B1%D8%A9"],
    ]
    done = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(asks), json.dumps(PASSWORDS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-5000:]
    assert json.loads(lines[-1].removeprefix("RESULT ")) == [401, 401, 200, 200, 403, 303, 200]
    alert = es.get(index=names.alerts, id="alert-1")["_source"]
    assert alert["notified"] is True and alert["delivered"] == ["log"]
