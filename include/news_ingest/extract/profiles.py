"""Per-site extraction profiles: small declarative data on top of trafilatura.

A profile says where a site keeps its title, lede, body and tags, and which of its nodes and
lines are boilerplate that a generic extractor keeps or loses. ``html.py`` interprets it; a
new site is a new ``SiteProfile`` value, not new code (the Fundus model).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


def has_class(name: str) -> str:
    """XPath predicate: ``@class`` holds the whole token ``name``.

    ``contains(@class, ...)`` would be a substring test, and on Sputnik ``article__announce``
    (the photo block, noise) is a prefix of ``article__announce-text`` (the lede, content).
    """
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """Where one site's article parts live, as lxml XPath 1.0 expressions.

    Expressions are evaluated on the whole page; the first match wins for title, lede and
    body, every match counts for authors and categories (text of each node, in page order).
    """

    id: str
    # Registered domains; their subdomains (www., arabic. ...) match too.
    hosts: tuple[str, ...]
    title_xpath: str
    lede_xpath: str
    # The element holding the article's paragraphs; trafilatura only sees this subtree.
    body_xpath: str
    authors_xpath: str
    categories_xpath: str
    # Removed from the page before extraction: credits, teasers, widgets, comments.
    drop_xpaths: tuple[str, ...]
    # Whole extracted lines that are never content on this site, compared exactly.
    drop_lines: frozenset[str]


# Sputnik runs one CMS (RIA Novosti's) for every language edition. Two layouts are live:
# the current one (article__*) and the pre-2021 one (b-article__*) still served for archive
# pages, so each expression is a union over both.
SPUTNIK = SiteProfile(
    id="sputnik",
    hosts=(
        "sarabic.ae",
        "arabic.sputniknews.com",  # the Arabic edition before sarabic.ae
        "sputniknews.com",
        "sputnikglobe.com",
        "sputniknews.africa",
        "sputniknews.cn",
        "sputniknews.lat",
    ),
    title_xpath=(
        f"//h1[{has_class('article__title')}] | //div[{has_class('b-article__header-title')}]//h1"
    ),
    lede_xpath=(
        f"//div[{has_class('article__announce-text')}] | //div[{has_class('b-article__lead')}]"
    ),
    body_xpath=f"//div[{has_class('article__body')}] | //div[{has_class('b-article__text')}]",
    authors_xpath=(
        f"//a[{has_class('article__author-name')}] | //div[{has_class('b-article__refs-author')}]/a"
    ),
    categories_xpath=(
        f"//div[{has_class('article__tags')}]//a[{has_class('tag__text')}]"
        f" | //a[{has_class('b-article__refs-rubric')}]"
    ),
    drop_xpaths=(
        # photos: the image block carries only the credit line ("© Sputnik . ...")
        f"//div[{has_class('media')}]",
        f"//div[{has_class('article__announce')}]",
        f"//div[{has_class('b-article__header-copy')}]",
        # inline "related article" teasers: a headline link and its date, mid-body
        f"//div[{has_class('article__block')} and @data-type='article']",
        f"//div[{has_class('article__article')}]",
        f"//div[{has_class('article__block')} and @data-type='banner']",
        f"//div[{has_class('article__info')}]",
        f"//div[{has_class('article__tags')}]",
        f"//div[{has_class('article__userbar')}]",
        f"//div[{has_class('article__footer')}]",
        f"//div[{has_class('article__comments')}]",
        "//section[@class='comments']",
    ),
    drop_lines=frozenset(
        {
            "Sputnik",  # photo credit without the photographer
            "مناقشة",  # Arabic comment-section header ("Discussion")
            "Discussion",
        }
    ),
)

PROFILES: tuple[SiteProfile, ...] = (SPUTNIK,)
_BY_ID = {profile.id: profile for profile in PROFILES}


def profile_by_id(profile_id: str) -> SiteProfile:
    try:
        return _BY_ID[profile_id]
    except KeyError:
        known = ", ".join(sorted(_BY_ID))
        raise KeyError(f"unknown site profile {profile_id!r}; known profiles: {known}") from None


def profile_for_url(url: str) -> SiteProfile | None:
    """The profile whose hosts cover the URL's host (or a parent domain of it), if any."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    for profile in PROFILES:
        if any(host == known or host.endswith("." + known) for known in profile.hosts):
            return profile
    return None
