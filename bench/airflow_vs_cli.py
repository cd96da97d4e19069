"""Airflow against the CLI: the source DAG over N new articles under a real scheduler
(``airflow standalone``: LocalExecutor, SQLite, mapped tasks in parallel, task processes
started by Airflow) against ``news-ingest run`` over the same pages, each into its own
fresh indices.

The DAG run is triggered through the REST API with the site's feeds, as an operator would;
its time is the run's own (start to end as Airflow records it), so Airflow's start-up is
not counted; the configured feed of the bench source is unreachable, so the scheduled run
Airflow starts by itself fails at once. The CLI runs as ops run it. Prints both times,
their ratio (target <= 1.5) and the DAG's task instances. Each round starts a fresh
standalone with fresh indices; the table shows the round with the median ratio.

    .venv/bin/python bench/airflow_vs_cli.py [--pages 2000] [--feeds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import (
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
from news_ingest.local.standalone import running_standalone
from news_ingest.settings import get_settings

SOURCE = "bench_site"
# Refused at once: the scheduled run that Airflow starts by itself fails in its first task.
UNREACHABLE_FEED = "http://127.0.0.1:9/feed.xml"


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
        config = config_with_sources(scratch / "config", [source_entry(SOURCE, [UNREACHABLE_FEED])])
        common = {"NEWS_INGEST_CONFIG_DIR": str(config), "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "1"}
        for number in range(args.rounds):
            rounds.append(measure(es, scratch / f"round-{number}", common, site.feeds))

    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    print(f"\n{args.pages} new articles over {args.feeds} feeds; {machine()}")
    print_table(
        f"one source run, seconds (the median of {len(rounds)} rounds)",
        [
            ("Airflow, real scheduler (DAG run start to end)", round(median["dag_seconds"], 1)),
            ("news-ingest run (wall, child process)", round(median["cli_seconds"], 1)),
            ("ratio Airflow / CLI (target <= 1.5)", round(median["ratio"], 2)),
            ("ratios of all rounds", " ".join(f"{r['ratio']:.2f}" for r in rounds)),
            ("DAG run state", median["state"]),
            ("task instances", median["task_instances"]),
            ("articles indexed: Airflow / CLI", f"{median['airflow']} / {median['cli']}"),
        ],
    )


def measure(
    es: Elasticsearch, scratch: Path, common: dict[str, str], feeds: list[str]
) -> dict[str, Any]:
    """One round: the DAG under a fresh standalone, then the CLI, each into fresh indices."""
    prefixes = {kind: f"bench-{uuid.uuid4().hex[:8]}" for kind in ("airflow", "cli")}

    def env_for(kind: str) -> dict[str, str]:
        return {
            **common,
            "NEWS_INGEST_INDEX_PREFIX": prefixes[kind],
            "NEWS_INGEST_STAGING_URL": (scratch / f"staging-{kind}").as_uri(),
        }

    try:
        with running_standalone(scratch / "airflow", env_for("airflow")) as airflow:
            airflow.wait_for_dag(SOURCE)
            run_id = airflow.trigger(SOURCE, {"feeds": feeds})
            state = airflow.wait_for_run(SOURCE, run_id, timeout=3600)
            run = airflow.run(SOURCE, run_id)
            instances = airflow.task_instances(SOURCE, run_id)
        dag_seconds = (_time(run["end_date"]) - _time(run["start_date"])).total_seconds()
        cli_command = [sys.executable, "-m", "news_ingest", "run", "--source", SOURCE]
        cli_command += [arg for feed in feeds for arg in ("--feed", feed)]
        _, cli_seconds = timed(
            lambda: subprocess.run(
                cli_command,
                env={**airflow.command.env, **env_for("cli")},
                check=True,
                capture_output=True,
                timeout=3600,
            )
        )
        counts = {}
        for kind, prefix in prefixes.items():
            es.indices.refresh(index=f"{prefix}-articles")
            counts[kind] = es.count(index=f"{prefix}-articles")["count"]
    finally:
        for prefix in prefixes.values():
            drop_indices(es, prefix)
    return {
        **counts,
        "dag_seconds": dag_seconds,
        "cli_seconds": cli_seconds,
        "ratio": dag_seconds / cli_seconds,
        "state": state,
        "task_instances": len(instances),
    }


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


if __name__ == "__main__":
    main()
