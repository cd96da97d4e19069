"""DAG parse time with many sources, and peak memory of a run.

1. Parse: a scratch config with 1 and then 50 sources (4 feeds each); in a fresh child
   process each, ``DagBag`` parses dags/ and reports Airflow's own per-file parse duration
   (target: well under a second for the file with 50 DAGs).
2. Memory: ``news-ingest run`` over N new pages in a child process; peak RSS of its largest
   process (``ru_maxrss`` from wait4) and of its whole process tree (sampled: the pipeline
   process, the forkserver and the extraction workers); target < 1 GiB.

    .venv/bin/python bench/parse_and_memory.py [--sources 50] [--pages 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from _common import (
    airflow_env,
    config_with_sources,
    drop_indices,
    machine,
    print_table,
    quiet_logs,
    served_site,
    source_entry,
)

from news_ingest.es import store
from news_ingest.local.fixturesite import SiteSpec
from news_ingest.settings import PROJECT_ROOT, get_settings


def parse_in_child() -> None:
    """Child side: parse dags/ and print one JSON line of Airflow's figures."""
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    parsed = time.perf_counter()
    stats = [(s.file, s.duration.total_seconds(), s.dag_num) for s in bag.dagbag_stats]
    result = {
        "airflow_import_s": imported - started,
        "dagbag_s": parsed - imported,
        "files": stats,
        "import_errors": len(bag.import_errors),
    }
    print("RESULT " + json.dumps(result))


def parse_figures(config: Path, scratch: Path) -> dict[str, object]:
    env = airflow_env(scratch, {"NEWS_INGEST_CONFIG_DIR": str(config)})
    done = subprocess.run(
        [sys.executable, __file__, "--child-parse"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return result


def peak_memory(command: list[str], env: dict[str, str]) -> tuple[int, int]:
    """(largest process peak RSS, peak RSS summed over the process tree), in bytes."""
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree_peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal tree_peak
        parent = psutil.Process(child.pid)
        while not done.wait(0.2):
            try:
                processes = [parent, *parent.children(recursive=True)]
                tree_peak = max(tree_peak, sum(p.memory_info().rss for p in processes))
            except psutil.Error:
                continue

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    sampler.join()
    if status != 0:
        raise SystemExit(
            f"run failed: {child.stderr.read().decode()[-3000:] if child.stderr else ''}"
        )
    return usage.ru_maxrss * 1024, tree_peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--child-parse", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_parse:
        parse_in_child()
        return
    quiet_logs()
    parse_rows: list[tuple[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="news-bench-") as tmp:
        scratch = Path(tmp)
        for count in (1, args.sources):
            sources = [
                source_entry(
                    f"source_{n:03d}", [f"http://127.0.0.1:9/{n}/{k}.xml" for k in range(4)]
                )
                for n in range(count)
            ]
            config = config_with_sources(scratch / f"config-{count}", sources)
            result = parse_figures(config, scratch / f"airflow-{count}")
            files = result["files"]
            assert isinstance(files, list) and result["import_errors"] == 0, result
            seconds = sum(duration for _, duration, _ in files)
            dags = sum(number for _, _, number in files)
            parse_rows.append(
                (f"{count} source(s): DAGs, file parse seconds", f"{dags}, {seconds:.3f}")
            )
        parse_rows.append(
            (
                "airflow import in the child (once per process)",
                round(float(result["airflow_import_s"]), 2),
            )
        )  # type: ignore[arg-type]

        spec = SiteSpec(pages=args.pages, feeds=8, seed=6)
        es = store.connect(get_settings())
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        with served_site(spec) as site:
            config = config_with_sources(
                scratch / "config-run", [source_entry("bench_site", site.feeds)]
            )
            env = {
                **os.environ,
                "NEWS_INGEST_CONFIG_DIR": str(config),
                "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "1",
                "NEWS_INGEST_INDEX_PREFIX": prefix,
                "NEWS_INGEST_STAGING_URL": (scratch / "staging").as_uri(),
            }
            command = [sys.executable, "-m", "news_ingest", "run", "--source", "bench_site"]
            try:
                largest, tree = peak_memory(command, env)
                es.indices.refresh(index=f"{prefix}-articles")
                indexed = es.count(index=f"{prefix}-articles")["count"]
            finally:
                drop_indices(es, prefix)

    print(f"\n{machine()}")
    print_table("DAG parse (Airflow's per-file duration, fresh child process)", parse_rows)
    mib = 1024 * 1024
    print_table(
        f"memory of `news-ingest run` over {args.pages} pages ({indexed} indexed)",
        [
            ("peak RSS, largest process (MiB; target < 1024)", round(largest / mib)),
            ("peak RSS, whole process tree (MiB)", round(tree / mib)),
        ],
    )


if __name__ == "__main__":
    main()
