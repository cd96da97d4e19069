"""Each source's line counts in ``<prefix>-boilerplate``: read whole, written back only if
nobody else wrote in between (mapped index tasks of one source run side by side).

The counts themselves are plain data here; what they mean is ``extract.boilerplate``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch
from news_ingest.es.indices import IndexNames


@dataclass(frozen=True)
class StoredCounts:
    doc: dict[str, Any]
    # The version the document was read at; None when the source has none yet.
    seq_no: int | None = None
    primary_term: int | None = None


def load_counts(es: Elasticsearch, names: IndexNames, source: str) -> StoredCounts:
    response = es.options(ignore_status=404).get(index=names.boilerplate, id=source)
    if not response.get("found"):
        return StoredCounts({})
    return StoredCounts(response["_source"], response["_seq_no"], response["_primary_term"])


def save_counts(
    es: Elasticsearch,
    names: IndexNames,
    source: str,
    doc: dict[str, Any],
    read: StoredCounts,
) -> bool:
    """Write ``doc`` if the stored counts are still those ``read``; False if they changed."""
    body = {**doc, "source": source, "updated_at": datetime.now(UTC).isoformat()}
    try:
        if read.seq_no is None:
            es.create(index=names.boilerplate, id=source, document=body)
        else:
            es.index(
                index=names.boilerplate,
                id=source,
                document=body,
                if_seq_no=read.seq_no,
                if_primary_term=read.primary_term,
            )
    except ConflictError:
        return False
    return True
