"""The one normalisation that terms and texts share. Pure functions.

Both sides are put in NFKC form, then *folded* character by character:

* lower case (so case-insensitive matching is a plain comparison);
* accents removed (é -> e, ł -> l, ø -> o); ß stays ß, and terms are expanded
  into their ß/ss spellings instead, which keeps folding one character for one;
* hyphens, dashes, spaces and non-breaking spaces all become one space, so
  "export-controls" and "export controls" read the same and a hyphen is a
  word boundary;
* curly apostrophes become ';
* soft hyphens and zero-width characters are dropped, and runs of spaces are
  squeezed to one.

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
_SPACES = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_APOSTROPHES = "\u2018\u2019\u02bc\u0060\u00b4\u2032"
_BASE = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŀ": "l", "ŧ": "t", "ς": "σ", "ſ": "s"}
_SQUEEZE = re.compile(_DROP + "| (?= )")
NO_SPACE_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"
)   # Thai, Lao, Myanmar, Khmer, kana, Han, Hangul: written without spaces between words


def _fold_char(char: str) -> str:
    if char in _SPACES or char in _HYPHENS:
        return " "
    if char in _INVISIBLE:
        return _DROP
    if char in _APOSTROPHES:
        return "'"
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


def _LATIN_OR_GREEK(code: int) -> bool:
    return code < 0x250 or 0x370 <= code < 0x400 or 0x1e00 <= code < 0x2000


def _table() -> dict[int, str]:
    ranges = [(0, 0x530), (0x1e00, 0x2070), (0x3000, 0x3001), (0xfe58, 0xfe64), (0xfeff, 0xff0e)]
    table = {}
    for start, end in ranges:
        for code in range(start, end):
            char = chr(code)
            folded = _fold_char(char)
            if folded != char:
                table[code] = folded
    return table


FOLD = _table()
# After str.lower() (fast, in C) only these characters still change: a few ASCII ones, replaced
# with str.replace, and the rest, replaced in one regex pass that only stops at them.
_AFTER_LOWER = {chr(code): folded for code, folded in FOLD.items() if chr(code).lower() == chr(code)}
_ASCII = {char: folded for char, folded in _AFTER_LOWER.items() if char.isascii()}
_OTHERS = {char: folded for char, folded in _AFTER_LOWER.items() if not char.isascii()}
_SPECIAL = re.compile("[" + "".join(re.escape(char) for char in sorted(_OTHERS)) + "]")


def _marked(text: str) -> str:
    """Folded, with dropped characters still there as markers: same length as ``text``."""
    lowered = text.lower()
    if len(lowered) != len(text):   # a letter whose lower case is two (İ): the slow, exact way
        return text.translate(FOLD)
    for char, folded in _ASCII.items():
        if char in lowered:
            lowered = lowered.replace(char, folded)
    return lowered if lowered.isascii() else _SPECIAL.sub(lambda found: _OTHERS[found.group()], lowered)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text) if not text.isascii() else text


def fold(text: str) -> str:
    """The folded form of an already NFKC-normalised text (no position map)."""
    return _SQUEEZE.sub("", _marked(text))


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
    _gaps: tuple[int, ...]   # for the k-th dropped character: its folded position minus k

    @classmethod
    def of(cls, text: str) -> "Folded":
        original = nfkc(text)
        marked = _marked(original)
        if _DROP not in marked and "  " not in marked:
            return cls(original, marked, ())
        dropped = [m.start() for m in _SQUEEZE.finditer(marked)]
        folded = _SQUEEZE.sub("", marked)
        return cls(original, folded, tuple(position - k for k, position in enumerate(dropped)))

    def position(self, index: int) -> int:
        """Where folded character ``index`` is in the original text."""
        return index + bisect.bisect_right(self._gaps, index) if self._gaps else index

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded characters ``start`` to ``end`` (exclusive)."""
        if start >= end:
            position = self.position(start) if start < len(self.folded) else len(self.original)
            return position, position
        return self.position(start), self.position(end - 1) + 1

    def chars(self, start: int, end: int) -> str:
        """The original characters behind folded ``start:end``, dropped ones left out."""
        if not self._gaps:
            return self.original[start:end]
        return "".join(self.original[self.position(i)] for i in range(start, end))
