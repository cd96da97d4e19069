"""URL canonicalisation and the deterministic document id derived from it.

Two feeds (or one feed on two days) often list the same article under different URLs:
tracking parameters, a fragment, upper-case host, default port. Canonicalising first means
one article is one Elasticsearch document, whichever way we met it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "ref",
        "ref_src",
        "cmpid",
        "rss",
        "at_medium",
        "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_", "__twitter", "oly_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left unescaped in paths: RFC 3986 reserved and unreserved, and "%" so an
# existing escape is not escaped twice.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """Return the canonical form of an http(s) URL; raise ValueError for anything else."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname.encode("idna").decode("ascii").lower().rstrip(".")
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Decoding then re-quoting makes "%D9%82" and "ق" the same path.
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    query = urlencode(
        sorted(
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not is_tracking_param(key)
        )
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def wire_url(url: str) -> str:
    """The URL as requested: what a URL may not contain (non-ASCII, spaces) is escaped, an
    IDN host is IDNA-encoded, and everything else is kept as the page or feed wrote it.
    Unlike canonicalisation, no escape is undone: RFC 3986 lets a server tell "%3A" from
    ":", and some do."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc
    if not netloc.isascii() and parts.hostname:
        netloc = netloc.lower().replace(
            parts.hostname, parts.hostname.encode("idna").decode("ascii")
        )
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    query = quote(parts.query, safe=_QUERY_SAFE)
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def document_id(canonical_url: str) -> str:
    """The Elasticsearch id of an article: stable across runs, feeds and machines."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
