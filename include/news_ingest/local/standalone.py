"""A running ``airflow standalone`` (scheduler, dag-processor, triggerer, API server;
LocalExecutor; SQLite), started the way ``make run`` starts it and driven through its REST
API as an operator would: what the real-scheduler tests and benchmarks run the DAGs on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from news_ingest.local import localmode

FINISHED = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Standalone:
    """One ``airflow standalone`` in its own home and process group, and an API client
    logged in as local mode's admin."""

    def __init__(
        self, home: Path, env: dict[str, str], parallelism: int = 2, port: int | None = None
    ) -> None:
        self.home = home
        self.command = localmode.standalone_command(home, port or free_port(), parallelism)
        self.command.env.update(env)
        self.log_path = home / "standalone.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.command.url, timeout=60)

    def start(self, timeout: float = 300) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command.argv,
                env=self.command.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group, so stop() ends every component it started.
                start_new_session=True,
            )
        self._wait_for(lambda: self._get_ok("/api/v2/monitor/health"), timeout, "API server")
        token = self.client.post(
            "/auth/token",
            json={"username": localmode.ADMIN_USER, "password": self.command.password},
        )
        token.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.client.close()

    def wait_for_dag(self, dag_id: str, timeout: float = 240) -> None:
        self._wait_for(lambda: self._get_ok(f"/api/v2/dags/{dag_id}"), timeout, f"DAG {dag_id}")

    def unpause(self, dag_id: str) -> None:
        response = self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert response.status_code == 200, response.text

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        response = self.client.post(
            f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        )
        assert response.status_code == 200, response.text
        run_id: str = response.json()["dag_run_id"]
        return run_id

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns")
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["dag_runs"]
        return runs

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        return run

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        """Wait until the run has finished; its final state."""
        state = ""

        def finished() -> bool:
            nonlocal state
            state = self.run(dag_id, run_id)["state"]
            return state in FINISHED

        self._wait_for(finished, timeout, f"run {run_id} (last state {state!r})")
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        response.raise_for_status()
        instances: list[dict[str, Any]] = response.json()["task_instances"]
        return instances

    def diagnostics(self) -> str:
        """The tail of standalone's output and of every task log, for a failure message."""
        parts = [self.log_path.read_text("utf-8", "replace")[-6000:]]
        for log in sorted((self.home / "logs").rglob("*.log"))[-8:]:
            parts.append(f"--- {log}\n{log.read_text('utf-8', 'replace')[-3000:]}")
        return "\n".join(parts)

    def _get_ok(self, path: str) -> bool:
        return self.client.get(path).status_code == 200

    def _wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"airflow standalone exited\n{self.diagnostics()}")
            try:
                if check():
                    return
            except httpx.TransportError:
                pass  # an API server busy past the client's timeout: ask again
            time.sleep(1)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}"
        )


@contextmanager
def running_standalone(home: Path, env: dict[str, str]) -> Iterator[Standalone]:
    """``airflow standalone`` with ``env`` on top of local mode's, stopped on exit."""
    airflow = Standalone(home, env)
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.stop()
