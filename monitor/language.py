"""Text -> language: langdetect, seeded, with a confidence threshold and fallbacks. Pure CPU work.

langdetect is seeded through a detector factory of our own, so the same text
always gives the same answer and no library-wide state is touched. Chinese,
Japanese and Korean are told apart by their scripts. Below the confidence
threshold, or on too little text, the fallbacks decide: the feed's declared
language, then the page's <html lang>.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from typing import Any

MIN_CONFIDENCE = 0.80      # below this, detection is "unsure" and the fallbacks win
MIN_LETTERS = 20           # texts with fewer letters are too short to judge
DETECT_CHARS = 2000        # langdetect reads this much; more costs time and changes nothing


@dataclass(frozen=True)
class Language:
    code: str | None       # bare ISO 639-1; None when unknown
    confidence: float      # the detector's probability for its best guess (0 when it could not guess)
    detected: bool         # False when the code came from the hint, or is unknown


class LanguageDetector:
    """Seeded langdetect. Build once per process: loading the profiles takes ~0.3 s."""

    def __init__(self, seed: int = 0):
        from langdetect.detector_factory import PROFILES_DIRECTORY

        self._factory = _compact_factory()
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


_PAIR = struct.Struct("<Bd")   # a language's index in the profiles, and the n-gram's probability in it


def _compact_factory() -> Any:
    """langdetect's detector factory, holding only the languages in which an n-gram occurs.

    langdetect keeps, for each of the ~88,000 n-grams of its 55 profiles, a list of 55
    probabilities, nearly all zero: ~62 MB. Here each n-gram keeps (language, probability)
    pairs packed in bytes (about two of them on average), and the detector, which reads one
    n-gram's list at a time, gets it built on the spot: ~10 MB, the same answers."""
    from langdetect.detector_factory import DetectorFactory

    class Profiles(dict[str, Any]):   # holds packed bytes; langdetect reads lists of probabilities
        def __init__(self, size: int):
            super().__init__()
            self.size = size

        def __getitem__(self, ngram: str) -> list[float]:
            probs = [0.0] * self.size
            for index, prob in _PAIR.iter_unpack(dict.__getitem__(self, ngram)):
                probs[index] = prob
            return probs

    class CompactFactory(DetectorFactory):
        def load_profile(self, profile_directory: str) -> None:
            self.word_lang_prob_map = Profiles(len(os.listdir(profile_directory)))
            super().load_profile(profile_directory)

        def add_profile(self, profile: Any, index: int, langsize: int) -> None:
            self.langlist.append(profile.name)
            table = self.word_lang_prob_map
            for ngram, count in profile.freq.items():
                packed = dict.get(table, ngram, b"")
                if 1 <= len(ngram) <= 3:
                    packed += _PAIR.pack(index, count / profile.n_words[len(ngram) - 1])
                table[ngram] = packed

    return CompactFactory()


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

