"""Dates as Arabic pages write them, when a page has no machine-readable timestamp.

dateparser (already installed with htmldate) reads Arabic-Indic digits, the Egyptian month
names (يناير، فبراير …) and relative times ("منذ ساعتين", "قبل ٣ ساعات", "أمس"). What it
misses is added here before it is called: the Levantine/Iraqi month names (كانون الثاني،
شباط …), a date written with both names ("كانون الثاني/يناير"), and a Hijri date next to the
Gregorian one ("23 رجب 1447 هـ الموافق 11 يناير 2026 م"), which would otherwise be read as
the date. A Hijri date alone is not converted: pages that show one show the Gregorian too.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

import dateparser

# Levantine/Iraqi (Syriac-derived) names -> the Egyptian ones dateparser knows. Longer
# names first, so "كانون الثاني" is not read as "كانون" + a stray word.
LEVANTINE_MONTHS = {
    "كانون الثاني": "يناير",
    "كانون الأول": "ديسمبر",
    "تشرين الثاني": "نوفمبر",
    "تشرين الأول": "أكتوبر",
    "شباط": "فبراير",
    "آذار": "مارس",
    "نيسان": "أبريل",
    "أيار": "مايو",
    "حزيران": "يونيو",
    "تموز": "يوليو",
    "آب": "أغسطس",
    "أيلول": "سبتمبر",
}
EGYPTIAN_MONTHS = (
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "إبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
)
HIJRI_MONTHS = (
    "محرم",
    "صفر",
    "ربيع الأول",
    "ربيع الآخر",
    "ربيع الثاني",
    "جمادى الأولى",
    "جمادى الآخرة",
    "جمادى الثانية",
    "رجب",
    "شعبان",
    "رمضان",
    "شوال",
    "ذو القعدة",
    "ذو الحجة",
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_EGYPTIAN = "|".join(EGYPTIAN_MONTHS)
_LEVANTINE = "|".join(sorted(LEVANTINE_MONTHS, key=len, reverse=True))
# "كانون الثاني/يناير", "يناير (كانون الثاني)": one month written twice.
_BOTH_NAMES = re.compile(
    rf"(?:{_LEVANTINE})\s*[/\\(،-]?\s*({_EGYPTIAN})\)?|({_EGYPTIAN})\s*[/\\(،-]\s*(?:{_LEVANTINE})\)?"
)
_HIJRI = re.compile(
    rf"\d{{1,2}}\s+(?:{'|'.join(HIJRI_MONTHS)})\s+\d{{3,4}}\s*(?:هـ|ه)?\.?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]1[34]\d\d\s*(?:هـ|ه)\.?"
)
_CONNECTIVES = re.compile(r"\b(?:الموافق|الموافق لـ|م)\b|[|،]|\s-\s")
# "نشر في:", "آخر تحديث:", "Updated:": a label before the date.
_LABEL = re.compile(r"^[^\d:]*:")
_PM = "مساء[ًا]?|م"
_AM = "صباح[ًا]?|ص"
_TIME_THEN_HALF = re.compile(rf"(\d{{1,2}}:\d{{2}})\s*(?:({_PM})|({_AM}))(?!\w)")
_HALF_THEN_TIME = re.compile(r"(?:(مساء[ًا]?)|(صباح[ًا]?))\s*(\d{1,2}:\d{2})")
_WEEKDAYS = re.compile(r"(?:ال)?(?:أحد|اثنين|إثنين|ثلاثاء|أربعاء|خميس|جمعة|سبت)\b")
_NAMES_A_DAY = re.compile(rf"\d{{4}}|منذ|قبل|أمس|البارحة|{_EGYPTIAN}")
_SETTINGS_BASE = {
    "DATE_ORDER": "DMY",
    "PREFER_DATES_FROM": "past",
    "RETURN_AS_TIMEZONE_AWARE": True,
}


def normalise(text: str) -> str:
    """The text with what dateparser misses made plain: Western digits, Egyptian month
    names, no Hijri date, no weekday, no "الموافق"/"م" connectives."""
    text = text.translate(_DIGITS).replace("\u200f", " ").replace("\u200e", " ")
    text = _LABEL.sub(" ", _HIJRI.sub(" ", text))
    text = _TIME_THEN_HALF.sub(lambda m: f"{m.group(1)} {'PM' if m.group(2) else 'AM'}", text)
    text = _HALF_THEN_TIME.sub(lambda m: f"{m.group(3)} {'PM' if m.group(1) else 'AM'}", text)
    text = _BOTH_NAMES.sub(lambda m: m.group(1) or m.group(2), text)
    for levantine, egyptian in LEVANTINE_MONTHS.items():
        text = text.replace(levantine, egyptian)
    text = _WEEKDAYS.sub(" ", text)
    text = _CONNECTIVES.sub(" ", text)
    return " ".join(text.split())


def parse_arabic_date(text: str, *, now: datetime, default_tz: tzinfo) -> datetime | None:
    """The moment ``text`` names, relative times counted back from ``now``; a time without
    zone is taken in ``default_tz`` (the site's), and the result keeps that offset."""
    cleaned = normalise(text)
    if not _NAMES_A_DAY.search(cleaned):
        return None  # a bare "14:30" (a teaser's time) names no day
    settings = {
        **_SETTINGS_BASE,
        "RELATIVE_BASE": now.astimezone(default_tz).replace(tzinfo=None),
        "TIMEZONE": _tz_name(default_tz),
        "TO_TIMEZONE": _tz_name(default_tz),
    }
    parsed: datetime | None = dateparser.parse(cleaned, languages=["ar", "en"], settings=settings)
    if parsed is None or parsed > now.astimezone(parsed.tzinfo) or parsed.year < 1990:
        return None  # a date in the future or before the web is a misreading
    return parsed


def _tz_name(zone: tzinfo) -> str:
    name = getattr(zone, "key", None) or zone.tzname(None) or "UTC"
    return str(name)
