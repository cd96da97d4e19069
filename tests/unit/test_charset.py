from __future__ import annotations

import pytest

from news_ingest.crawl.charset import candidate_charsets, decode_html

ARABIC = "بوتين وماكرون يؤكدان أهمية امتثال الأطراف في قره باغ"


def page(charset_meta: str | None, text: str = ARABIC) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    return f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize("encoding", ["windows-1256", "iso-8859-6", "utf-8"])
def test_declared_in_meta_only(encoding: str) -> None:
    html = page(encoding, ARABIC if encoding != "iso-8859-6" else "قره باغ")
    text, used = decode_html(html.encode(encoding), "text/html")
    assert ("قره باغ" in text) and used.replace("_", "-") in {encoding, "cp1256", "iso8859-6"}


def test_meta_beats_a_default_latin1_header() -> None:
    body = page("windows-1256").encode("windows-1256")
    text, used = decode_html(body, "text/html; charset=ISO-8859-1")
    assert ARABIC in text
    assert used == "cp1256"


def test_header_wins_when_meta_is_wrong_and_header_decodes() -> None:
    body = page("windows-1256").encode("utf-8")
    text, _ = decode_html(body, "text/html; charset=utf-8")
    assert ARABIC in text


def test_wrong_utf8_declaration_falls_back_to_detection() -> None:
    body = page("utf-8", ARABIC * 20).encode("windows-1256")
    text, used = decode_html(body, "text/html; charset=utf-8")
    assert "قره باغ" in text, used


def test_missing_declaration_on_windows_1256() -> None:
    body = page(None, ARABIC * 20).encode("windows-1256")
    text, _ = decode_html(body, None)
    assert "قره باغ" in text


def test_bom_wins() -> None:
    assert candidate_charsets(b"\xef\xbb\xbf<html>", "text/html; charset=cp1256") == ["utf-8-sig"]
    text, _ = decode_html(b"\xef\xbb\xbf" + ARABIC.encode(), None)
    assert text == ARABIC


def test_unknown_charset_names_are_ignored() -> None:
    text, used = decode_html(page("x-no-such").encode(), "text/html; charset=bogus")
    assert ARABIC in text and used == "utf-8"
