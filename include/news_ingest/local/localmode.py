"""Local mode: ``airflow standalone`` wired to this project, for machines without Docker.

``make run`` starts the local Elasticsearch node, installs the indices, then hands over to
``airflow standalone`` with this project's DAGs and plugins, the DAGs unpaused, and an
``admin`` login whose password is kept in the state folder and printed at start.
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


def airflow_env(home: Path, passwords_file: Path, port: int, parallelism: int) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        # LocalExecutor runs this many task processes; each fetch task drives a pool of
        # extraction processes of its own, so more tasks than cores only queue on the CPU.
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__API__PORT": str(port),
        # Task processes report to the API server; it must be the one on our port.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }


def admin_password(passwords_file: Path) -> str:
    """The admin password, created on first use and kept so it survives restarts."""
    if passwords_file.exists():
        password: str = json.loads(passwords_file.read_text("utf-8"))[ADMIN_USER]
        return password
    password = secrets.token_urlsafe(16)
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    passwords_file.write_text(json.dumps({ADMIN_USER: password}), "utf-8")
    passwords_file.chmod(0o600)
    return password


@dataclass(frozen=True)
class StandaloneCommand:
    """How to start ``airflow standalone`` for this project, and how to log in to it."""

    argv: list[str]
    env: dict[str, str]
    url: str
    password: str


def standalone_command(home: Path, port: int, parallelism: int) -> StandaloneCommand:
    airflow = shutil.which("airflow") or str(Path(sys.executable).with_name("airflow"))
    passwords_file = home / "passwords.json"
    env = {**os.environ, **airflow_env(home, passwords_file, port, parallelism)}
    # standalone starts its components as `airflow ...` subprocesses: they must be on PATH.
    env["PATH"] = f"{Path(airflow).parent}{os.pathsep}{env.get('PATH', '')}"
    return StandaloneCommand(
        argv=[airflow, "standalone"],
        env=env,
        url=f"http://127.0.0.1:{port}",
        password=admin_password(passwords_file),
    )


def exec_standalone(home: Path, port: int, parallelism: int) -> None:
    """Replace this process with ``airflow standalone`` (it runs until Ctrl-C)."""
    command = standalone_command(home, port, parallelism)
    print(f"Airflow UI: {command.url}  login: {ADMIN_USER} / {command.password}", flush=True)
    os.execve(command.argv[0], command.argv, command.env)
