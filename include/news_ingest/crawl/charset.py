"""Turning fetched bytes into text with the right character set.

Arabic sites still serve windows-1256 and ISO-8859-6, and their declarations are often
wrong: servers add a default ``charset=ISO-8859-1`` while the page's ``<meta>`` tells the
truth. The order below is the one that survives those cases.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_.:-]+)", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Single-byte charsets decode any byte string without error, so a successful decode says
# nothing about whether they are right; a meta declaration beats them.
_ALWAYS_DECODES = frozenset({"latin-1", "iso8859-1", "cp1252", "ascii"})
_SNIFF_BYTES = 4096


def _normalized(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return _normalized(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_SNIFF_BYTES])
    return _normalized(match.group(1).decode("ascii", "ignore")) if match else None


def _decodes(body: bytes, charset: str) -> bool:
    try:
        body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def candidate_charsets(body: bytes, content_type: str | None) -> list[str]:
    """Declared charsets in the order to try them: BOM, then header/meta, then UTF-8."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return [name]
    header, meta = header_charset(content_type), meta_charset(body)
    if header in _ALWAYS_DECODES and meta and meta != header:
        declared = [meta, header]
    else:
        declared = [c for c in (header, meta) if c]
    return [*dict.fromkeys([*declared, "utf-8"])]


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Return ``(text, charset_used)``. Never raises: undecodable bytes become U+FFFD."""
    for charset in candidate_charsets(body, content_type):
        if _decodes(body, charset):
            return body.decode(charset), charset
    best = from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        return body.decode(best.encoding, errors="replace"), best.encoding
    return body.decode("utf-8", errors="replace"), "utf-8"
