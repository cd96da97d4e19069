"""Language of an article's text: langdetect, made deterministic, with a script rule for
texts too short for it."""

from __future__ import annotations

from langdetect import DetectorFactory, detect_langs
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException

# langdetect samples n-grams at random: without a fixed seed the same text can come back
# with a different language (or probability) on the next run, and re-indexing an article
# must not flip its language. The seed is process-global, which is what we want anyway.
DetectorFactory.seed = 0

# Below this many letters langdetect's n-gram statistics are noise: "قره باغ" comes back
# as Persian, "Discussion" as German. Titles and one-line flashes fall under it.
MIN_LETTERS = 20

# Letters of the Arabic script that Persian and Urdu use and Arabic does not; with none of
# them, a short Arabic-script text is taken for Arabic, the language of the sources.
_NON_ARABIC_LETTERS = frozenset("پچژگکیےۓٹڈڑںھۀ")


def _is_arabic_script(char: str) -> bool:
    return (
        "\u0600" <= char <= "\u06ff"
        or "\u0750" <= char <= "\u077f"
        or "\u08a0" <= char <= "\u08ff"
        or "\ufb50" <= char <= "\ufdff"
        or "\ufe70" <= char <= "\ufeff"
    )


def _by_script(letters: list[str]) -> tuple[str | None, float]:
    """Arabic if most letters are Arabic-script and none is Persian/Urdu-only; a script
    says nothing about which Latin-script language a short text is in, so None otherwise."""
    arabic = sum(1 for char in letters if _is_arabic_script(char))
    share = arabic / len(letters)
    if share >= 0.8 and not _NON_ARABIC_LETTERS.intersection(letters):
        return "ar", share
    return None, 0.0


def load_profiles() -> None:
    """Load langdetect's 55 language profiles now (0.25 s) instead of at the first text."""
    init_factory()


def detect_language(text: str) -> tuple[str | None, float]:
    """(language code, probability) of the most likely language, codes as langdetect names
    them (ISO 639-1, plus zh-cn/zh-tw); (None, 0.0) when the language cannot be told."""
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return None, 0.0
    if len(letters) < MIN_LETTERS:
        return _by_script(letters)
    try:
        best = max(detect_langs(text), key=lambda candidate: candidate.prob)
    except LangDetectException:
        return _by_script(letters)
    return str(best.lang), float(best.prob)
