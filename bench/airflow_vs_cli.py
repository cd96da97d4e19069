"""Airflow against the CLI: the source DAG over N new articles via ``dag.test()`` against
``news-ingest run`` over the same pages, each into its own fresh indices.

Both run in child processes: the DAG through tests/integration/airflow_child.py with a
scratch AIRFLOW_HOME (SQLite, ``airflow db migrate`` first, not timed), the CLI as ops run
it. Prints both wall times, their ratio (target <= 1.5) and the DAG's task instances.

    .venv/bin/python bench/airflow_vs_cli.py [--pages 2000] [--feeds 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from _common import (
    airflow_env,
    config_with_sources,
    drop_indices,
    machine,
    print_table,
    quiet_logs,
    served_site,
    source_entry,
    timed,
)

from news_ingest import store
from news_ingest.fixturesite import SiteSpec
from news_ingest.settings import PROJECT_ROOT, get_settings

CHILD = PROJECT_ROOT / "tests" / "integration" / "airflow_child.py"
AIRFLOW = Path(sys.executable).with_name("airflow")
SOURCE = "bench_site"


def run_child(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=8)
    args = parser.parse_args()
    quiet_logs()
    spec = SiteSpec(pages=args.pages, feeds=args.feeds, seed=4)
    es = store.connect(get_settings())
    prefixes = {name: f"bench-{uuid.uuid4().hex[:8]}" for name in ("airflow", "cli")}
    with served_site(spec) as site, tempfile.TemporaryDirectory(prefix="news-bench-") as tmp:
        scratch = Path(tmp)
        config = config_with_sources(scratch / "config", [source_entry(SOURCE, site.feeds)])
        common = {"NEWS_INGEST_CONFIG_DIR": str(config), "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "1"}

        def env_for(name: str) -> dict[str, str]:
            return airflow_env(
                scratch / "airflow",
                {
                    **common,
                    "NEWS_INGEST_INDEX_PREFIX": prefixes[name],
                    "NEWS_INGEST_STAGING_URL": (scratch / f"staging-{name}").as_uri(),
                },
            )

        (scratch / "airflow").mkdir()
        run_child([str(AIRFLOW), "db", "migrate"], env_for("airflow"))
        try:
            dag_out, dag_seconds = timed(
                lambda: run_child(
                    [sys.executable, str(CHILD), str(PROJECT_ROOT / "dags"), SOURCE],
                    env_for("airflow"),
                )
            )
            cli_command = [sys.executable, "-m", "news_ingest", "run", "--source", SOURCE]
            _, cli_seconds = timed(lambda: run_child(cli_command, env_for("cli")))
            counts = {}
            for name, prefix in prefixes.items():
                es.indices.refresh(index=f"{prefix}-articles")
                counts[name] = es.count(index=f"{prefix}-articles")["count"]
        finally:
            for prefix in prefixes.values():
                drop_indices(es, prefix)
    line = next(x for x in dag_out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    print(f"\n{args.pages} new articles over {args.feeds} feeds; {machine()}")
    print_table(
        "one source run, wall seconds (child processes, same pages)",
        [
            ("Airflow dag.test() (incl. DAG parse)", round(dag_seconds, 1)),
            ("news-ingest run", round(cli_seconds, 1)),
            ("ratio Airflow / CLI (target <= 1.5)", round(dag_seconds / cli_seconds, 2)),
            ("DAG run state", result["state"]),
            ("task instances", len(result["task_states"])),
            ("articles indexed: Airflow / CLI", f"{counts['airflow']} / {counts['cli']}"),
        ],
    )


if __name__ == "__main__":
    main()
