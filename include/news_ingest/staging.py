"""Staged batches: gzip JSON-lines files between the pipeline's steps.

Fetched pages are written here before anything touches Elasticsearch, so an outage of the
index loses nothing: the index step re-reads the file on retry, and the file is removed
only once every record in it is indexed or rejected with a reason. Paths go through
Airflow's ObjectStoragePath, so ``NEWS_INGEST_STAGING_URL=s3://bucket/prefix`` works with a
configured connection and workers on other machines see the same files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath


def storage_path(url: str) -> ObjectStoragePath:
    # Imported here: airflow.sdk takes seconds to import and most CLI commands never stage.
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def run_folder(staging_base: str, source_id: str, run_id: str) -> ObjectStoragePath:
    safe_run = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return storage_path(staging_base) / source_id / safe_run


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot stage a {type(value).__name__}")


def _open(path: ObjectStoragePath, mode: str) -> BinaryIO:
    # Through fsspec directly: ObjectStoragePath.open wraps the file to record asset
    # lineage, which loads Airflow's plugins on first use and intercepts every read call.
    # Staged batches are internal to a run; they have no lineage worth recording.
    handle: BinaryIO = path.fs.open(path.path, mode)
    return handle


def write_records(path: ObjectStoragePath, records: Iterable[dict[str, Any]]) -> int:
    """Write records atomically where the store allows: to a temporary name, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.partial"
    count = 0
    # Level 1: staged files live minutes; level 9 cost ~40% of the fetch step's CPU.
    with (
        _open(partial, "wb") as raw,
        gzip.open(raw, "wt", encoding="utf-8", compresslevel=1) as out,
    ):
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, default=_default))
            out.write("\n")
            count += 1
    partial.rename(path)
    return count


def read_records(path: ObjectStoragePath) -> Iterator[dict[str, Any]]:
    with _open(path, "rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def batch_paths(folder: ObjectStoragePath, kind: str) -> list[ObjectStoragePath]:
    """Staged files of one kind (``entries`` or ``pages``) in a run folder, in order."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(f"{kind}-"))


def batch_name(kind: str, number: int) -> str:
    return f"{kind}-{number:05d}.jsonl.gz"


def prune_empty_folders(base: ObjectStoragePath, keep: str) -> int:
    """Remove empty run folders under ``base`` (except ``keep``): one is left per run.

    Object stores have no real folders; there ``iterdir`` lists none that are empty.
    """
    if not base.exists():
        return 0
    removed = 0
    for folder in base.iterdir():
        if folder.name != keep and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            removed += 1
    return removed
