"""One-shot `setup` service of docker-compose.yaml (runs in the project's Airflow image).

In order, each step idempotent so a rerun (`docker compose run --rm setup`) is safe:
1. wait for Elasticsearch (as ``elastic``, over TLS with the compose CA);
2. set the ``kibana_system`` password;
3. create or update the roles of include/elasticsearch/roles.json (the one roles file,
   ``{prefix}`` = NEWS_INGEST_INDEX_PREFIX) through the security API;
4. create or update the users ``news_writer`` (Airflow) and ``news_analyst`` (analysts);
5. run ``news-ingest setup`` AS ``news_writer`` (templates, alias, state indices): this also
   proves at every deployment that the writer role is enough for the pipeline;
6. wait for Kibana and import include/kibana/*.ndjson (saved objects), if any.

Passwords come from the environment and are never printed: messages name users and steps.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from typing import Any

import httpx

from news_ingest.local.localnode import load_roles
from news_ingest.settings import PROJECT_ROOT

KIBANA_DIR = PROJECT_ROOT / "include" / "kibana"
USERS = {
    "news_writer": ("NEWS_WRITER_PASSWORD", ["news_writer"]),
    "news_analyst": ("NEWS_ANALYST_PASSWORD", ["news_analyst"]),
}
WAIT_ES_SECONDS = 300.0
WAIT_KIBANA_SECONDS = 600.0


class SetupError(RuntimeError):
    pass


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SetupError(f"{name} is not set: set it in .env (see .env.example)")
    return value


def say(message: str) -> None:
    print(f"setup: {message}", flush=True)


def wait_for(client: httpx.Client, path: str, ok: set[int], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get(path)
            if response.status_code in ok:
                return
            last = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(3)
    raise SetupError(f"{what} not ready after {seconds:.0f}s ({last})")


def check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        # The body is Elasticsearch's or Kibana's error: it never echoes a password.
        raise SetupError(f"{what} failed: HTTP {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def configure_security(es: httpx.Client, prefix: str) -> None:
    check(
        es.post(
            "/_security/user/kibana_system/_password",
            json={"password": env("KIBANA_SYSTEM_PASSWORD")},
        ),
        "setting the kibana_system password",
    )
    say("kibana_system password set")
    for name, body in load_roles(prefix).items():
        check(es.put(f"/_security/role/{name}", json=body), f"role {name}")
        say(f"role {name} applied (indices {prefix}-*)")
    for user, (password_var, roles) in USERS.items():
        body = {"password": env(password_var), "roles": roles, "enabled": True}
        check(es.put(f"/_security/user/{user}", json=body), f"user {user}")
        say(f"user {user} has roles {', '.join(roles)}")


def install_indices(es_url: str, ca: str, prefix: str) -> None:
    child_env = {
        **os.environ,
        "NEWS_INGEST_ES_URL": es_url,
        "NEWS_INGEST_ES_USER": "news_writer",
        "NEWS_INGEST_ES_PASSWORD": env("NEWS_WRITER_PASSWORD"),
        "NEWS_INGEST_ES_CA_CERTS": ca,
        "NEWS_INGEST_INDEX_PREFIX": prefix,
    }
    result = subprocess.run(
        ["news-ingest", "setup"], env=child_env, capture_output=True, text=True, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise SetupError(f"news-ingest setup (as news_writer) failed:\n{output}")
    say(output)


def tls(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def import_saved_objects(kibana_url: str, ca: str, password: str) -> None:
    files = sorted(KIBANA_DIR.glob("*.ndjson"))
    if not files:
        say(f"no saved objects in {KIBANA_DIR}: nothing to import")
        return
    headers = {"kbn-xsrf": "news-ingest-setup"}
    with httpx.Client(
        base_url=kibana_url, auth=("elastic", password), verify=tls(ca), headers=headers, timeout=60
    ) as kibana:
        wait_for(kibana, "/api/status", {200}, WAIT_KIBANA_SECONDS, "Kibana")
        for path in files:
            response = kibana.post(
                "/api/saved_objects/_import",
                params={"overwrite": "true"},
                files={"file": (path.name, path.read_bytes(), "application/ndjson")},
            )
            body = check(response, f"importing {path.name}")
            if not body.get("success"):
                raise SetupError(f"importing {path.name}: {body.get('errors')}")
            say(f"imported {body.get('successCount', 0)} saved object(s) from {path.name}")


def main() -> int:
    try:
        es_url = env("NEWS_INGEST_ES_URL")
        ca = env("NEWS_INGEST_ES_CA_CERTS")
        prefix = env("NEWS_INGEST_INDEX_PREFIX")
        password = env("ELASTIC_PASSWORD")
        with httpx.Client(
            base_url=es_url, auth=("elastic", password), verify=tls(ca), timeout=30
        ) as es:
            wait_for(es, "/_cluster/health", {200}, WAIT_ES_SECONDS, "Elasticsearch")
            configure_security(es, prefix)
        install_indices(es_url, ca, prefix)
        import_saved_objects(env("KIBANA_URL"), ca, password)
    except SetupError as exc:
        print(f"setup: ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
