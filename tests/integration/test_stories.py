"""Stories end to end: the labelled set through `news-ingest run`, grouped on the real node."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from elasticsearch import Elasticsearch, helpers
from news_ingest import pipeline, staging
from news_ingest.alerting import watchlist_store
from news_ingest.alerting.alerts import alert_id, store_missing_alerts
from news_ingest.es import indices, store
from news_ingest.es import stories as story_store
from news_ingest.es.indices import IndexNames
from news_ingest.es.stories import aggregated_story_docs
from news_ingest.local.fixturesite import running_site, serve_articles
from news_ingest.local.storyset import generate_story_set
from news_ingest.settings import get_settings
from news_ingest.text.folding import fold
from news_ingest.text.stories import fingerprint
from tests.conftest import Receiver
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def test_the_labelled_set_groups_into_its_stories_and_alerts_once_per_story(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    receiver: Receiver,
    alert_config: dict[str, str],
) -> None:
    # 24 stories (about 80 articles) keep the test short; bench/stories.py runs all 64.
    story_set = generate_story_set(stories=24)
    with running_site() as site:
        served = serve_articles(site, story_set.spec, story_set.articles)
        feeds = [arg for url in served.feed_urls for arg in ("--feed", url)]
        # Two batches, so members find each other within a batch and across batches.
        env = {"NEWS_INGEST_BATCH_SIZE": "50", **alert_config}
        run_cli("run", *feeds, "--profile", "sputnik", env=env)
        # Nothing new: no alert, no notification, no member added twice.
        run_cli("run", *feeds, "--profile", "sputnik", env=env)
    stored = {
        hit["_source"]["url"]: {"_id": hit["_id"], **hit["_source"]}
        for hit in helpers.scan(
            es, index=names.articles, _source=["url", "story_id", "duplicate_of", "source"]
        )
    }
    assert len(stored) == len(story_set.items)
    found_by_story: dict[int, set[str]] = defaultdict(set)
    for item in story_set.items:
        found_by_story[item.story].add(stored[served.url(item.article)]["story_id"])
    assert all(len(ids) == 1 for ids in found_by_story.values()), found_by_story
    story_ids = [next(iter(ids)) for ids in found_by_story.values()]
    assert len(set(story_ids)) == story_set.stories  # look-alike stories stay apart

    # Exact copies (same folded body) point to the one of them indexed first; feeds list
    # them in any order, so that is not always the original.
    exact: dict[tuple[int, bool], list[dict[str, str]]] = defaultdict(list)
    for item in story_set.items:
        doc = stored[served.url(item.article)]
        exact[item.story, item.kind == "update"].append(doc)
        if item.kind == "update":
            assert doc.get("duplicate_of") is None
    for (_, update), docs in exact.items():
        if not update:
            roots = [doc["_id"] for doc in docs if doc.get("duplicate_of") is None]
            assert len(roots) == 1, docs
            assert all(doc["duplicate_of"] == roots[0] for doc in docs if doc["_id"] != roots[0])

    members = Counter(doc["story_id"] for doc in stored.values())
    stories = {hit["_id"]: hit["_source"] for hit in helpers.scan(es, index=names.stories)}
    # Each batch derived its stories' documents before its write (the members already
    # indexed, plus its own): they are what an aggregation over all the articles gives.
    assert stories == aggregated_story_docs(es, names, stories)
    assert {key: story["members"] for key, story in stories.items()} == dict(members)
    originals = {
        stored[served.url(item.article)]["story_id"]: served.url(item.article)
        for item in story_set.items
        if item.kind == "original"
    }
    assert {key: story["first_url"] for key, story in stories.items()} == originals
    assert all(
        story["members_by_language"] == {"ar": story["members"]} for story in stories.values()
    )

    # One hit per story, with the number of its articles.
    collapsed = json.loads(
        run_cli("search", "", "--collapse", "story", "--size", "100", "--json").stdout
    )
    assert sorted(hit["story"]["id"] for hit in collapsed) == sorted(members)
    assert {hit["story"]["id"]: hit["story"]["members"] for hit in collapsed} == dict(members)

    # One alert, and one notification, per Karabakh story; its later articles are members.
    karabakh = Counter(
        stored[served.url(item.article)]["story_id"] for item in story_set.items if item.karabakh
    )
    alerts = json.loads(run_cli("alerts", "--json", "--size", "1000", env=alert_config).stdout)
    assert sorted(alert["story_id"] for alert in alerts) == sorted(karabakh)
    assert {alert["story_id"]: alert["members"] for alert in alerts} == dict(karabakh)
    for alert in alerts:
        # The story's first indexed article (whose id the story took) made the alert.
        assert alert["article_id"] == alert["story_id"]
        assert len(alert["also_reported"]) == alert["members"] - 1
    assert sorted(post["story_id"] for post in receiver.received) == sorted(karabakh)

    # Alerts follow from indexed state: a lost alert comes back, and a lost member comes
    # back into its story's existing alert (not as an alert of its own), each once.
    ids = [alert_id(alert["watchlist"], alert["story_id"]) for alert in alerts]
    with_members = next(i for i, alert in zip(ids, alerts, strict=True) if alert["members"] > 1)
    lost = next(i for i in ids if i != with_members)
    es.update(
        index=names.alerts,
        id=with_members,
        doc={"also_reported": [], "also_reported_by": [], "members": 1},
    )
    es.delete(index=names.alerts, id=lost)
    config_dir = Path(alert_config["NEWS_INGEST_CONFIG_DIR"])
    active = watchlist_store.from_snapshot(watchlist_store.snapshot(es, names, config_dir))
    assert store_missing_alerts(es, names, active, datetime.now(UTC)) == 1
    assert store_missing_alerts(es, names, active, datetime.now(UTC)) == 0
    es.indices.refresh(index=names.alerts)
    again = json.loads(run_cli("alerts", "--json", "--size", "1000", env=alert_config).stdout)
    assert {alert["story_id"]: alert["members"] for alert in again} == dict(karabakh)


def _article(number: int, body: str, **fields: Any) -> dict[str, Any]:
    norm = {"title": fold(f"عنوان {number}"), "lede": "", "body": fold(body)}
    return {
        "_id": f"a{number}",
        "url": f"https://example.org/{number}",
        "url_keys": [f"example.org/{number}"],
        "source": "sputnik_arabic",
        "language": "ar",
        "title": f"عنوان {number}",
        "body": body,
        "norm": norm,
        "published_at": f"2026-02-02T08:0{number}:00+00:00",
        "fetched_at": "2026-02-02T09:00:00+00:00",
        "content_hash": f"h{number}",
        "fingerprint": fingerprint(norm).as_fields(),
        **fields,
    }


def test_an_article_whose_write_fails_is_not_counted_in_its_story(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    settings = get_settings()
    indices.install(es, settings.index_prefix)
    body = " ".join(f"كلمة{n}" for n in range(60))
    alone = " ".join(f"أخرى{n}" for n in range(60))
    unindexable = {"extraction": {"quality": "not a number"}}
    # a1 starts a story that the copy a2 joins, but a2 is refused; a3 starts a story and is
    # refused too. The batch's story documents went in the same request as its articles.
    batch = [_article(1, body), _article(2, body, **unindexable), _article(3, alone, **unindexable)]
    path = staging.run_folder(settings.staging_base, "sputnik_arabic", "r1") / "docs-0.jsonl.gz"
    staging.write_records(path, [{"doc": doc, "alerts": []} for doc in batch])
    counts = pipeline.index(
        str(path),
        settings,
        es,
        source_id="sputnik_arabic",
        run_id="r1",
        publisher_of=pipeline.publishers(settings),
    )
    assert counts["indexed"] == 1 and counts["failed"] == 2
    es.indices.refresh(index=names.stories)
    stories = {hit["_id"]: hit["_source"] for hit in helpers.scan(es, index=names.stories)}
    assert list(stories) == ["a1"]
    assert stories["a1"]["members"] == 1 and stories["a1"]["duplicates"] == 0
    assert stories == aggregated_story_docs(es, names, ["a1", "a3"])


@pytest.mark.parametrize("stored", ["document", "no document"])
def test_parallel_batches_joining_one_story_lose_none_of_its_members(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    monkeypatch: pytest.MonkeyPatch,
    stored: str,
) -> None:
    settings = get_settings()
    indices.install(es, settings.index_prefix)
    body = " ".join(f"كلمة{n}" for n in range(60))
    folder = staging.run_folder(settings.staging_base, "sputnik_arabic", "r1")

    def stage(name: str, docs: list[dict[str, Any]]) -> str:
        path = folder / f"{name}.jsonl.gz"
        staging.write_records(path, [{"doc": doc, "alerts": []} for doc in docs])
        return str(path)

    # a1 starts the story; then two batches of copies (a2-a4, a5-a7) join it at once. With
    # "no document", a1 is indexed without its story's (a run that died between the two
    # writes): both batches then create the document, and one of them is refused.
    if stored == "document":
        first = pipeline.index(
            stage("docs-0", [_article(1, body)]),
            settings,
            es,
            source_id="sputnik_arabic",
            run_id="r1",
            publisher_of=pipeline.publishers(settings),
        )
        assert first["stories_updated"] == 1
    else:
        store.index_articles(es, names, [_article(1, body, story_id="a1")])
        assert story_store.story(es, names, "a1") is None
    batches = [
        stage("docs-1", [_article(n, body) for n in (2, 3, 4)]),
        stage("docs-2", [_article(n, body, source="another_outlet") for n in (5, 6, 7)]),
    ]
    # Both batches derive their story document before either writes: the worst moment.
    both_derived = threading.Barrier(2, timeout=60)
    prepare = story_store.prepare_story_docs

    def prepare_then_wait(*args: Any) -> story_store.PreparedStories:
        prepared = prepare(*args)
        both_derived.wait()
        return prepared

    monkeypatch.setattr(story_store, "prepare_story_docs", prepare_then_wait)
    with ThreadPoolExecutor(2) as pool:
        counts = list(
            pool.map(
                lambda path: pipeline.index(
                    path,
                    settings,
                    es,
                    source_id="sputnik_arabic",
                    run_id="r1",
                    publisher_of=pipeline.publishers(settings),
                ),
                batches,
            )
        )

    es.indices.refresh(index=names.articles)
    members = Counter(
        hit["_source"]["source"]
        for hit in helpers.scan(
            es, index=names.articles, query={"query": {"term": {"story_id": "a1"}}}
        )
    )
    document = story_store.story(es, names, "a1")
    assert document is not None
    expected = sum(members.values())
    print(
        f"story members: expected={expected} stored={document['members']} "
        f"lost={expected - document['members']}"
    )
    assert expected == 7 and document["members"] == 7
    # The batch that wrote second found the story rewritten, and derived it again.
    assert sorted(c["stories_rederived"] for c in counts) == [0, 1]
    assert all(c["indexed"] == 3 and c["stories_updated"] == 1 for c in counts)
    assert document["members_by_source"] == {"sputnik_arabic": 4, "another_outlet": 3}
    assert document == aggregated_story_docs(es, names, ["a1"])["a1"]
