"""Dates as Arabic news pages print them (formats seen on Sputnik, Al Jazeera, Asharq
Al-Awsat, Lebanese and Syrian dailies, Gulf papers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from news_ingest.extract.html import extract_article
from news_ingest.text.dates import normalise, parse_arabic_date

NOW = datetime(2026, 1, 12, 15, 0, tzinfo=UTC)
RIYADH = timezone(timedelta(hours=3), "Asia/Riyadh")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("١٢ يناير ٢٠٢٦", datetime(2026, 1, 12)),  # Arabic-Indic digits, Egyptian month
        ("12 كانون الثاني 2026", datetime(2026, 1, 12)),  # Levantine month
        ("الأحد، 11 كانون الثاني/يناير 2026 14:30", datetime(2026, 1, 11, 14, 30)),  # both names
        ("السبت 3 شباط 2024", datetime(2024, 2, 3)),
        ("25 تشرين الأول 2025 - 09:05", datetime(2025, 10, 25, 9, 5)),
        ("2 آب 2025", datetime(2025, 8, 2)),
        ("الأحد 22 رجب 1447 هـ الموافق 11 يناير 2026 م", datetime(2026, 1, 11)),  # Hijri first
        ("11 يناير 2026 م - 22 رجب 1447 هـ", datetime(2026, 1, 11)),  # Hijri after
        ("12.01.2026 | 14:30", datetime(2026, 1, 12, 14, 30)),
        ("نشر في: ١١/٠١/٢٠٢٦ - ٠٩:١٥", datetime(2026, 1, 11, 9, 15)),
        ("آخر تحديث: 12 يناير 2026 مساءً 3:10", datetime(2026, 1, 12, 15, 10)),
        ("12 يناير 2026 10:20 ص", datetime(2026, 1, 12, 10, 20)),
        ("منذ ساعتين", datetime(2026, 1, 12, 16, 0)),  # dual: two hours before 18:00 +03
        ("منذ 5 دقائق", datetime(2026, 1, 12, 17, 55)),
        ("قبل ٣ ساعات", datetime(2026, 1, 12, 15, 0)),
        ("منذ يومين", datetime(2026, 1, 10, 18, 0)),
    ],
)
def test_real_world_formats(text: str, expected: datetime) -> None:
    parsed = parse_arabic_date(text, now=NOW, default_tz=RIYADH)
    assert parsed is not None, normalise(text)
    assert parsed.replace(tzinfo=None) == expected
    assert parsed.utcoffset() == timedelta(hours=3)  # the site's zone is kept


@pytest.mark.parametrize(
    "text", ["14:30", "22 رجب 1447 هـ", "غدا", "", "اقرأ أيضا", "1 يناير 2099"]
)
def test_what_names_no_past_day_is_none(text: str) -> None:
    assert parse_arabic_date(text, now=NOW, default_tz=RIYADH) is None


def test_a_page_with_only_a_visible_date_gets_it() -> None:
    page = """<html lang="ar"><head><title>خبر</title></head><body><article>
      <h1>عنوان الخبر</h1><div class="article-date">الأحد، 11 كانون الثاني/يناير 2026 14:30</div>
      <p>فقرة أولى من نص الخبر تكفي لأن يكون هذا مقالا حقيقيا له متن طويل بما يكفي للاستخراج.</p>
      <p>فقرة ثانية من نص الخبر تكفي لأن يكون هذا مقالا حقيقيا له متن طويل بما يكفي للاستخراج.</p>
    </article></body></html>"""
    article = extract_article(page, "https://example.org/a.html", now=NOW)
    assert article.published_at == datetime(2026, 1, 11, 14, 30, tzinfo=UTC)


def test_an_explicit_timestamp_wins_over_the_visible_date() -> None:
    page = """<html><head><meta property="article:published_time" content="2026-01-10T08:00+03:00">
      <meta property="article:modified_time" content="2026-01-10T09:30+03:00"></head>
      <body><article><div class="date">منذ ساعتين</div><p>نص</p></article></body></html>"""
    article = extract_article(page, "https://example.org/a.html", now=NOW)
    assert article.published_at == datetime(2026, 1, 10, 8, tzinfo=timezone(timedelta(hours=3)))
    assert article.modified_at == datetime(2026, 1, 10, 9, 30, tzinfo=timezone(timedelta(hours=3)))
