"""From a fetched page to the article document stored in Elasticsearch (pure, CPU-bound).

``analyze_page`` runs in worker processes: it takes the staged entry (a dict) and the page
as fetched (bytes, decoded here, in the worker) and returns a plain dict. The topic
taxonomy is loaded once per process (the pool's server preloads it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from news_ingest.crawl.fetcher import Page
from news_ingest.crawl.urls import canonicalize_url, document_id, host_of
from news_ingest.extract import boilerplate
from news_ingest.extract.html import ExtractedArticle, extract_article
from news_ingest.extract.language import detect_language
from news_ingest.extract.profiles import profile_by_id
from news_ingest.text.edits import next_revisit, paragraphs
from news_ingest.text.folding import folded_fields
from news_ingest.text.topics import Taxonomy, load_taxonomy, tag_topics

MIN_BODY_CHARS = 80
# Not a document field: the body's line hashes for the source's boilerplate counts, which
# the pipeline takes out of the document before it is staged.
LINE_HASHES = "_line_hashes"


@cache
def taxonomy_in(config_dir: str) -> Taxonomy:
    return load_taxonomy(Path(config_dir) / "topics.yaml")


def analyze_page(
    entry: dict[str, Any],
    page: Page,
    config_dir: str,
    learned_boilerplate: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Turn one feed entry and its fetched page into an article document, or a reject.

    A reject is ``{"rejected": {"url", "stage", "reason", "detail"}}``; an article is the
    Elasticsearch document with its ``_id`` (and ``LINE_HASHES``).
    """
    profile = profile_by_id(entry["profile"]) if entry.get("profile") else None
    html, charset = page.text()
    extracted = extract_article(
        html, page.final_url, profile, learned_boilerplate, now=page.fetched_at
    )
    if len(extracted.body) < MIN_BODY_CHARS:
        return {
            "rejected": {
                "url": entry["url"],
                "stage": "extract",
                "reason": "no-article-text",
                "detail": f"{len(extracted.body)} chars of body; warnings: "
                + ",".join(extracted.warnings),
            }
        }
    lede = extracted.lede or ""
    language, confidence = detect_language(
        "\n".join(part for part in (extracted.title, lede, extracted.body) if part)
    )
    categories = sorted({*entry.get("categories", []), *extracted.categories})
    title = extracted.title or entry.get("title", "")
    tags = tag_topics(
        taxonomy_in(config_dir),
        title=title,
        text=f"{lede}\n{extracted.body}",
        categories=categories,
    )
    canonical = choose_canonical(entry["canonical_url"], page.final_url, extracted)
    published_at, date_source = _published(entry.get("published_at"), extracted.published_at)
    updated_at, updated_source = _updated(entry.get("updated_at"), extracted.modified_at)
    first_seen_at = entry.get("first_seen_at") or page.fetched_at.isoformat()
    doc: dict[str, Any] = {
        "_id": document_id(canonical),
        "url": entry["url"],
        "canonical_url": canonical,
        "url_keys": sorted({entry["canonical_url"], canonical}),
        "feed_url": entry.get("feed_url"),
        "source": entry["source"],
        "title": title,
        "lede": lede,
        "body": extracted.body,
        "authors": sorted({*entry.get("authors", []), *extracted.authors}),
        "categories": categories,
        "topics": tags.topics,
        "topic_scores": tags.scores,
        "language": language,
        "language_confidence": round(confidence, 4),
        "word_count": len(f"{lede} {extracted.body}".split()),
        "published_at": published_at,
        "updated_at": updated_at,
        "first_seen_at": first_seen_at,
        "fetched_at": page.fetched_at.isoformat(),
        "discovered_via": entry.get("discovered_via") or "feed",
        "revision": 0,
        "next_revisit_at": _next_revisit(first_seen_at, page.fetched_at, entry),
        "extraction": {
            "profile": extracted.profile,
            "warnings": list(extracted.warnings),
            "charset": charset,
            "final_url": page.final_url,
            "date_source": date_source,
            "updated_source": updated_source,
            "quality": extracted.quality,
        },
    }
    # Folded copies of title/lede/body for spelling-variant search (news_ingest.text.folding).
    doc["norm"] = folded_fields(doc)
    doc["content_hash"] = content_hash(doc)
    doc[LINE_HASHES] = extracted.line_hashes
    return doc


CONTENT_FIELDS = ("title", "lede", "body", "published_at", "authors", "categories")


def content_hash(fields: Mapping[str, Any]) -> str:
    """Hash of what a reader sees; metadata such as fetch time does not count as a change."""
    digest = hashlib.sha256()
    for key in CONTENT_FIELDS:
        digest.update(f"{key}\x1f{fields.get(key)!s}\x1e".encode())
    return digest.hexdigest()


def reads_the_same(
    old: Mapping[str, Any], new: Mapping[str, Any], line_hashes: Collection[str]
) -> bool:
    """Whether the stored version ``old`` reads as ``new`` once the lines ``new`` dropped as
    learned boilerplate are taken out of it too. ``line_hashes`` are the hashes of ``new``'s
    page lines before the drop (``LINE_HASHES``).

    A source's learned boilerplate grows after its first pages were indexed: a revisit of
    one of them then drops a promo line the stored version kept. The page did not change,
    what the pipeline removes did; that is no edit (no revision, no edit alert).
    """
    kept = {boilerplate.line_hash(line) for line in paragraphs(new)}
    dropped = set(line_hashes) - kept
    if not dropped:
        return False
    lines = [line for line in paragraphs(old) if boilerplate.line_hash(line) not in dropped]
    return content_hash({**old, "body": "\n\n".join(lines)}) == str(new["content_hash"])


def choose_canonical(entry_canonical: str, final_url: str, extracted: ExtractedArticle) -> str:
    """The page's ``<link rel=canonical>`` wins when it stays on the site we fetched.

    A canonical pointing to another host is ignored: a compromised or careless page
    must not be able to overwrite another site's article id.
    """
    candidate = extracted.canonical_url
    if candidate:
        try:
            canonical = canonicalize_url(candidate)
        except ValueError:
            return entry_canonical
        if _same_site(host_of(canonical), host_of(final_url)):
            return canonical
    return entry_canonical


def _same_site(host_a: str, host_b: str) -> bool:
    def strip(host: str) -> str:
        return host.removeprefix("www.")

    return strip(host_a) == strip(host_b)


def _updated(listed: str | None, page_modified: datetime | None) -> tuple[str | None, str]:
    """The later of the listing's time (feed ``updated``, sitemap ``lastmod``) and the
    page's own modified time."""
    candidates = [(page_modified, "page")] if page_modified is not None else []
    if listed:
        candidates.append((datetime.fromisoformat(listed), "listing"))
    if not candidates:
        return None, "none"
    moment, where = max(candidates, key=lambda pair: pair[0].astimezone(UTC))
    return moment.isoformat(), where


def _next_revisit(first_seen_at: str, fetched_at: datetime, entry: dict[str, Any]) -> str | None:
    due = next_revisit(
        datetime.fromisoformat(first_seen_at), fetched_at, entry.get("revisit_after_hours") or ()
    )
    return due.isoformat() if due is not None else None


def _published(feed_date: str | None, page_date: datetime | None) -> tuple[str | None, str]:
    if feed_date:
        return feed_date, "feed"
    if page_date is not None:
        return page_date.isoformat(), "page"
    return None, "none"
