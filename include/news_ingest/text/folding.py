"""The folded search form of a text: what the ``norm.*`` fields hold and queries become.

Arabic spelling variants (hamza seats, taa marbuta, alef maqsura, tashkeel, tatweel, Persian
letters, Eastern digits, via ``arabic.normalize``) and attached clitics are folded here, in
Python, on both sides: extraction writes ``folded_fields`` into each article document, the
reindex recomputes them, and search folds the query with ``fold``. Pure text, so the
extraction workers need nothing that talks to Elasticsearch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from news_ingest.text.arabic import ARTICLE_PROCLITICS, BARE_PROCLITICS, tokens

# Bump when ``fold`` changes: indices record it in ``_meta.folding`` and `news-ingest reindex`
# recomputes the ``norm.*`` copies of an index built with another version.
FOLDING_VERSION = 1
TEXT_FIELDS = ("title", "lede", "body")

# Light stemming, Arabic words only. Proclitics are stripped repeatedly (و + ب + ال ...), so
# a word with any chain of clitics folds like the bare word; the minimum lengths keep short
# words whole (as arabic.proclitic_forms does for matching). One suffix then goes: sound
# plurals, duals, the nisba and attached pronouns. Both sides fold alike, so a stem that is
# not a real word still matches only the words it came from.
_MIN_AFTER_ARTICLE = 3
_MIN_AFTER_BARE = 4
_MIN_AFTER_SUFFIX = 3
_PREFIXES = sorted(
    [(p, _MIN_AFTER_ARTICLE) for p in ARTICLE_PROCLITICS]
    + [(p, _MIN_AFTER_BARE) for p in BARE_PROCLITICS],
    key=lambda item: -len(item[0]),
)
_SUFFIXES = ("ات", "ون", "ين", "ان", "يه", "ها", "ي", "ه")
_ARABIC_WORD = re.compile("[\u0621-\u064a]+")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The search form of one normalised word (see the comment on the stemming rules)."""
    if not _ARABIC_WORD.fullmatch(word):
        return word
    stripped = True
    while stripped:
        stripped = False
        for prefix, minimum in _PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= minimum:
                word, stripped = word[len(prefix) :], True
                break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_AFTER_SUFFIX:
            return word[: -len(suffix)]
    return word


def fold(text: str) -> str:
    """``text`` as the ``norm.*`` fields hold it: normalised, light-stemmed words."""
    return " ".join(stem(word) for word in tokens(text))


def folded_fields(doc: Mapping[str, Any]) -> dict[str, str]:
    """The ``norm`` object of an article document (written by extract.articles and es.reindex)."""
    return {name: fold(doc.get(name) or "") for name in TEXT_FIELDS}
