"""Topic tagging: which subjects of the taxonomy (``topics.yaml``) an article is about.

Each topic lists weighted terms per language and the site's own feed categories that point to
it. An article's score for a topic adds up

* term evidence in the title, times ``TITLE_WEIGHT``: a headline names what the article is about;
* term evidence in the body, divided by a length factor, so a long article that mentions a
  subject in passing does not outscore a short one about it;
* the scores of the site categories it is filed under.

Term evidence is the sum over matched terms of ``weight * (1 + ln(occurrences))``: repeating a
word is weaker evidence than using different words of the subject. A topic is assigned when its
score reaches its threshold; an article may get several. Terms are matched by the shared
``matching.PhraseMatcher`` (normalised, whole words, Arabic proclitics).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

from news_ingest.configfile import load_entries
from news_ingest.text import arabic
from news_ingest.text.matching import PhraseMatcher

__all__ = [
    "DEFAULT_THRESHOLD",
    "REFERENCE_TOKENS",
    "TITLE_WEIGHT",
    "Counts",
    "Evaluation",
    "LabelledArticle",
    "Mistake",
    "Taxonomy",
    "Topic",
    "TopicTags",
    "evaluate",
    "load_labelled",
    "load_taxonomy",
    "tag_topics",
]

DEFAULT_THRESHOLD = 2.0
TITLE_WEIGHT = 2.0
# Body length (tokens) up to which term evidence counts in full: a short news item. Beyond it
# evidence is divided by sqrt(length / REFERENCE_TOKENS), which keeps a long article's many
# passing mentions from adding up to a topic while its main subject still stands out.
REFERENCE_TOKENS = 150

Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Weight = Annotated[float, Field(gt=0)]


class Topic(BaseModel):
    """One entry of ``topics.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str = Field(min_length=1)
    description: str = ""
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0)
    terms: dict[Language, dict[str, Weight]] = Field(min_length=1)
    categories: dict[str, Weight] = Field(default_factory=dict)
    _matcher: PhraseMatcher[float] = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> Topic:
        self._matcher = PhraseMatcher(
            (term, weight) for terms in self.terms.values() for term, weight in terms.items()
        )
        return self

    def evidence(self, text: str) -> float:
        """Weighted term evidence for this topic in ``text`` (0.0 when no term occurs)."""
        hits = self._matcher.find(text)
        counts = Counter(hit.term.phrase for hit in hits)
        weights = {hit.term.phrase: hit.term.payload for hit in hits}
        return sum(weights[term] * (1 + math.log(count)) for term, count in counts.items())


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    # Normalised category label -> (topic id, score) pairs.
    category_index: Mapping[str, tuple[tuple[str, float], ...]]

    @classmethod
    def from_topics(cls, topics: Iterable[Topic]) -> Taxonomy:
        topics = tuple(topics)
        index: dict[str, list[tuple[str, float]]] = {}
        for topic in topics:
            for label, score in topic.categories.items():
                index.setdefault(arabic.normalize(label), []).append((topic.id, score))
        return cls(topics, {label: tuple(pairs) for label, pairs in index.items()})

    def category_scores(self, categories: Iterable[str]) -> dict[str, float]:
        """Topic scores from the site's categories; each distinct category counts once."""
        scores: dict[str, float] = {}
        for label in {arabic.normalize(category) for category in categories}:
            for topic_id, score in self.category_index.get(label, ()):
                scores[topic_id] = scores.get(topic_id, 0.0) + score
        return scores


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate ``topics.yaml``; raises ConfigError naming the file and the topic."""
    return Taxonomy.from_topics(load_entries(path, "topics", Topic))


@dataclass(frozen=True)
class TopicTags:
    """Topics assigned to an article, best first, and every nonzero score (for tuning)."""

    topics: list[str]
    scores: dict[str, float]


def tag_topics(
    taxonomy: Taxonomy, *, title: str, text: str, categories: Sequence[str]
) -> TopicTags:
    length_factor = max(1.0, math.sqrt(len(arabic.token_spans(text)) / REFERENCE_TOKENS))
    from_categories = taxonomy.category_scores(categories)
    scores: dict[str, float] = {}
    assigned: list[str] = []
    for topic in taxonomy.topics:
        score = (
            TITLE_WEIGHT * topic.evidence(title)
            + topic.evidence(text) / length_factor
            + from_categories.get(topic.id, 0.0)
        )
        if score > 0:
            scores[topic.id] = round(score, 3)
        if score >= topic.threshold:
            assigned.append(topic.id)
    assigned.sort(key=lambda topic_id: (-scores[topic_id], topic_id))
    return TopicTags(assigned, scores)


class LabelledArticle(BaseModel):
    """An article with the topics a person assigned it: the evaluation set's entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    text: str = ""
    categories: list[str] = Field(default_factory=list)
    topics: list[str]


def load_labelled(path: Path, section: str) -> list[LabelledArticle]:
    return load_entries(path, section, LabelledArticle)


@dataclass
class Counts:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        # No assignment claimed: nothing claimed wrongly.
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def add(self, expected: set[str], assigned: set[str]) -> None:
        self.true_positives += len(expected & assigned)
        self.false_positives += len(assigned - expected)
        self.false_negatives += len(expected - assigned)


@dataclass(frozen=True)
class Mistake:
    article_id: str
    missed: list[str]
    extra: list[str]
    scores: dict[str, float]


@dataclass
class Evaluation:
    per_topic: dict[str, Counts]
    micro: Counts = field(default_factory=Counts)
    mistakes: list[Mistake] = field(default_factory=list)


def evaluate(taxonomy: Taxonomy, articles: Iterable[LabelledArticle]) -> Evaluation:
    """Precision, recall and F1 per topic and micro-averaged over ``articles``.

    Raises ValueError when a label names no topic of the taxonomy (a typo would otherwise count
    as a miss that no tuning can fix).
    """
    result = Evaluation({topic.id: Counts() for topic in taxonomy.topics})
    for article in articles:
        unknown = set(article.topics) - result.per_topic.keys()
        if unknown:
            raise ValueError(f"article '{article.id}': unknown topics {sorted(unknown)}")
        tags = tag_topics(
            taxonomy, title=article.title, text=article.text, categories=article.categories
        )
        expected, assigned = set(article.topics), set(tags.topics)
        result.micro.add(expected, assigned)
        for topic_id in expected | assigned:
            result.per_topic[topic_id].add({topic_id} & expected, {topic_id} & assigned)
        if expected != assigned:
            result.mistakes.append(
                Mistake(
                    article.id,
                    sorted(expected - assigned),
                    sorted(assigned - expected),
                    tags.scores,
                )
            )
    return result
