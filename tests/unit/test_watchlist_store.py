"""The pure parts of the watchlists store: change descriptions, snapshots, validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from news_ingest.alerting import alerts, watchlist_store
from news_ingest.configfile import ConfigError
from news_ingest.settings import PROJECT_ROOT
from news_ingest.text.watchlists import load_watchlists

BASE = {
    "id": "w",
    "name": "W",
    "severity": "high",
    "terms": {"ar": ["سوتشي"]},
    "channels": [{"type": "log"}],
}


def test_describe_change_names_added_and_removed_phrases_and_fields() -> None:
    new = {**BASE, "terms": {"ar": ["أدلر"]}, "names": {"en": ["Sochi"]}, "severity": "low"}
    text = watchlist_store.describe_change(BASE, new)
    assert text == 'names.en +Sochi; severity: "high" -> "low"; terms.ar +أدلر -سوتشي'
    assert watchlist_store.describe_change(None, BASE) == "created"
    assert watchlist_store.describe_change(BASE, BASE) == "no change to the definition"


def test_a_definition_gets_the_yaml_models_errors() -> None:
    with pytest.raises(ConfigError, match=re.escape("cli: field 'severity'")):
        watchlist_store.validate({**BASE, "severity": "urgent"}, "cli")


def test_a_snapshot_compiles_once_and_alerts_name_its_version() -> None:
    snapshot = json.dumps([{"version": 7, "definition": BASE}], ensure_ascii=False)
    (active,) = watchlist_store.from_snapshot(snapshot)
    assert watchlist_store.from_snapshot(snapshot)[0] is active  # cached by the string
    article = {"_id": "a", "title": "وصل إلى سوتشي", "body": ""}
    (alert,) = alerts.alerts_for([active], article)
    assert (alert["watchlist"], alert["watchlist_version"]) == ("w", 7)


def test_the_shipped_watchlists_round_trip_through_their_definition() -> None:
    for watchlist in load_watchlists(PROJECT_ROOT / "include" / "config" / "watchlists.yaml"):
        again = watchlist_store.validate(watchlist_store.definition_of(watchlist), "test")
        assert again.model_dump() == watchlist.model_dump()


def test_a_definition_file_holds_one_entry(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("watchlists: [{id: a}, {id: b}]\n", "utf-8")
    with pytest.raises(ConfigError, match="exactly one entry"):
        watchlist_store.read_definition_file(path)
    path.write_text("id: a\nname: A\n", "utf-8")
    assert watchlist_store.read_definition_file(path) == {"id": "a", "name": "A"}
