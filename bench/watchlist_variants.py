"""Variant matching of watchlist names: recall on unlisted spellings, false alerts on real text.

Run: .venv/bin/python bench/watchlist_variants.py [--data DIR] [--show]

Recall: the sentences of tests/fixtures/watchlist_variants.yaml against the shipped Karabakh
watchlist, the `tuning` and the `held_apart` sections side by side (held_apart was never used
to change a rule), and the `lookalikes` that must not match.

False alerts: every article text the project has, scanned with the same watchlist:
  - fixture site pages (tests/fixtures/sites/*/articles.json) and 300 generated site articles,
  - the 181 pages of the article-extraction benchmark (--data, default ../shared/...),
  - the topic set (tests/fixtures/topics_labelled.yaml), both sections,
  - both relevance sets (tests/fixtures/relevance).
An alert is false when the article is labelled as not about Karabakh (topic and relevance
sets) or, where there is no label, when only a spelling variant raised it (the listed
spellings alone do not match): such an alert is either a new spelling or a false one, and
--show prints each so a person can tell which. Variant occurrences inside articles that alert
anyway are counted apart. Last, the cost: matching every text with the names as plain terms
and with variants, side by side in this run (median of --rounds), as a ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from news_ingest.local.fixturesite import SiteSpec, generate_articles
from news_ingest.settings import PROJECT_ROOT
from news_ingest.text.watchlists import Watchlist, load_watchlists, match_watchlist

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
SPELLINGS = FIXTURES / "watchlist_variants.yaml"
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "benchmarks" / "article-extraction"
KARABAKH_TOPICS = {"karabakh", "nagorno-karabakh"}
GENERATED_PAGES = 300


@dataclass(frozen=True)
class Text:
    corpus: str
    id: str
    fields: dict[str, str]
    about_karabakh: bool | None  # None: not labelled


def karabakh_watchlist() -> Watchlist:
    watchlists = load_watchlists(PROJECT_ROOT / "include" / "config" / "watchlists.yaml")
    return next(w for w in watchlists if w.id == "karabakh")


def exact_only(watchlist: Watchlist) -> Watchlist:
    """The same watchlist with its names as plain terms: what matched before variants."""
    terms = dict(watchlist.terms)
    for language, names in watchlist.names.items():
        terms[language] = [*terms.get(language, []), *names]
    return Watchlist.model_validate({**watchlist.model_dump(), "terms": terms, "names": {}})


def spelling_sets() -> dict[str, list[str]]:
    data: dict[str, list[str]] = yaml.safe_load(SPELLINGS.read_text("utf-8"))
    return data


def corpus_texts(data: Path) -> Iterator[Text]:
    for path in sorted((FIXTURES / "sites").glob("*/articles.json")):
        for entry in json.loads(path.read_text("utf-8"))["articles"]:
            fields = {
                "title": entry.get("title") or "",
                "lede": entry.get("lede") or "",
                "body": " ".join(entry.get("body_paragraphs") or []),
            }
            yield Text("fixture site pages", entry["file"], fields, None)
    for article in generate_articles(SiteSpec(pages=GENERATED_PAGES, karabakh_share=0.5)):
        fields = {
            "title": article.title,
            "lede": article.lede,
            "body": " ".join(article.paragraphs),
        }
        yield Text("generated site", str(article.number), fields, None)
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    for page_id, page in truth.items():
        yield Text("extraction benchmark", page_id, {"body": page["articleBody"]}, None)
    topics = yaml.safe_load((FIXTURES / "topics_labelled.yaml").read_text("utf-8"))
    for section in ("dev", "held_out"):
        for item in topics[section]:
            fields = {"title": item["title"], "body": item.get("text") or ""}
            about = bool(KARABAKH_TOPICS & set(item["topics"]))
            yield Text(f"topic set ({section})", item["id"], fields, about)
    for relevance in (FIXTURES / "relevance", FIXTURES / "relevance" / "analysts"):
        for article in json.loads((relevance / "articles.json").read_text("utf-8"))["articles"]:
            fields = {"title": article["title"], "body": article["body"]}
            about = bool(KARABAKH_TOPICS & set(article["topics"]))
            yield Text(f"relevance set ({relevance.name})", article["id"], fields, about)


@dataclass
class CorpusCount:
    texts: int = 0
    alerts: int = 0
    false_alerts: int = 0
    variant_only: int = 0
    variants_in_alerting: int = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="extraction benchmark")
    parser.add_argument("--show", action="store_true", help="print each variant hit found")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (median)")
    args = parser.parse_args()
    if not (args.data / "ground-truth.json").is_file():
        parser.error(f"no extraction benchmark at {args.data}: pass --data DIR")
    watchlist = karabakh_watchlist()
    listed = exact_only(watchlist)

    sets = spelling_sets()
    print(f"{'spellings':<12} {'matched':>8} {'of':>4} {'recall':>7}")
    for section in ("tuning", "held_apart"):
        found = [s for s in sets[section] if match_watchlist(watchlist, {"text": s})]
        missed = [s for s in sets[section] if s not in found]
        share = len(found) / len(sets[section])
        print(f"{section:<12} {len(found):>8} {len(sets[section]):>4} {share:>7.2f}")
        if missed:
            print(f"  missed: {' | '.join(missed)}")
    false_matches = [s for s in sets["lookalikes"] if match_watchlist(watchlist, {"text": s})]
    print(f"lookalikes: {len(false_matches)} of {len(sets['lookalikes'])} match {false_matches}")

    texts = list(corpus_texts(args.data))
    counts: dict[str, CorpusCount] = {}
    for text in texts:
        count = counts.setdefault(text.corpus, CorpusCount())
        count.texts += 1
        match = match_watchlist(watchlist, text.fields)
        if match is None:
            continue
        count.alerts += 1
        variant_hits = [hit for hit in match.hits if hit.rule]
        exact = match_watchlist(listed, text.fields)
        if exact is None:
            count.variant_only += 1
        if text.about_karabakh is False or (text.about_karabakh is None and exact is None):
            count.false_alerts += 1
        if exact is not None and variant_hits:
            count.variants_in_alerting += len(variant_hits)
        if args.show:
            for hit in variant_hits:
                print(f"  {text.corpus}/{text.id}: '{hit.surface}' -> {hit.term} ({hit.rule})")
    print()
    header = f"{'corpus':<28} {'texts':>6} {'alerts':>7} {'false':>6} {'variant-only':>13}"
    print(f"{header} {'variant hits in alerting':>25}")
    total = CorpusCount()
    for name, count in counts.items():
        row = (count.texts, count.alerts, count.false_alerts, count.variant_only)
        print(
            f"{name:<28} {row[0]:>6} {row[1]:>7} {row[2]:>6} {row[3]:>13} "
            f"{count.variants_in_alerting:>25}"
        )
        total.texts += count.texts
        total.alerts += count.alerts
        total.false_alerts += count.false_alerts
        total.variant_only += count.variant_only
        total.variants_in_alerting += count.variants_in_alerting
    print(
        f"{'all':<28} {total.texts:>6} {total.alerts:>7} {total.false_alerts:>6} "
        f"{total.variant_only:>13} {total.variants_in_alerting:>25}"
    )
    ratios = sorted(
        _seconds(watchlist, texts) / _seconds(listed, texts) for _ in range(args.rounds)
    )
    rounds = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    print(
        f"\nmatching time, variants / listed spellings only: {ratios[len(ratios) // 2]:.2f}x "
        f"(rounds: {rounds}; {len(texts)} texts)"
    )


def _seconds(watchlist: Watchlist, texts: list[Text]) -> float:
    started = time.perf_counter()
    for text in texts:
        match_watchlist(watchlist, text.fields)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
