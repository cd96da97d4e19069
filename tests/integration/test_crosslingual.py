"""Cross-language links end to end: the labelled bilingual set served on the loopback site
as four sources (three editions of one publisher, one other publisher), each run by the CLI
with ``NEWS_INGEST_CROSS_LINGUAL=true``; the links stored on the articles and the stories'
``linked_stories`` against the labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.es.stories import stored_links
from news_ingest.local.bilingualset import load_bilingual_set, score, serve, write_config
from news_ingest.local.fixturesite import running_site
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def test_one_publishers_editions_are_linked_across_languages_and_look_alikes_are_not(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames, tmp_path: Path
) -> None:
    bilingual = load_bilingual_set()
    env = {"NEWS_INGEST_CONFIG_DIR": str(tmp_path / "config"), "NEWS_INGEST_CROSS_LINGUAL": "true"}
    with running_site() as site:
        feeds = serve(site, bilingual)
        write_config(tmp_path / "config", bilingual, feeds)
        for source in bilingual.sources:
            run_cli("run", "--source", source["id"], env=env)
        telling_of = {site.url(t.path): t.id for t in bilingual.tellings}
    found = [(telling_of[a], telling_of[b]) for a, b in stored_links(es, names)]
    result = score(bilingual, found)
    print(result.line())
    # Every labelled pair is found, and none of the hard cases (same subject and day,
    # a follow-up a week later, figures shared by chance, another publisher) is linked.
    assert (result.right, result.found) == (result.expected, result.expected), sorted(found)

    docs = [
        hit["_source"]
        for hit in helpers.scan(
            es, index=names.articles, _source=["url", "story_id", "cross_lingual"]
        )
    ]
    story_of = {telling_of[doc["url"]]: doc["story_id"] for doc in docs}
    call_story = es.get(index=names.stories, id=story_of["call-ar"])["_source"]
    assert set(call_story["linked_stories"]) == {story_of["call-en"], story_of["call-fr"]}
    (link,) = next(doc["cross_lingual"] for doc in docs if telling_of[doc["url"]] == "call-en")
    assert link["figures"] == ["1960", "27"] and "watchlist:karabakh" in link["concepts"]
