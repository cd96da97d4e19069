"""Stories: how well the pipeline groups copies and near-copies, and what grouping costs.

1. Quality, on the labelled set of ``news_ingest.local.storyset`` (64 stories, about 230
   articles: exact copies, headline changes, rewritten leads, republished updates, and
   look-alike stories on the same subject and day that must stay apart), served on the
   loopback site and run through ``pipeline.run_once`` (what ``news-ingest run`` calls):
   pairwise precision and recall of "same story", B-cubed precision, recall and F1, the
   recall per kind of variant, and whether ``duplicate_of`` points to the original.
2. Cost: ``run_once`` on the generated throughput site with story detection on and off
   (``NEWS_INGEST_STORIES``), side by side in each round, in fresh indices, alternating
   which goes first; the median round's ratio is reported with every round's, and the
   ratio of the rounds' totals; in wall time and in core-seconds of all the run's work.

    .venv/bin/python bench/stories.py [--threshold 0.5] [--pages 1000] [--rounds 3]
                                      [--skip-cost] [--no-alerts]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml
from _common import (
    bench_source,
    connect_and_install,
    machine,
    print_table,
    quiet_logs,
    scratch_settings,
    served_site,
    timed,
)

from elasticsearch import helpers
from news_ingest import pipeline
from news_ingest.es.indices import IndexNames
from news_ingest.local import localnode
from news_ingest.local.fixturesite import SiteSpec, running_site, serve_articles
from news_ingest.local.storyset import StorySet, generate_story_set
from news_ingest.settings import PROJECT_ROOT


def pairwise(truth: Mapping[str, int], found: Mapping[str, str]) -> tuple[float, float]:
    """Precision and recall of the pairs of articles put in the same story."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(truth), 2):
        same_truth, same_found = truth[a] == truth[b], found[a] == found[b]
        tp += same_truth and same_found
        fp += same_found and not same_truth
        fn += same_truth and not same_found
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def b_cubed(truth: Mapping[str, int], found: Mapping[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1: per article, the share of its found cluster in its
    true story and of its true story in its found cluster, averaged over articles."""
    true_groups = Counter(truth.values())
    found_groups = Counter(found.values())
    both = Counter((truth[a], found[a]) for a in truth)
    precision = sum(both[truth[a], found[a]] / found_groups[found[a]] for a in truth) / len(truth)
    recall = sum(both[truth[a], found[a]] / true_groups[truth[a]] for a in truth) / len(truth)
    return precision, recall, 2 * precision * recall / (precision + recall)


def grouping(story_set: StorySet, threshold: str) -> dict[str, object]:
    """Run the set through ``run_once``; the stored grouping against the labels."""
    with scratch_settings(NEWS_INGEST_STORY_THRESHOLD=threshold) as settings:
        es = connect_and_install(settings)
        with running_site() as site:
            served = serve_articles(site, story_set.spec, story_set.articles)
            counts = pipeline.run_once(
                bench_source(served.feed_urls), served.feed_urls, settings, es, run_id="stories"
            )
            names = IndexNames(settings.index_prefix)
            stored = {
                hit["_source"]["url"]: {"_id": hit["_id"], **hit["_source"]}
                for hit in helpers.scan(
                    es, index=names.articles, _source=["url", "story_id", "duplicate_of"]
                )
            }
            by_url = {served.url(item.article): item for item in story_set.items}
            # The last batch's story documents are written last: make them countable.
            es.indices.refresh(index=names.stories)
            stories_docs = es.count(index=names.stories)["count"]
    found = {url: stored[url]["story_id"] for url in by_url}
    truth = {url: item.story for url, item in by_url.items()}
    original_id = {
        item.story: stored[served.url(item.article)]["_id"]
        for item in story_set.items
        if item.kind == "original"
    }
    kinds: dict[str, list[bool]] = {}
    duplicates_right = duplicates_expected = groups_right = 0
    for url, item in by_url.items():
        if item.kind == "original":
            continue
        original_url = next(
            served.url(o.article)
            for o in story_set.items
            if o.story == item.story and o.kind == "original"
        )
        kinds.setdefault(item.kind, []).append(found[url] == found[original_url])
        if item.kind in ("copy", "headline", "lead"):
            duplicates_expected += 1
            duplicates_right += stored[url].get("duplicate_of") == original_id[item.story]
    # Exact copies (original, copy, headline, lead: one folded body) point to the one of
    # them indexed first, which is the original unless a copy came in an earlier batch.
    exact_groups: dict[int, list[Mapping[str, object]]] = {}
    for url, item in by_url.items():
        if item.kind != "update":
            exact_groups.setdefault(item.story, []).append(stored[url])
    for docs in exact_groups.values():
        roots = [doc["_id"] for doc in docs if not doc.get("duplicate_of")]
        consistent = len(roots) == 1 and all(
            doc.get("duplicate_of") in (None, roots[0]) for doc in docs
        )
        groups_right += consistent
    precision, recall = pairwise(truth, found)
    return {
        "counts": counts,
        "articles": len(by_url),
        "stories": story_set.stories,
        "found_stories": len(set(found.values())),
        "stories_docs": stories_docs,
        "pairwise": (precision, recall),
        "b_cubed": b_cubed(truth, found),
        "kinds": {kind: sum(ok) / len(ok) for kind, ok in sorted(kinds.items())},
        "duplicates": (duplicates_right, duplicates_expected),
        "exact_groups": (groups_right, len(exact_groups)),
    }


@dataclass
class Round:
    seconds: dict[str, float]  # wall time, stories "true" / "false"
    cpu: dict[str, float]  # core-seconds of the run's processes and of the node
    alerts: dict[str, int]


def cost(pages: int, rounds: int, config_dir: Path | None) -> list[Round]:
    """Each round: both runs on the same site in fresh indices, the order alternating. Next
    to wall time, the core-seconds of all the work (this process, the extraction pool's
    server and workers, where fingerprints are made, and the node), which other sessions
    on a shared box disturb less. With stories on, a story alerts once, so fewer alerts
    are delivered; ``config_dir`` can hold a watchlist that never matches."""
    spec = SiteSpec(pages=pages, feeds=8, seed=1)
    extra = {"NEWS_INGEST_CONFIG_DIR": str(config_dir)} if config_dir else {}
    results = []
    with served_site(spec) as site:
        for number in range(rounds):
            result = Round({}, {}, {})
            order = ("true", "false") if number % 2 == 0 else ("false", "true")
            for enabled in order:
                with scratch_settings(NEWS_INGEST_STORIES=enabled, **extra) as settings:
                    es = connect_and_install(settings)
                    source = bench_source(site.feeds)
                    node = psutil.Process(localnode.status(settings).pid)
                    before = _core_seconds(node)
                    counts, result.seconds[enabled] = timed(
                        lambda s=settings, e=es, src=source: pipeline.run_once(
                            src, site.feeds, s, e, run_id="cost"
                        )
                    )
                    result.cpu[enabled] = _core_seconds(node) - before
                    result.alerts[enabled] = counts.get("alerts", 0)
                    assert counts.get("indexed") == pages, counts
            results.append(result)
    return results


def _totals(rounds: list[Round]) -> str:
    seconds = sum(r.seconds["true"] for r in rounds) / sum(r.seconds["false"] for r in rounds)
    cpu = sum(r.cpu["true"] for r in rounds) / sum(r.cpu["false"] for r in rounds)
    return f"{seconds:.3f}, {cpu:.3f}"


def _silent_config(folder: Path) -> Path:
    """A copy of include/config whose one watchlist matches no page of the site."""
    shutil.copytree(PROJECT_ROOT / "include" / "config", folder, dirs_exist_ok=True)
    silent = {
        "id": "silent",
        "name": "matches nothing",
        "severity": "low",
        "terms": {"en": ["zzxqv"]},
        "channels": [{"type": "log"}],
    }
    (folder / "watchlists.yaml").write_text(yaml.safe_dump({"watchlists": [silent]}), "utf-8")
    return folder


def _core_seconds(node: psutil.Process) -> float:
    """User and system seconds so far of this process, of every process it started (alive:
    their own and their ended children's; ended: in this process's children's times) and
    of the node. The pool's workers are the forkserver's children, which it reaps."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:4]) + sum(node.cpu_times()[:2])
    for child in me.children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:4])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", default="0.5")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument(
        "--no-alerts",
        action="store_true",
        help="cost with a watchlist that never matches: grouping without the alerts it saves",
    )
    args = parser.parse_args()
    quiet_logs()
    story_set = generate_story_set()
    result = grouping(story_set, args.threshold)
    precision, recall = result["pairwise"]  # type: ignore[misc]
    bp, br, bf = result["b_cubed"]  # type: ignore[misc]
    right, expected = result["duplicates"]  # type: ignore[misc]
    groups_right, groups = result["exact_groups"]  # type: ignore[misc]
    kinds: Mapping[str, float] = result["kinds"]  # type: ignore[assignment]
    print(
        f"\nlabelled set: {result['articles']} articles in {result['stories']} stories; {machine()}"
    )
    print_table(
        f"grouping (threshold {args.threshold}, window 72 h)",
        [
            ("pairwise precision (target >= 0.95)", precision),
            ("pairwise recall (target >= 0.9)", recall),
            ("B-cubed precision / recall", f"{bp:.3f} / {br:.3f}"),
            ("B-cubed F1", bf),
            ("stories found / labelled", f"{result['found_stories']} / {result['stories']}"),
            ("documents in <prefix>-stories", result["stories_docs"]),
            ("exact-copy groups: one root, the rest point to it", f"{groups_right} / {groups}"),
            ("duplicate_of = the original (copy, headline, lead)", f"{right} / {expected}"),
            *((f"recall of {kind} variants", share) for kind, share in kinds.items()),
            ("alerts stored (Karabakh articles)", result["counts"].get("alerts", 0)),  # type: ignore[attr-defined]
        ],
    )
    if args.skip_cost:
        return
    with tempfile.TemporaryDirectory(prefix="stories-bench-") as folder:
        config_dir = _silent_config(Path(folder)) if args.no_alerts else None
        load_before = os.getloadavg()[0]
        rounds = cost(args.pages, args.rounds, config_dir)
    ratios = sorted(r.seconds["true"] / r.seconds["false"] for r in rounds)
    cpu_ratios = sorted(r.cpu["true"] / r.cpu["false"] for r in rounds)
    print_table(
        f"cost: run_once over {args.pages} pages{', no alerts' if args.no_alerts else ''}, "
        f"stories on vs off ({len(rounds)} rounds); load average "
        f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        [
            ("wall time on / off, median round (target <= 1.05)", ratios[len(ratios) // 2]),
            ("ratios of all rounds", " ".join(f"{r:.3f}" for r in ratios)),
            (
                "core-seconds on / off (run's processes + node), median",
                cpu_ratios[len(ratios) // 2],
            ),
            ("totals of all rounds on / off: seconds, core-seconds", _totals(rounds)),
            ("core-second ratios of all rounds", " ".join(f"{r:.3f}" for r in cpu_ratios)),
            *(
                (
                    f"round {n + 1}: seconds, core-seconds, alerts on / off",
                    f"{r.seconds['true']:.1f} / {r.seconds['false']:.1f}, "
                    f"{r.cpu['true']:.1f} / {r.cpu['false']:.1f}, "
                    f"{r.alerts['true']} / {r.alerts['false']}",
                )
                for n, r in enumerate(rounds)
            ),
        ],
    )


if __name__ == "__main__":
    main()
