"""Cross-language links: precision and recall on the labelled bilingual set.

The set (``news_ingest.local.bilingualset``: 23 hand-written articles, three editions of
one publisher in Arabic, English and French and another publisher, 10 pairs to link, and
hard cases that must not be: same subject and day, a follow-up a week later repeating the
figures, figures shared by chance, the other publisher) is served on the loopback site and
each source is run through ``pipeline.run_once`` with ``NEWS_INGEST_CROSS_LINGUAL=true``,
once per time window. Links are left off by default below precision 0.9.

    .venv/bin/python bench/crosslingual.py [--hours 6 12 48]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import connect_and_install, machine, print_table, quiet_logs, scratch_settings

from news_ingest import pipeline
from news_ingest.es.indices import IndexNames
from news_ingest.es.stories import stored_links
from news_ingest.local.bilingualset import (
    BilingualSet,
    LinkScore,
    load_bilingual_set,
    score,
    serve,
    write_config,
)
from news_ingest.local.fixturesite import running_site
from news_ingest.sources import get_source


def linked(bilingual: BilingualSet, hours: str) -> LinkScore:
    with tempfile.TemporaryDirectory(prefix="news-crosslingual-") as config, running_site() as site:
        feeds = serve(site, bilingual)
        write_config(Path(config), bilingual, feeds)
        with scratch_settings(
            NEWS_INGEST_CONFIG_DIR=config,
            NEWS_INGEST_CROSS_LINGUAL="true",
            NEWS_INGEST_CROSS_LINGUAL_HOURS=hours,
        ) as settings:
            es = connect_and_install(settings)
            for entry in bilingual.sources:
                source = get_source(settings.config_dir, entry["id"])
                pipeline.run_once(source, source.feed_urls, settings, es, run_id=entry["id"])
            telling_of = {site.url(t.path): t.id for t in bilingual.tellings}
            links = stored_links(es, IndexNames(settings.index_prefix))
    return score(bilingual, [(telling_of[a], telling_of[b]) for a, b in links])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", nargs="+", default=["6", "12", "48"])
    args = parser.parse_args()
    quiet_logs()
    bilingual = load_bilingual_set()
    print(f"\nlabelled set: {len(bilingual.tellings)} articles; {machine()}")
    rows = []
    for hours in args.hours:
        result = linked(bilingual, hours)
        rows.append(
            (
                f"window {hours} h: links found / right / expected",
                f"{result.found} / {result.right} / {result.expected}",
            )
        )
        rows.append(
            (f"window {hours} h: precision, recall", f"{result.precision:.3f}, {result.recall:.3f}")
        )
    print_table("cross-language links (2 shared figures, 1 shared name id)", rows)


if __name__ == "__main__":
    main()
