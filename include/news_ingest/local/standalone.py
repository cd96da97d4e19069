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
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psutil

from news_ingest.local import localmode

FINISHED = {"success", "failed"}
QUIET = ("[http.access]", "Filling up the DagBag")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Standalone:
    """One ``airflow standalone`` in its own home and process group, and an API client
    logged in as local mode's admin.

    standalone does not restart a component that exits. On SQLite the scheduler can die
    (a loop over runs that a reprocessing backfill clears at the same moment ends in
    ``ObjectDeletedError``); a deployment's supervisor (Compose's restart policy, systemd)
    starts it again, so every wait here does the same and counts it in
    ``scheduler_restarts``: what the tests prove must hold across such a restart."""

    def __init__(
        self, home: Path, env: dict[str, str], parallelism: int = 2, port: int | None = None
    ) -> None:
        self.home = home
        self.command = localmode.standalone_command(home, port or free_port(), parallelism)
        self.command.env.update(env)
        self.log_path = home / "standalone.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarted: subprocess.Popen[bytes] | None = None
        self.scheduler_restarts = 0
        self.supervising = False
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
        self.wait_for(lambda: self._get_ok("/api/v2/monitor/health"), timeout, "API server")
        self.wait_for(self._scheduler_alive, timeout, "the scheduler process")
        token = self.client.post(
            "/auth/token",
            json={"username": localmode.ADMIN_USER, "password": self.command.password},
        )
        token.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        self.supervising = True

    def stop(self) -> None:
        for process in (self.restarted, self.process):
            if process is not None:
                _end_group(process)
        self.client.close()

    def wait_for_dag(self, dag_id: str, timeout: float = 240) -> None:
        self.wait_for(lambda: self._get_ok(f"/api/v2/dags/{dag_id}"), timeout, f"DAG {dag_id}")

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

        self.wait_for(finished, timeout, f"run {run_id} (last state {state!r})")
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        response.raise_for_status()
        instances: list[dict[str, Any]] = response.json()["task_instances"]
        return instances

    def diagnostics(self) -> str:
        """The components' health, the tail of standalone's output and of every task log,
        for a failure message. The API server's access log and the DAG processor's parse
        lines are left out: a wait polls every second, and they would fill the tail."""
        try:
            health = self.client.get("/api/v2/monitor/health").text
        except httpx.HTTPError as error:
            health = f"unreachable: {error!r}"
        lines = self.log_path.read_text("utf-8", "replace").splitlines()
        telling = [line for line in lines if not any(noise in line for noise in QUIET)]
        parts = [
            f"health: {health}; scheduler restarts: {self.scheduler_restarts}",
            "\n".join(telling)[-6000:],
        ]
        restarted = self.home / "scheduler-restarted.log"
        if restarted.exists():
            parts.append(f"--- {restarted}\n{restarted.read_text('utf-8', 'replace')[-3000:]}")
        for log in sorted((self.home / "logs").rglob("*.log"))[-8:]:
            parts.append(f"--- {log}\n{log.read_text('utf-8', 'replace')[-3000:]}")
        return "\n".join(parts)

    def wait_for_scheduler_loop(self, timeout: float = 120) -> None:
        """Wait for the scheduler's next heartbeat. It beats at the end of a loop, so the
        loop it was in when this was called, and every row that loop had read, is over."""
        before = self._scheduler_heartbeat()
        self.wait_for(lambda: self._scheduler_heartbeat() != before, timeout, "a scheduler loop")

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler, as a crash would: the fault the next wait recovers from."""
        assert self.process is not None
        for child in filter(_is_scheduler, psutil.Process(self.process.pid).children()):
            child.kill()

    def _scheduler_heartbeat(self) -> str:
        response = self.client.get("/api/v2/monitor/health")
        response.raise_for_status()
        return str(response.json()["scheduler"]["latest_scheduler_heartbeat"])

    def _get_ok(self, path: str) -> bool:
        return self.client.get(path).status_code == 200

    def _scheduler_alive(self) -> bool:
        if self.restarted is not None:
            return self.restarted.poll() is None
        assert self.process is not None
        return any(map(_is_scheduler, psutil.Process(self.process.pid).children()))

    def _restart_scheduler(self) -> None:
        self.scheduler_restarts += 1
        with (self.home / "scheduler-restarted.log").open("ab") as log:
            self.restarted = subprocess.Popen(
                [self.command.argv[0], "scheduler"],
                env=self.command.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check`` every second until it holds, restarting a scheduler that died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"airflow standalone exited\n{self.diagnostics()}")
            if self.supervising and not self._scheduler_alive():
                self._restart_scheduler()
            try:
                if check():
                    return
            except httpx.TransportError:
                pass  # an API server busy past the client's timeout: ask again
            time.sleep(1)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}"
        )


def _end_group(leader: subprocess.Popen[bytes], grace: float = 60, stragglers: float = 10) -> None:
    """SIGTERM a process group; SIGKILL what is left of it ``stragglers`` seconds after its
    leader has exited (or after ``grace``): the API server's workers and a dead scheduler's
    executor workers outlive their parent, and those workers ignore SIGTERM."""
    with suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        leader.wait(timeout=grace)
    deadline = time.monotonic() + stragglers
    while time.monotonic() < deadline:
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
    leader.wait()


def _is_scheduler(process: psutil.Process) -> bool:
    # standalone never reaps a component that exited: a dead scheduler stays a zombie.
    try:
        command: list[str] = process.cmdline()
        return process.status() != psutil.STATUS_ZOMBIE and command[-1:] == ["scheduler"]
    except psutil.Error:  # gone between the listing and the question
        return False


@contextmanager
def running_standalone(home: Path, env: dict[str, str]) -> Iterator[Standalone]:
    """``airflow standalone`` with ``env`` on top of local mode's, stopped on exit."""
    airflow = Standalone(home, env)
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.stop()
