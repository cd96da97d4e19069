"""Local mode: ``airflow standalone`` wired to this project, for machines without Docker.

``make run`` starts the local Elasticsearch node, installs the indices, then hands over to
``airflow standalone`` with this project's DAGs and plugins, the DAGs unpaused, and three
logins of the simple auth manager (the roles production has under the FAB auth manager):
``admin``, ``operator`` (ops: may retry alert deliveries) and ``viewer`` (analysts: read
only). Their passwords are kept in the state folder and printed at start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from news_ingest.settings import PROJECT_ROOT

ADMIN_USER = "admin"
# user -> simple auth manager role
USERS = {ADMIN_USER: "admin", "operator": "op", "viewer": "viewer"}

# How long a connection to the SQLite metadata database waits for another's write. Python's
# default, 5 s, is too short on a loaded machine: while the scheduler and the DAG processor
# commit at start, the API server's write gave up with a 500 "Database error". Kept under
# the execution API timeout, so a task sees the server's answer rather than its own timeout.
SQLITE_BUSY_SECONDS = 20
# Airflow imports these by path ([database] sql_alchemy_connect_args and its async twin) and
# adds its own keys to the sync one, so each engine gets a dict of its own.
SQLITE_CONNECT_ARGS = {"timeout": SQLITE_BUSY_SECONDS}
SQLITE_CONNECT_ARGS_ASYNC = {"timeout": SQLITE_BUSY_SECONDS}
EXECUTION_API_TIMEOUT_SECONDS = 30


def airflow_env(home: Path, passwords_file: Path, port: int, parallelism: int) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, role in USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        # LocalExecutor runs this many task processes; each fetch task drives a pool of
        # extraction processes of its own, so more tasks than cores only queue on the CPU.
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__API__PORT": str(port),
        # Loopback only: local mode is for this machine (a proxy can publish it).
        "AIRFLOW__API__HOST": "127.0.0.1",
        # The task-log servers follow the API port, so two local modes (`make run`, `make
        # demo`) on different ports do not collide on Airflow's fixed defaults.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + 1),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(port + 2),
        # Task processes report to the API server; it must be the one on our port.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # Everything shares this machine's cores: under load the API server answers a task's
        # calls after Airflow's default 5 s, and the task dies of the timeout.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": str(EXECUTION_API_TIMEOUT_SECONDS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{__name__}.SQLITE_CONNECT_ARGS",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": (
            f"{__name__}.SQLITE_CONNECT_ARGS_ASYNC"
        ),
    }


def passwords(passwords_file: Path) -> dict[str, str]:
    """Every user's password, created on first use and kept so they survive restarts."""
    known: dict[str, str] = (
        json.loads(passwords_file.read_text("utf-8")) if passwords_file.exists() else {}
    )
    missing = {user: secrets.token_urlsafe(16) for user in USERS if user not in known}
    if missing:
        known.update(missing)
        passwords_file.parent.mkdir(parents=True, exist_ok=True)
        passwords_file.write_text(json.dumps(known), "utf-8")
        passwords_file.chmod(0o600)
    return known


def airflow_binary() -> str:
    return shutil.which("airflow") or str(Path(sys.executable).with_name("airflow"))


@dataclass(frozen=True)
class StandaloneCommand:
    """How to start ``airflow standalone`` for this project, and how to log in to it."""

    argv: list[str]
    env: dict[str, str]
    url: str
    logins: dict[str, str]  # user -> password

    @property
    def password(self) -> str:
        """The admin's."""
        return self.logins[ADMIN_USER]

    def describe(self) -> str:
        lines = [f"Airflow UI: {self.url}"]
        lines += [f"  login {user} / {self.logins[user]}  ({role})" for user, role in USERS.items()]
        return "\n".join(lines)


def standalone_command(home: Path, port: int, parallelism: int) -> StandaloneCommand:
    airflow = airflow_binary()
    passwords_file = home / "passwords.json"
    env = {**os.environ, **airflow_env(home, passwords_file, port, parallelism)}
    # standalone starts its components as `airflow ...` subprocesses: they must be on PATH.
    env["PATH"] = f"{Path(airflow).parent}{os.pathsep}{env.get('PATH', '')}"
    return StandaloneCommand(
        argv=[airflow, "standalone"],
        env=env,
        url=f"http://127.0.0.1:{port}",
        logins=passwords(passwords_file),
    )


def exec_standalone(home: Path, port: int, parallelism: int) -> None:
    """Replace this process with ``airflow standalone`` (it runs until Ctrl-C)."""
    command = standalone_command(home, port, parallelism)
    print(command.describe(), flush=True)
    os.execve(command.argv[0], command.argv, command.env)
