"""Article-extraction benchmark: news_ingest's extract_article against plain trafilatura.

Scores both on the ScrapingHub/Zyte article-extraction set (see the data's README for the
metric), prints precision, recall, F1 and throughput side by side, and a bootstrap interval
for the F1 difference so that a small gap is not read as a win.

    .venv/bin/python bench/extraction.py [--data DIR] [--workers N] [--resamples N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from news_ingest.extract.html import extract_article
from news_ingest.extract.profiles import profile_for_url

REPO_ROOT = Path(__file__).resolve().parents[1]
# Next to the checkout, or next to the folder of worktrees it sits in.
DEFAULT_DATA = next(
    (
        candidate
        for folder in REPO_ROOT.parents
        if (candidate := folder / "shared" / "benchmarks" / "article-extraction").is_dir()
    ),
    REPO_ROOT.parent / "shared" / "benchmarks" / "article-extraction",
)
SYSTEMS = ("news_ingest", "trafilatura")

_TOKEN = re.compile(r"\w+")
SHINGLE_SIZE = 4


# --- scoring (the benchmark's metric) ---------------------------------------------------


def shingles(text: str, size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Multiset of `size` consecutive \\w+ tokens."""
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def page_scores(truth: str, prediction: str) -> tuple[float | None, float | None]:
    """(precision, recall) of one page; None where the ratio is undefined (0/0)."""
    expected, predicted = shingles(truth), shingles(prediction)
    true_pos = sum((expected & predicted).values())
    n_predicted, n_expected = sum(predicted.values()), sum(expected.values())
    precision = true_pos / n_predicted if n_predicted else None
    recall = true_pos / n_expected if n_expected else None
    return precision, recall


def aggregate(scores: Sequence[tuple[float | None, float | None]]) -> tuple[float, float, float]:
    """(P, R, F1): P and R averaged over the pages where each is defined, F1 from the two."""
    precisions = [p for p, _ in scores if p is not None]
    recalls = [r for _, r in scores if r is not None]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def bootstrap_f1_difference(
    first: Sequence[tuple[float | None, float | None]],
    second: Sequence[tuple[float | None, float | None]],
    resamples: int,
    seed: int,
) -> tuple[float, float]:
    """95% percentile interval of F1(first) - F1(second) over pages resampled with
    replacement (the same pages for both systems, so the interval is for the paired gap)."""
    rng = random.Random(seed)
    n = len(first)
    differences = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        differences.append(
            aggregate([first[i] for i in picks])[2] - aggregate([second[i] for i in picks])[2]
        )
    differences.sort()
    return differences[int(0.025 * resamples)], differences[int(0.975 * resamples) - 1]


# --- running the extractors --------------------------------------------------------------


@dataclass(frozen=True)
class PageRun:
    page_id: str
    texts: dict[str, str]
    seconds: dict[str, float]


def run_page(job: tuple[str, str, Path]) -> PageRun:
    page_id, url, path = job
    html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    texts: dict[str, str] = {}
    seconds: dict[str, float] = {}

    # CPU time of this process, each page through both extractors back to back: what other
    # sessions on the cores cost shows as wall time, and hits both alike.
    start = time.process_time()
    # Scored on the body alone: the set's "articleBody" leaves leads out (its one Sputnik
    # page included), and extract_article returns the lede separately.
    texts["news_ingest"] = extract_article(html, url, profile_for_url(url)).body
    seconds["news_ingest"] = time.process_time() - start

    start = time.process_time()
    texts["trafilatura"] = trafilatura.extract(html, url=url) or ""
    seconds["trafilatura"] = time.process_time() - start
    return PageRun(page_id, texts, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--show", type=int, default=5, help="list the N pages where the two differ most"
    )
    args = parser.parse_args()

    truth = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    jobs = [
        (page_id, entry["url"], args.data / "html" / f"{page_id}.html.gz")
        for page_id, entry in sorted(truth.items())
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(run_page, jobs, chunksize=4))
    wall = time.perf_counter() - started

    scores = {
        system: [page_scores(truth[run.page_id]["articleBody"], run.texts[system]) for run in runs]
        for system in SYSTEMS
    }
    print(f"{len(runs)} pages, {args.workers} worker processes, {wall:.1f}s wall clock")
    print(f"{'extractor':<12} {'P':>6} {'R':>6} {'F1':>6} {'pages/CPU-s':>12}")
    f1s, rates = {}, {}
    for system in SYSTEMS:
        precision, recall, f1s[system] = aggregate(scores[system])
        rates[system] = len(runs) / sum(run.seconds[system] for run in runs)
        print(
            f"{system:<12} {precision:6.3f} {recall:6.3f} {f1s[system]:6.3f} {rates[system]:12.1f}"
        )
    ratio = rates["news_ingest"] / rates["trafilatura"]
    print(f"pages per CPU-second, news_ingest / trafilatura: {ratio:.2f}x")

    low, high = bootstrap_f1_difference(
        scores["news_ingest"], scores["trafilatura"], args.resamples, args.seed
    )
    print(
        f"F1 news_ingest - trafilatura: {f1s['news_ingest'] - f1s['trafilatura']:+.4f}, "
        f"95% bootstrap interval [{low:+.4f}, {high:+.4f}] ({args.resamples} resamples)"
    )

    def page_f1(score: tuple[float | None, float | None]) -> float:
        precision, recall = score[0] or 0.0, score[1] or 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    gaps = sorted(
        (
            (page_f1(mine) - page_f1(theirs), run.page_id)
            for run, mine, theirs in zip(
                runs, scores["news_ingest"], scores["trafilatura"], strict=True
            )
        ),
        key=lambda gap: -abs(gap[0]),
    )
    for gap, page_id in gaps[: args.show]:
        if gap:
            print(f"  page F1 {gap:+.3f}  {truth[page_id]['url']}")


if __name__ == "__main__":
    main()
