"""Extraction workers start cleanly under a parent whose ``__main__`` must not be re-run.

An Airflow task process's main module is the ``airflow`` script, whose import needs a
metadata database that task processes do not have; the script below stands for it: run as
``__mp_main__`` (what multiprocessing does to prepare a worker) it fails at once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOSTILE_MAIN = """
if __name__ == "__mp_main__":
    raise SystemExit("a worker re-ran the parent's main module")

from news_ingest import pipeline
from news_ingest.settings import get_settings

if __name__ == "__main__":
    with pipeline.extraction_pool(get_settings()) as pool:
        print(sorted(pool.map(abs, [-3, -1, -2])))
"""


def test_pool_workers_never_run_the_parents_main_module(tmp_path: Path) -> None:
    script = tmp_path / "hostile_main.py"
    script.write_text(HOSTILE_MAIN, "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[1, 2, 3]"
    assert "re-ran" not in done.stderr
