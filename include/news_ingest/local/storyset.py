"""A labelled set of stories for the fixture site: copies and near-copies, and look-alikes.

Each story has an original and variants published under new URLs: exact copies, headline
changes, rewritten leads, republished updates (new sentences, a reworded one, hours later).
Stories on the same subject share background sentences on purpose, and Karabakh stories
come in pairs on the same day that share more, so grouping must tell them apart: they are
different stories. The fixture corpus has only 36 real sentences, too few for 60+ distinct
stories, so each story's own sentences are drawn from the corpus's words; the background
sentences are real, and those of Karabakh stories carry the watchlist's terms (the drawn
words never do, so exactly the Karabakh stories alert).

Deterministic for a seed: ``bench/stories.py`` and the integration test see the same set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from news_ingest.local.fixturesite import (
    SPUTNIK_FIXTURES,
    GeneratedArticle,
    SiteSpec,
    _corpus,
    _Template,
)

# Word parts of the Karabakh watchlist's terms: drawn sentences leave such words out.
_WATCHLIST_PARTS = (
    "باغ",
    "باخ",
    "قره",
    "قرا",
    "كارا",
    "ناغورن",
    "أرتساخ",
    "ستيبان",
    "كندي",
    "شوشا",
)
_KARABAKH_NAMES = ("قره باغ", "كاراباخ")
VARIANT_KINDS = ("copy", "headline", "lead", "update")


@dataclass(frozen=True)
class Labelled:
    article: GeneratedArticle
    story: int
    kind: str  # "original" or one of VARIANT_KINDS
    karabakh: bool


@dataclass(frozen=True)
class StorySet:
    spec: SiteSpec
    items: list[Labelled]

    @property
    def articles(self) -> list[GeneratedArticle]:
        return [item.article for item in self.items]

    @property
    def stories(self) -> int:
        return len({item.story for item in self.items})


def story_set_spec(seed: int = 0) -> SiteSpec:
    """Small pages (8-20 KB): the set is about text, and runs in the test suite."""
    return SiteSpec(pages=0, feeds=3, seed=seed, min_bytes=8_000, max_bytes=20_000)


def generate_story_set(stories: int = 64, seed: int = 0) -> StorySet:
    spec = story_set_spec(seed)
    corpus = _corpus(SPUTNIK_FIXTURES)
    rng = random.Random(seed)
    vocabulary = sorted(
        {
            word.strip("،.:\"'()")
            for sentence in corpus.sentences
            for word in sentence.split()
            if not any(part in word for part in _WATCHLIST_PARTS)
        }
        - {""}
    )
    # Karabakh background sentences name the region; the others name none of its terms.
    background = {
        True: [s for s in corpus.sentences if any(name in s for name in _KARABAKH_NAMES)],
        False: [
            s
            for t in corpus.templates
            if not t.karabakh
            for s in t.sentences
            if not any(part in s for part in _WATCHLIST_PARTS)
        ],
    }

    def sentence() -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(12, 22))) + "."

    def title() -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(6, 10)))

    items: list[Labelled] = []
    start = datetime(2026, 2, 2, 6, tzinfo=UTC)
    previous_body: tuple[str, ...] = ()
    for story in range(stories):
        karabakh = story % 4 in (0, 1)  # pairs: 0 and 1, 4 and 5, ... on the same day
        templates = [t for t in corpus.templates if t.karabakh == karabakh]
        template = rng.choice(templates)
        own = [sentence() for _ in range(rng.randint(6, 9))]
        shared = rng.sample(background[karabakh], 2)
        if karabakh and story % 4 == 1:
            # The second story of a pair reuses three of the first's sentences: the same
            # subject, the same day, a different event.
            shared += list(previous_body[:3])
        body = tuple(own[1:4] + shared + own[4:])
        previous_body = tuple(own[1:])
        published = start + timedelta(minutes=41 * story)
        original = _article(len(items), title(), own[0], body, template, published, spec)
        items.append(Labelled(original, story, "original", karabakh))
        variants = 0 if story % 9 == 8 else rng.randint(1, 5)
        for _ in range(variants):
            kind = rng.choice(VARIANT_KINDS)
            title_, lede, text = original.title, original.lede, list(body)
            later = published + timedelta(minutes=rng.randint(5, 90))
            if kind == "headline":
                title_ = title()
            elif kind == "lead":
                lede = sentence()
            elif kind == "update":
                later = published + timedelta(hours=rng.randint(1, 6))
                title_ = f"{original.title} محدث"
                changed = rng.randrange(len(text))
                words = text[changed].split()
                words[len(words) // 2] = rng.choice(vocabulary)
                text[changed] = " ".join(words)
                text += [sentence() for _ in range(rng.randint(1, 2))]
            number = len(items)
            items.append(
                Labelled(
                    _article(number, title_, lede, tuple(text), template, later, spec),
                    story,
                    kind,
                    karabakh,
                )
            )
    return StorySet(spec, items)


def _article(
    number: int,
    title: str,
    lede: str,
    sentences: tuple[str, ...],
    template: _Template,
    published: datetime,
    spec: SiteSpec,
) -> GeneratedArticle:
    paragraphs = tuple(" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))
    slug = quote("-".join(title.split()[:6]))
    return GeneratedArticle(
        number=number,
        path=f"/{published:%Y%m%d}/{slug}-{1_200_000_000 + number}.html",
        title=title,
        lede=lede,
        paragraphs=paragraphs,
        section=template.section,
        published=published,
        feed=number % spec.feeds,
        fault=None,
        template=template.name,
    )
