"""The one normalisation that terms and texts share. Pure functions.

Both sides are put in NFKC form, then *folded* character by character:

* lower case (so case-insensitive matching is a plain comparison);
* accents removed (é -> e, ł -> l, ø -> o); ß stays ß, and terms are expanded
  into their ß/ss spellings instead, which keeps folding one character for one;
* hyphens, dashes, spaces, non-breaking spaces and every other punctuation
  mark or symbol become one space, so "export-controls" and "export controls"
  read the same, a hyphen is a word boundary, and l'exportation is
  l’exportation;
* soft hyphens and zero-width characters are dropped.

Line breaks (paragraph breaks, in extracted text) stay: they are word
boundaries that a phrase does not cross. Runs of spaces are left as they are,
on both sides: "U.S. Commerce" folds to the same "u s  commerce" in a term
and in a text, and a phrase does not run across punctuation ("export,
controls" is not "export controls").

A ``Folded`` text remembers where each of its characters came from, so a
match in the folded text can be shown, and checked, in the text as written.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_DROP = "\x00"   # folding marks dropped characters with this, then removes them
_SPACES = ("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
           "\u2028\u2029\u202f\u205f\u3000")
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_APOSTROPHES = "\u2018\u2019\u02bc\u0060\u00b4\u2032"
_BASE = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŀ": "l", "ŧ": "t", "ς": "σ", "ſ": "s"}
NO_SPACE_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"
)   # Thai, Lao, Myanmar, Khmer, kana, Han, Hangul: written without spaces between words


def _fold_char(char: str) -> str:
    if char in _INVISIBLE:
        return _DROP
    if char == "\n":
        return char   # a paragraph break: a word boundary that phrases do not cross
    if char in _SPACES or char in _HYPHENS or char in _APOSTROPHES or _punctuation(char):
        return " "
    lower = char.lower()
    if len(lower) != 1:
        return char
    if lower in _BASE:
        return _BASE[lower]
    if lower == "ё":
        return "е"
    if not _LATIN_OR_GREEK(ord(lower)):
        return lower   # Cyrillic й is not и: outside Latin and Greek, marks are letters
    base = "".join(c for c in unicodedata.normalize("NFD", lower) if not unicodedata.combining(c))
    return base if len(base) == 1 else lower


def _punctuation(char: str) -> bool:
    """Punctuation, symbols, separators: anything that is neither a letter, a digit nor a mark."""
    return unicodedata.category(char)[0] in "PSZC" and char not in "\x00"


def _LATIN_OR_GREEK(code: int) -> bool:
    return code < 0x250 or 0x370 <= code < 0x400 or 0x1e00 <= code < 0x2000


def _table() -> dict[int, str]:
    ranges = [(0, 0x530), (0x1e00, 0x2070), (0x20a0, 0x20c1), (0x3000, 0x3040), (0xfe10, 0xfe70), (0xfeff, 0xff10),
              (0xff1a, 0xff21), (0xff3b, 0xff41), (0xff5b, 0xff66)]
    table = {}
    for start, end in ranges:
        for code in range(start, end):
            char = chr(code)
            folded = _fold_char(char)
            if folded != char:
                table[code] = folded
    return table


FOLD = _table()
# After str.lower() (fast, in C) only these characters still change. The ASCII ones all become
# spaces: one bytes.translate over the UTF-8 form does them (multi-byte sequences are left alone).
# The others (accented letters, typographic punctuation) are replaced one distinct character at a time.
_AFTER_LOWER = {chr(code): folded for code, folded in FOLD.items() if chr(code).lower() == chr(code)}
_ASCII_TABLE = bytes(32 if byte < 128 and chr(byte) in _AFTER_LOWER else byte for byte in range(256))
assert all(_AFTER_LOWER[chr(byte)] == " " for byte in range(128) if chr(byte) in _AFTER_LOWER)
_OTHERS = {char: folded for char, folded in _AFTER_LOWER.items() if not char.isascii()}
_NON_ASCII = re.compile("[^\x00-\x7f]")


def _marked(text: str) -> str:
    """Folded, with dropped characters still there as markers: same length as ``text``."""
    lowered = text.lower()
    if len(lowered) != len(text):   # a letter whose lower case is two (İ): the slow, exact way
        return text.translate(FOLD)
    lowered = lowered.encode("utf-8", "surrogatepass").translate(_ASCII_TABLE).decode("utf-8", "surrogatepass")
    if lowered.isascii():
        return lowered
    # which non-ASCII characters are there: few kinds in European text, thousands in Chinese
    present = set(lowered) if NO_SPACE_SCRIPTS.search(lowered) else set(_NON_ASCII.findall(lowered))
    for char in present:
        folded = _OTHERS.get(char)
        if folded is not None:
            lowered = lowered.replace(char, folded)
    return lowered


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text) if not text.isascii() else text


def fold(text: str) -> str:
    """The folded form of an already NFKC-normalised text (no position map)."""
    return _marked(text).replace(_DROP, "")


@lru_cache(maxsize=4096)
def fold_term(text: str) -> str:
    return fold(nfkc(text)).strip()


def is_wordish(char: str) -> bool:
    """Letters and digits of scripts that separate words with spaces."""
    return char.isalnum() and (char < "\u0e00" or not NO_SPACE_SCRIPTS.match(char))


@dataclass(frozen=True)
class Folded:
    """A text as written (NFKC) and folded, with the map between the two."""

    original: str
    folded: str
    _dropped: tuple[int, ...] = ()    # the characters dropped: for the k-th, its position minus k

    @classmethod
    def of(cls, text: str) -> "Folded":
        original = nfkc(text)
        marked = _marked(original)
        if _DROP not in marked:
            return cls(original, marked)
        dropped: list[int] = []   # rare: soft hyphens, zero-width characters
        at = marked.find(_DROP)
        while at != -1:
            dropped.append(at - len(dropped))
            at = marked.find(_DROP, at + 1)
        return cls(original, marked.replace(_DROP, ""), tuple(dropped))

    def position(self, index: int) -> int:
        """Where folded character ``index`` is in the original text."""
        return index + bisect.bisect_right(self._dropped, index) if self._dropped else index

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded characters ``start`` to ``end`` (exclusive)."""
        if not self._dropped:
            return start, end
        if start >= end:
            position = self.position(start) if start < len(self.folded) else len(self.original)
            return position, position
        return self.position(start), self.position(end - 1) + 1

