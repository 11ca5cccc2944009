"""HTML page -> main text (trafilatura), and text -> language (langdetect).

Both are CPU work with no I/O. trafilatura drops navigation, sidebars,
footers and cookie banners; what is left is what the rules see. langdetect
is seeded through a detector factory of our own, so the same text always
gives the same answer and no library-wide state is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor import encodings
from monitor.text import tidy

MAX_PAGE_BYTES = 4 * 1024 * 1024   # bigger pages are not extracted: the feed's text is used
MIN_CONFIDENCE = 0.80      # below this, detection is "unsure" and the feed's hint wins
MIN_LETTERS = 20           # texts with fewer letters are too short to judge
DETECT_CHARS = 2000        # langdetect reads this much; more costs time and changes nothing


def extract_text(body: bytes, url: str, charset: str | None = None) -> str:
    """The main text of an HTML page, or '' when trafilatura finds none."""
    import trafilatura  # heavy import; only processes that extract pay for it

    text = trafilatura.extract(
        decode_page(body, charset),
        url=url,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    return tidy(text or "")


def decode_page(body: bytes, charset: str | None) -> str | bytes:
    """Text by the byte-order mark, else by the HTTP charset if it is a web charset that decodes
    the body cleanly (see monitor.encodings); otherwise the bytes, for trafilatura to sniff from
    the page's own <meta>."""
    marked = encodings.bom(body)
    if marked in ("utf-8-sig", "utf-16"):
        return body.decode(marked, errors="replace")
    decoded = encodings.decode(body, [charset])
    return decoded[0] if decoded else body



@dataclass(frozen=True)
class Language:
    code: str | None       # bare ISO 639-1; None when unknown
    confidence: float      # the detector's probability for its best guess (0 when it could not guess)
    detected: bool         # False when the code came from the hint, or is unknown


class LanguageDetector:
    """Seeded langdetect. Build once per process: loading the profiles takes ~0.3 s."""

    def __init__(self, seed: int = 0):
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

        self._factory = DetectorFactory()
        self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.set_seed(seed)

    def detect(self, text: str, *fallbacks: str | None) -> Language:
        """The text's language if detection is sure of it; else the first of ``fallbacks``
        that is given (the feed's declared language, then the page's <html lang>)."""
        from langdetect.lang_detect_exception import LangDetectException

        hint = next((code for code in fallbacks if code), None)
        sample = text[:DETECT_CHARS]
        letters = sum(ch.isalpha() for ch in sample)
        if letters >= MIN_LETTERS:
            by_script = _east_asian(sample, letters)
            if by_script is not None:
                return by_script
            detector = self._factory.create()
            detector.append(sample)
            try:
                best = detector.get_probabilities()[0]
            except (LangDetectException, IndexError):
                best = None
            if best is not None:
                code = _bare(best.lang)
                if best.prob >= MIN_CONFIDENCE:
                    return Language(code, round(best.prob, 4), True)
                return Language(hint, round(best.prob, 4), False)
        return Language(hint, 0.0, False)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


def _east_asian(sample: str, letters: int) -> Language | None:
    """Chinese, Japanese and Korean told apart by their scripts.

    langdetect samples only a few n-grams of such texts and often confuses
    Chinese with Korean or Japanese; the scripts themselves are unambiguous:
    kana means Japanese, hangul means Korean, Han characters alone mean Chinese.
    """
    han, kana, hangul = (len(p.findall(sample)) for p in (_HAN, _KANA, _HANGUL))
    cjk = han + kana + hangul
    if cjk < letters / 2:
        return None
    share = round(cjk / letters, 4)
    if hangul >= cjk * 0.2:
        return Language("ko", share, True)
    if kana >= cjk * 0.1:
        return Language("ja", share, True)
    return Language("zh", share, True)


def _bare(code: str) -> str:
    """langdetect says 'zh-cn' and 'zh-tw'; monitor speaks bare ISO 639-1."""
    return code.split("-")[0].lower()


# Steps run in worker processes (monitor.workers): module-level, the detector is the worker's state.

def read_page(
    detector: LanguageDetector, body: bytes, url: str, charset: str | None, title: str, summary: str, hint: str | None
) -> tuple[str, str, Language]:
    """(text, source, language) of a fetched page; the feed's summary when the page yields less."""
    text = extract_text(body, url, charset)
    source = "page"
    if not text or len(text) < len(summary):
        text, source = summary, "feed"
    return text, source, detector.detect(f"{title}\n{text}", hint, page_language(body))


_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*[\"'\s>/]", re.I)


def page_language(body: bytes) -> str | None:
    """The language a page declares in ``<html lang>``, as a bare code."""
    found = _HTML_LANG.search(body[:20000])
    code = found.group(1).decode("ascii").lower() if found else None
    return code if code and len(code) == 2 else None


def read_summary(detector: LanguageDetector, title: str, summary: str, hint: str | None) -> Language:
    return detector.detect(f"{title}\n{summary}", hint)
