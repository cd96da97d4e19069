"""Kibana saved objects: they parse, references resolve, every field exists with the right type."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from news_ingest.es.indices import IndexNames, articles_index_body, load_body
from news_ingest.settings import PROJECT_ROOT

KIBANA_DIR = PROJECT_ROOT / "include" / "kibana"
NAMES = IndexNames("news")  # the objects are written for the default prefix
# Lens' pseudo-field for "count of records".
RECORDS = "___records___"
# KQL `field:value` (field names here are plain dotted words).
KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*:")


def saved_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(KIBANA_DIR.glob("*.ndjson")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if line.strip():
                obj = json.loads(line)
                obj["_where"] = f"{path.name}:{number}"
                objects.append(obj)
    return objects


OBJECTS = saved_objects()


def flatten(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every field path of a mapping with its type (subfields included)."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            yield from flatten(spec["properties"], f"{path}.")
        else:
            yield path, spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            yield f"{path}.{sub}", sub_spec["type"]


FIELDS = {
    NAMES.articles: dict(flatten(articles_index_body("core")["mappings"]["properties"])),
    NAMES.alerts: dict(flatten(load_body("alerts")["mappings"]["properties"])),
    NAMES.stories: dict(flatten(load_body("stories")["mappings"]["properties"])),
}


def by_key() -> dict[tuple[str, str], dict[str, Any]]:
    return {(obj["type"], obj["id"]): obj for obj in OBJECTS}


def data_view_fields(obj: dict[str, Any]) -> dict[str, str]:
    """The mapping behind the (single) data view ``obj`` refers to."""
    views = {ref["id"] for ref in obj["references"] if ref["type"] == "index-pattern"}
    assert len(views) == 1, obj["_where"]
    view = by_key()[("index-pattern", views.pop())]
    return FIELDS[view["attributes"]["title"]]


def of_type(type_: str) -> list[dict[str, Any]]:
    return [obj for obj in OBJECTS if obj["type"] == type_]


def test_objects_exist_and_ids_are_unique() -> None:
    ids = [obj["id"] for obj in OBJECTS]
    assert len(ids) == len(set(ids))
    assert {obj["type"] for obj in OBJECTS} >= {"index-pattern", "search", "lens", "dashboard"}
    for obj in OBJECTS:
        assert obj["attributes"]["title"], obj["_where"]


def test_every_reference_resolves() -> None:
    known = by_key()
    for obj in OBJECTS:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, (obj["_where"], ref)


def test_data_views_cover_the_articles_alias_and_the_state_indices() -> None:
    views = {obj["attributes"]["title"]: obj["attributes"] for obj in of_type("index-pattern")}
    assert views[NAMES.articles]["timeFieldName"] == "published_at"
    assert views[NAMES.alerts]["timeFieldName"] == "alerted_at"
    assert views[NAMES.stories]["timeFieldName"] == "first_seen_at"
    for title, attributes in views.items():
        assert FIELDS[title][attributes["timeFieldName"]] == "date"


@pytest.mark.parametrize("obj", of_type("search"), ids=lambda o: o["id"])
def test_saved_searches_use_mapped_fields(obj: dict[str, Any]) -> None:
    fields = data_view_fields(obj)
    attributes = obj["attributes"]
    assert set(attributes["columns"]) <= set(fields)
    for field_name, _direction in attributes["sort"]:
        assert fields[field_name] in ("date", "keyword", "float", "integer")
    source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    refs = {ref["name"] for ref in obj["references"]}
    assert source["indexRefName"] in refs
    for field_name in KQL_FIELD.findall(source["query"]["query"]):
        assert fields[field_name] == "keyword", field_name


@pytest.mark.parametrize("obj", of_type("lens"), ids=lambda o: o["id"])
def test_lens_columns_use_mapped_fields_of_the_right_type(obj: dict[str, Any]) -> None:
    fields = data_view_fields(obj)
    wanted_type = {"date_histogram": "date", "terms": "keyword"}
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    refs = {ref["name"] for ref in obj["references"]}
    for layer_id, layer in layers.items():
        assert f"indexpattern-datasource-layer-{layer_id}" in refs
        assert list(layer["columns"]) == layer["columnOrder"]
        for column in layer["columns"].values():
            operation, source = column["operationType"], column["sourceField"]
            if operation == "count":
                assert source == RECORDS
            else:
                assert fields[source] == wanted_type[operation], (obj["id"], source)
            if operation == "terms":
                assert column["params"]["orderBy"]["columnId"] in layer["columns"]
    accessors = json.dumps(obj["attributes"]["state"]["visualization"])
    for column_id in {c for layer in layers.values() for c in layer["columns"]}:
        assert f'"{column_id}"' in accessors, (obj["id"], column_id)


def test_dashboard_panels_point_at_references() -> None:
    for dashboard in of_type("dashboard"):
        panels = json.loads(dashboard["attributes"]["panelsJSON"])
        names = {ref["name"]: ref for ref in dashboard["references"]}
        assert len(panels) == len(names)
        for panel in panels:
            assert names[panel["panelRefName"]]["type"] == panel["type"]
        indices = [p["panelIndex"] for p in panels]
        assert len(indices) == len(set(indices))
        json.loads(dashboard["attributes"]["optionsJSON"])
        json.loads(dashboard["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_the_overview_shows_the_largest_stories_of_the_day() -> None:
    dashboard = by_key()[("dashboard", "news-dashboard-overview")]
    panels = {p["panelRefName"]: p for p in json.loads(dashboard["attributes"]["panelsJSON"])}
    ref = next(r for r in dashboard["references"] if r["id"] == "news-search-stories")
    panel = panels[ref["name"]]
    assert panel["embeddableConfig"]["timeRange"] == {"from": "now-1d", "to": "now"}
    stories = by_key()[("search", "news-search-stories")]["attributes"]
    assert stories["title"] == "Stories" and stories["sort"] == [["members", "desc"]]
