"""One term, as a user writes it in a rule, and how it is recognised in a text. Pure.

Syntax (the same in term lists and in queries):

    export controls      a word or phrase: case-insensitive, whole words,
                         spaces and hyphens alike, accents folded
    Exportkontroll*      a trailing * lets the word go on (Exportkontrolle,
                         Exportkontrollen); a leading * lets it start inside
                         a longer word (*kontrollen finds Technologieexportkontrollen)
    kontrol* eksport*    in a phrase, each word can have its own * (kontroli
                         eksportu, kontrolę eksportu); the words must follow
                         each other; a * alone stands for any one word
                         ("frozen * assets" finds "frozen Russian assets")
    {BIS}                case-sensitive: "BIS" but not "bis"
    /(?<!sin )embargo/   a regular expression (Python syntax, case-insensitive
                         unless it says otherwise), for experts; each search
                         has a time limit, so a pattern cannot hang monitor

Accents the user wrote must be there or be missing in the text ("contrôles"
finds "contrôles" and "controles", not "contröles"); a term written without
accents finds every accented form. ß and ss are the same letter pair.
Terms in scripts written without spaces (Chinese, Japanese, Thai...) need no
word boundary.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import regex

from monitor.errors import TermError
from monitor.rules.normalize import (
    _DROP,
    FOLD,
    NO_SPACE_SCRIPTS,
    Folded,
    is_wordish,
    nfkc,
)

REGEX_TIMEOUT = 0.05   # seconds per search of one field; past it the term counts as not found
MAX_VARIANTS = 16


@dataclass(frozen=True)
class Variant:
    key: str                               # folded spelling: what the automaton looks for
    accents: tuple[tuple[int, str], ...]   # (position in key, accented letter the user wrote)
    exact: tuple[tuple[int, str], ...]     # (position in key, letter as written), for {case-sensitive} terms
    free_left: bool = False                # no word boundary needed before / after it
    free_right: bool = False


@dataclass(frozen=True)
class Term:
    text: str                              # as written, for the evidence
    variants: tuple[Variant, ...] = ()
    left_open: bool = False
    right_open: bool = False
    pattern: regex.Pattern | None = None
    parts: tuple["Term", ...] = ()         # a phrase with a * inside: its words, in order

    @property
    def is_regex(self) -> bool:
        return self.pattern is not None

    @property
    def is_sequence(self) -> bool:
        return bool(self.parts)

    def check(self, variant: Variant, doc: Folded, start: int, end: int) -> bool:
        """Whether a raw match of ``variant`` at folded ``start:end`` really is this term."""
        text = doc.folded
        if start > 0 and not variant.free_left and is_wordish(text[start - 1]):
            return False
        if end < len(text) and not variant.free_right and is_wordish(text[end]):
            return False
        for i, wanted in variant.accents:
            written = doc.original[doc.position(start + i)].lower()
            if written != wanted and written != variant.key[i]:
                return False
        for i, wanted in variant.exact:
            if doc.original[doc.position(start + i)] != wanted:
                return False
        return " " not in variant.key or "\n" not in text[start:end]   # phrases stay in their paragraph

    def search(self, text: str) -> list[tuple[int, int]]:
        """Spans of a regex term in a text as written; none if the search runs out of time."""
        assert self.pattern is not None
        try:
            return [m.span() for m in self.pattern.finditer(text, timeout=REGEX_TIMEOUT) if m.end() > m.start()]
        except TimeoutError:
            return []


def parse_term(raw: str) -> Term:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    exact = False
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        exact, text = True, text[1:-1].strip()
    if len(text) >= 2 and text[0] == "/" and text[-1] == "/":
        return _regex_term(raw.strip(), text[1:-1], exact)
    if "*" in text.strip("*").strip():
        return _sequence(raw.strip(), text, exact)
    left_open = text.startswith("*")
    right_open = text.endswith("*") and len(text) > 1
    text = text.strip("*").strip()
    if not text:
        raise TermError("the term is empty")
    if not any(is_wordish(c) or NO_SPACE_SCRIPTS.match(c) for c in text):
        raise TermError("the term has no letters or digits")
    text = " ".join(text.split())   # spaces typed twice, or non-breaking, are one space
    variants = tuple(_variant(spelling, exact, left_open, right_open) for spelling in _spellings(nfkc(text)))
    return Term(raw.strip(), variants, left_open, right_open)


ANY_WORD = "*"


def _sequence(raw: str, text: str, exact: bool) -> Term:
    words = text.split()
    if len(words) < 2 or any("*" in word.strip("*") for word in words):
        raise TermError("a * can only start or end a term, or a word of a phrase")
    if words[0] == ANY_WORD or words[-1] == ANY_WORD:
        raise TermError("a phrase cannot start or end with a * word")
    parts = tuple(Term(ANY_WORD) if word == ANY_WORD else parse_term("{" + word + "}" if exact else word)
                  for word in words)
    return Term(raw, parts=parts)


def _regex_term(raw: str, source: str, exact: bool) -> Term:
    if not source:
        raise TermError("the regular expression is empty")
    try:
        pattern = regex.compile(source, 0 if exact else regex.IGNORECASE)
    except regex.error as exc:
        raise TermError(f"bad regular expression: {exc}") from None
    try:
        empty = pattern.fullmatch("", timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        empty = False
    if empty:
        raise TermError("the regular expression matches the empty string, so it would match everywhere")
    return Term(raw, pattern=pattern)


def _spellings(text: str) -> list[str]:
    """The ß/ss spellings of a term: "Maßnahmen" and "Massnahmen" are the same word."""
    parts = re.split(r"(ß|ss|SS|ẞ)", text)
    choices = [[p] if i % 2 == 0 else (["ß", "ss"] if p in ("ß", "ss") else ["ẞ", "SS"]) for i, p in enumerate(parts)]
    spellings = ["".join(combo) for combo in itertools.product(*choices)]
    return spellings[:MAX_VARIANTS]


def _variant(spelling: str, exact: bool, left_open: bool, right_open: bool) -> Variant:
    key: list[str] = []
    accents: list[str | None] = []
    written: list[str | None] = []
    for char in spelling:
        folded = FOLD.get(ord(char), char)
        if folded == "\n":
            folded = " "
        if folded == _DROP or (folded == " " and not key):
            continue
        lower = char.lower()
        key.append(folded)
        accents.append(lower if folded != " " and lower != folded and len(lower) == 1 else None)
        written.append(char if folded != " " else None)
    while key and key[-1] == " ":
        key.pop(), accents.pop(), written.pop()
    folded = "".join(key)
    return Variant(
        folded,
        tuple((i, char) for i, char in enumerate(accents) if char is not None),
        tuple((i, char) for i, char in enumerate(written) if char is not None) if exact else (),
        free_left=left_open or bool(NO_SPACE_SCRIPTS.match(folded[:1])),
        free_right=right_open or bool(NO_SPACE_SCRIPTS.match(folded[-1:])),
    )
