"""Finding terms in a folded text: one Aho-Corasick pass. Pure."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Iterator

import ahocorasick

from monitor.rules.normalize import NO_SPACE_SCRIPTS, Folded
from monitor.rules.terms import Term

_BOUNDARY = re.compile(NO_SPACE_SCRIPTS.pattern)
_Entry = tuple[int, int, int, int, bool]


class Scanner:
    """Finds the terms of a set in a folded text, in one Aho-Corasick pass.

    In the folded text every character that is not a letter or a digit is
    already a space; the scan adds one at each end and turns characters of
    scripts written without spaces into spaces too. Terms that need a word
    boundary are looked for with a space on that side: an automaton hit is
    then a whole word, not a piece of one.
    Terms in scripts written without spaces (Chinese...) have an automaton of
    their own, run only over texts that have such characters.
    """

    def __init__(self, terms: Iterable[tuple[int, Term]]):
        # key -> (term id, variant index, key size, spaces after the term in the key, sure)
        spaced: dict[str, list[_Entry]] = defaultdict(list)
        unspaced: dict[str, list[_Entry]] = defaultdict(list)
        for term_id, term in terms:
            for index, variant in enumerate(term.variants):
                size = len(variant.key)
                plain = not variant.accents and not variant.exact
                if NO_SPACE_SCRIPTS.search(variant.key):
                    unspaced[variant.key].append((term_id, index, size, -1, False))
                    continue
                right = "" if variant.free_right else " "
                key = ("" if variant.free_left else " ") + variant.key + right
                # the spaces in the key are the word boundaries: nothing left to check but accents, case,
                # and, for a phrase, that it does not run across a paragraph break
                spaced[key].append((term_id, index, size, len(right), plain and " " not in variant.key))
        self._spaced = _automaton(spaced)
        self._unspaced = _automaton(unspaced)

    def __len__(self) -> int:
        return len(self._spaced) + len(self._unspaced)

    def hits(self, doc: Folded) -> Iterator[tuple[int, int, int, int, bool]]:
        """(term id, variant index, start, end, sure) in the folded text of every candidate;
        ``sure`` when nothing is left to check.

        An automaton reports where a key ends (inclusive). In the scan, which has one
        space more in front than the folded text, the term ends ``right`` characters
        before its key; unspaced keys are found in the folded text itself (right = -1).
        """
        unspaced = NO_SPACE_SCRIPTS.search(doc.folded) is not None
        if len(self._spaced):
            text = doc.folded.replace("\n", " ")
            scan = " " + (_BOUNDARY.sub(" ", text) if unspaced else text) + " "
            yield from _ends(self._spaced.iter(scan))
        if len(self._unspaced) and unspaced:
            yield from _ends(self._unspaced.iter(doc.folded))


def _ends(found: Iterable[tuple[int, tuple[_Entry, ...]]]) -> Iterator[tuple[int, int, int, int, bool]]:
    for end, entries in found:
        for term_id, index, size, right, sure in entries:
            stop = end - right
            yield term_id, index, stop - size, stop, sure


def _automaton(entries: dict[str, list[_Entry]]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, values in entries.items():
        automaton.add_word(key, tuple(values))
    if entries:
        automaton.make_automaton()
    return automaton
