"""Local mode's SQLite metadata database, as Airflow's own processes open it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from news_ingest.local import localmode

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

# Both engines Airflow builds from its settings (the API server uses both), asked for the
# busy timeout SQLite actually applies, in milliseconds.
PROBE = """
import asyncio
from airflow import settings

settings.configure_orm()
with settings.engine.connect() as sync:
    print("sync", sync.exec_driver_sql("PRAGMA busy_timeout").scalar())

async def probe():
    async with settings.async_engine.connect() as connection:
        result = await connection.exec_driver_sql("PRAGMA busy_timeout")
        print("async", result.scalar())

asyncio.run(probe())
"""


def test_every_airflow_engine_waits_out_a_busy_sqlite(tmp_path: Path) -> None:
    env = {
        **os.environ,
        **localmode.airflow_env(tmp_path, tmp_path / "passwords.json", port=8080, parallelism=1),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-5000:]
    waits = dict(
        line.split() for line in done.stdout.splitlines() if line.startswith(("sync", "async"))
    )
    expected = str(localmode.SQLITE_BUSY_SECONDS * 1000)
    assert waits == {"sync": expected, "async": expected}, done.stdout
