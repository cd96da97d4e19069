"""Topic tagging quality on the labelled set: per-topic precision/recall/F1 and micro averages.

Run: .venv/bin/python bench/topics.py [--mistakes]

Reports the dev section (which the taxonomy is tuned on and the unit test checks) and the
held-out section (never tuned on) side by side; a large gap means the taxonomy is fitted to
the dev items rather than to the subjects.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from news_ingest.settings import get_settings
from news_ingest.text.topics import Evaluation, evaluate, load_labelled, load_taxonomy

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "topics_labelled.yaml"
SECTIONS = ("dev", "held_out")


def _cell(evaluation: Evaluation, topic_id: str) -> str:
    counts = evaluation.per_topic[topic_id]
    support = counts.true_positives + counts.false_negatives
    if support == 0 and counts.false_positives == 0:
        return f"{'-':>5} {'-':>5} {'-':>5} {0:>3}"
    return f"{counts.precision:5.2f} {counts.recall:5.2f} {counts.f1:5.2f} {support:>3}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mistakes", action="store_true", help="list every mislabelled article")
    args = parser.parse_args()

    taxonomy = load_taxonomy(get_settings().config_dir / "topics.yaml")
    results = {
        section: evaluate(taxonomy, load_labelled(LABELLED, section)) for section in SECTIONS
    }

    width = max(len(topic.id) for topic in taxonomy.topics)
    header = " ".join(f"{'P':>5} {'R':>5} {'F1':>5} {'n':>3}" for _ in SECTIONS)
    print(f"{'':<{width}}  " + "   ".join(f"{section:^21}" for section in SECTIONS))
    print(f"{'topic':<{width}}  {header.replace(' P', '   P', len(SECTIONS) - 1)}")
    for topic in taxonomy.topics:
        cells = "   ".join(_cell(results[section], topic.id) for section in SECTIONS)
        print(f"{topic.id:<{width}}  {cells}")
    micro = "   ".join(
        f"{r.micro.precision:5.2f} {r.micro.recall:5.2f} {r.micro.f1:5.2f} "
        f"{r.micro.true_positives + r.micro.false_negatives:>3}"
        for r in results.values()
    )
    print(f"{'micro':<{width}}  {micro}")

    for section, result in results.items():
        print(f"\n{section}: {len(result.mistakes)} article(s) with a wrong topic set")
        if args.mistakes:
            for mistake in result.mistakes:
                scores = ", ".join(f"{topic}={score}" for topic, score in mistake.scores.items())
                print(f"  {mistake.article_id}: missed {mistake.missed} extra {mistake.extra}")
                print(f"    scores: {scores}")


if __name__ == "__main__":
    main()
