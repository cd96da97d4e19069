"""Watchlists kept in Elasticsearch (``<prefix>-watchlists``), versioned, seeded from the YAML.

``watchlists.yaml`` seeds the index: a watchlist id found in the file and not in the index is
stored as its version 1. From then on the index is the watchlist's truth: analysts change it
with ``news-ingest watchlist add|edit|disable`` without a deploy, and every change is a new
version document (who, when, what changed) that no later write can overwrite.

A run takes a *snapshot* of the versions in force when it starts (``snapshot``): a JSON
string, small, that the extraction workers compile once each (``from_snapshot``, cached by
the string) and that every alert of the run names the version from. So an edit takes effect
at the next run, and a run never mixes two versions of one list.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, helpers
from news_ingest.configfile import ConfigError, read_yaml_mapping, validate_entry
from news_ingest.es.indices import IndexNames
from news_ingest.text.watchlists import Watchlist, load_watchlists

log = logging.getLogger(__name__)

WATCHLISTS_FILE = "watchlists.yaml"


@dataclass(frozen=True)
class StoredVersion:
    """One version of one watchlist as stored."""

    watchlist: Watchlist
    version: int
    disabled: bool
    changed_by: str
    changed_at: str
    change: str

    @property
    def definition(self) -> dict[str, Any]:
        return definition_of(self.watchlist)


@dataclass(frozen=True)
class Active:
    """A watchlist in force for a run, with the version its alerts record."""

    watchlist: Watchlist
    version: int


def definition_of(watchlist: Watchlist) -> dict[str, Any]:
    """The entry as it would be written in watchlists.yaml (defaults left out)."""
    data: dict[str, Any] = watchlist.model_dump(mode="json", exclude_defaults=True)
    return data


def validate(definition: object, where: str) -> Watchlist:
    """The typed model and the error messages of watchlists.yaml, for any other source."""
    return validate_entry(Watchlist, definition, where)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def describe_change(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """What changed between two definitions, in a line a person reads: ``terms.ar +X -Y``."""
    if old is None:
        return "created"
    parts = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict | type(None)) and isinstance(after, dict | type(None)):
            before, after = before or {}, after or {}
            for language in sorted(set(before) | set(after)):
                added = [p for p in after.get(language, []) if p not in before.get(language, [])]
                removed = [p for p in before.get(language, []) if p not in after.get(language, [])]
                signs = [f"+{p}" for p in added] + [f"-{p}" for p in removed]
                if signs:
                    parts.append(f"{key}.{language} {' '.join(signs)}")
        else:
            parts.append(
                f"{key}: {json.dumps(before, ensure_ascii=False)} -> "
                f"{json.dumps(after, ensure_ascii=False)}"
            )
    return "; ".join(parts) or "no change to the definition"


def _doc_id(watchlist_id: str, version: int) -> str:
    return f"{watchlist_id}@{version}"


def _parse(source: Mapping[str, Any], names: IndexNames) -> StoredVersion:
    where = f"{names.watchlists}/{_doc_id(source['watchlist'], source['version'])}"
    return StoredVersion(
        watchlist=validate(source["definition"], where),
        version=int(source["version"]),
        disabled=bool(source.get("disabled")),
        changed_by=str(source.get("changed_by") or ""),
        changed_at=str(source.get("changed_at") or ""),
        change=str(source.get("change") or ""),
    )


def _all(es: Elasticsearch, names: IndexNames) -> list[dict[str, Any]]:
    # No refresh here (analysts may not): every version is written with refresh=wait_for.
    return [hit["_source"] for hit in helpers.scan(es, index=names.watchlists, size=500)]


def history(es: Elasticsearch, names: IndexNames, watchlist_id: str) -> list[StoredVersion]:
    """Every version of one watchlist, oldest first; [] when there is none."""
    sources = [s for s in _all(es, names) if s["watchlist"] == watchlist_id]
    return [_parse(s, names) for s in sorted(sources, key=lambda s: int(s["version"]))]


def current(es: Elasticsearch, names: IndexNames) -> list[StoredVersion]:
    """The newest version of every stored watchlist (disabled ones too), by id."""
    newest: dict[str, dict[str, Any]] = {}
    for source in _all(es, names):
        kept = newest.get(source["watchlist"])
        if kept is None or int(source["version"]) > int(kept["version"]):
            newest[source["watchlist"]] = source
    return [_parse(newest[key], names) for key in sorted(newest)]


def get(es: Elasticsearch, names: IndexNames, watchlist_id: str) -> StoredVersion:
    versions = history(es, names, watchlist_id)
    if not versions:
        known = ", ".join(v.watchlist.id for v in current(es, names)) or "none"
        raise ConfigError(f"{names.watchlists}: no watchlist '{watchlist_id}'; known ids: {known}")
    return versions[-1]


def save(
    es: Elasticsearch,
    names: IndexNames,
    watchlist: Watchlist,
    *,
    version: int,
    changed_by: str,
    change: str,
    disabled: bool = False,
) -> StoredVersion:
    """Store ``version`` of a watchlist; a ConfigError if someone stored it first."""
    now = datetime.now(UTC).isoformat()
    document = {
        "watchlist": watchlist.id,
        "version": version,
        "disabled": disabled,
        "changed_by": changed_by,
        "changed_at": now,
        "change": change,
        "definition": definition_of(watchlist),
    }
    try:
        es.create(
            index=names.watchlists,
            id=_doc_id(watchlist.id, version),
            document=document,
            refresh="wait_for",
        )
    except ConflictError:
        raise ConfigError(
            f"watchlist '{watchlist.id}' version {version} was stored by someone else meanwhile; "
            f"look at `news-ingest watchlist show {watchlist.id}` and apply the change again"
        ) from None
    log.info(
        "event=watchlist_saved watchlist=%s version=%d by=%s change=%s",
        watchlist.id,
        version,
        changed_by,
        change,
    )
    return StoredVersion(watchlist, version, disabled, changed_by, now, change)


def change(
    es: Elasticsearch,
    names: IndexNames,
    definition: Mapping[str, Any],
    *,
    where: str,
    changed_by: str,
    note: str = "",
    disabled: bool | None = None,
) -> StoredVersion:
    """Validate ``definition`` and store it as the watchlist's next version (1 if new)."""
    watchlist = validate(dict(definition), where)
    versions = history(es, names, watchlist.id)
    last = versions[-1] if versions else None
    what = describe_change(last.definition if last else None, definition_of(watchlist))
    state = last.disabled if disabled is None and last else bool(disabled)
    if last and disabled is not None and disabled != last.disabled:
        what = ("disabled" if disabled else "enabled") + (
            "" if what == "no change to the definition" else f"; {what}"
        )
    return save(
        es,
        names,
        watchlist,
        version=(last.version + 1) if last else 1,
        changed_by=changed_by,
        change=f"{what}" + (f" ({note})" if note else ""),
        disabled=state,
    )


def seed(es: Elasticsearch, names: IndexNames, config_dir: Path) -> list[str]:
    """Store each watchlist of the YAML whose id the index lacks, as version 1; their ids."""
    path = config_dir / WATCHLISTS_FILE
    stored = {v.watchlist.id for v in current(es, names)}
    seeded = []
    for watchlist in load_watchlists(path):
        if watchlist.id in stored:
            continue
        try:
            save(
                es,
                names,
                watchlist,
                version=1,
                changed_by=str(path),
                change="seeded from watchlists.yaml",
            )
        except ConfigError:
            continue  # a parallel run seeded it first
        seeded.append(watchlist.id)
    return seeded


def snapshot(es: Elasticsearch, names: IndexNames, config_dir: Path) -> str:
    """The enabled watchlists in force now (seeding first), as the string workers compile."""
    seed(es, names, config_dir)
    entries = [
        {"version": v.version, "definition": v.definition}
        for v in current(es, names)
        if not v.disabled
    ]
    return json.dumps(entries, ensure_ascii=False, sort_keys=True)


@cache
def from_snapshot(text: str) -> tuple[Active, ...]:
    """The compiled watchlists of a snapshot; each worker compiles a snapshot once."""
    entries: Sequence[dict[str, Any]] = json.loads(text)
    return tuple(
        Active(validate(entry["definition"], "watchlist snapshot"), int(entry["version"]))
        for entry in entries
    )


def read_definition_file(path: Path) -> dict[str, Any]:
    """A watchlist entry from a YAML file: one entry, or a watchlists.yaml with exactly one."""
    data = read_yaml_mapping(path)
    if "watchlists" in data:
        entries = data["watchlists"]
        if not isinstance(entries, list) or len(entries) != 1:
            raise ConfigError(f"{path}: expected exactly one entry under 'watchlists:'")
        data = entries[0]
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the entry under 'watchlists:' must be a mapping")
    return data
