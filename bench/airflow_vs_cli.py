"""Airflow against the CLI: the source DAG over N new articles via ``dag.test()`` against
``news-ingest run`` over the same pages, each into its own fresh indices.

Both run in child processes: the DAG through tests/integration/airflow_child.py with a
scratch AIRFLOW_HOME (SQLite, ``airflow db migrate`` first, not timed), the CLI as ops run
it. Prints both wall times, their ratio (target <= 1.5) and the DAG's task instances.

Each round uses fresh indices; the table shows the round with the median ratio.

    .venv/bin/python bench/airflow_vs_cli.py [--pages 2000] [--feeds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

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

from elasticsearch import Elasticsearch
from news_ingest.es import store
from news_ingest.local.fixturesite import SiteSpec
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
    parser.add_argument("--rounds", type=int, default=3, help="report the median round")
    args = parser.parse_args()
    quiet_logs()
    spec = SiteSpec(pages=args.pages, feeds=args.feeds, seed=4)
    es = store.connect(get_settings())
    rounds = []
    with served_site(spec) as site, tempfile.TemporaryDirectory(prefix="news-bench-") as tmp:
        scratch = Path(tmp)
        config = config_with_sources(scratch / "config", [source_entry(SOURCE, site.feeds)])
        common = {"NEWS_INGEST_CONFIG_DIR": str(config), "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "1"}
        (scratch / "airflow").mkdir()
        run_child([str(AIRFLOW), "db", "migrate"], airflow_env(scratch / "airflow", common))
        for number in range(args.rounds):
            rounds.append(measure(es, scratch, common, f"round-{number}"))

    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    print(f"\n{args.pages} new articles over {args.feeds} feeds; {machine()}")
    print_table(
        f"one source run, wall seconds (the median of {len(rounds)} rounds, child processes)",
        [
            ("Airflow dag.test() (incl. DAG parse)", round(median["dag_seconds"], 1)),
            ("news-ingest run", round(median["cli_seconds"], 1)),
            ("ratio Airflow / CLI (target <= 1.5)", round(median["ratio"], 2)),
            ("ratios of all rounds", " ".join(f"{r['ratio']:.2f}" for r in rounds)),
            ("DAG run state", median["state"]),
            ("task instances", median["task_instances"]),
            ("articles indexed: Airflow / CLI", f"{median['airflow']} / {median['cli']}"),
        ],
    )


def measure(es: Elasticsearch, scratch: Path, common: dict[str, str], name: str) -> dict[str, Any]:
    """One round: the DAG, then the CLI, each into its own fresh indices and staging."""
    prefixes = {kind: f"bench-{uuid.uuid4().hex[:8]}" for kind in ("airflow", "cli")}

    def env_for(kind: str) -> dict[str, str]:
        return airflow_env(
            scratch / "airflow",
            {
                **common,
                "NEWS_INGEST_INDEX_PREFIX": prefixes[kind],
                "NEWS_INGEST_STAGING_URL": (scratch / f"staging-{name}-{kind}").as_uri(),
            },
        )

    try:
        dag_out, dag_seconds = timed(
            lambda: run_child(
                [sys.executable, str(CHILD), str(PROJECT_ROOT / "dags"), SOURCE], env_for("airflow")
            )
        )
        cli_command = [sys.executable, "-m", "news_ingest", "run", "--source", SOURCE]
        _, cli_seconds = timed(lambda: run_child(cli_command, env_for("cli")))
        counts = {}
        for kind, prefix in prefixes.items():
            es.indices.refresh(index=f"{prefix}-articles")
            counts[kind] = es.count(index=f"{prefix}-articles")["count"]
    finally:
        for prefix in prefixes.values():
            drop_indices(es, prefix)
    line = next(x for x in dag_out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    return {
        **counts,
        "dag_seconds": dag_seconds,
        "cli_seconds": cli_seconds,
        "ratio": dag_seconds / cli_seconds,
        "state": result["state"],
        "task_instances": len(result["task_states"]),
    }


if __name__ == "__main__":
    main()
