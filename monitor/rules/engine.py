"""Rules x article -> verdicts. Pure: no I/O, no clock.

Every literal term of every rule goes into one Aho-Corasick automaton per
language (the terms for every language, plus those listed for that
language), built once when the config loads. An article's title and text are
folded once and run through its language's automaton once; each raw hit is
then checked (word boundaries, accents the user wrote, {Case}). Rules are
evaluated on the set of terms found, never by looping over their terms in
the text. Regular-expression terms are searched only when a rule asks, with
a time limit.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from monitor.errors import QueryError, RulesError, TermError
from monitor.models import Article, Hit, Match
from monitor.rules.compiled import CompiledRule
from monitor.rules.evidence import Occurrence, why_not
from monitor.rules.evidence import evidence as query_evidence
from monitor.rules.normalize import Folded, is_wordish
from monitor.rules.prefilter import Prefilter
from monitor.rules.query import atoms, parse_query
from monitor.rules.scan import Scanner
from monitor.rules.spec import RuleSpec
from monitor.rules.terms import ANY_WORD, Term, parse_term

SNIPPET_CONTEXT = 60
EVIDENCE_MAX = 4   # lines of evidence per rule: what made it true, not every term that occurs
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORDS = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")


Problem = tuple[int, str, str]   # (rule index, key, message), as RulesError lists them


@dataclass(frozen=True)
class _Quick:
    """A rule's term sets, for ruling it out with set operations."""

    none: frozenset[int]
    all_plain: frozenset[int]
    has_any: bool
    any: frozenset[int]
    any_plain: bool
    by_language: dict[str, tuple[frozenset[int], bool]]

    @classmethod
    def of(cls, rule: CompiledRule, plain: frozenset[int]) -> "_Quick":
        return cls(
            none=frozenset(t for t in rule.none if t in plain),
            all_plain=frozenset(t for t in rule.all if t in plain),
            has_any=bool(rule.any or rule.by_language),
            any=frozenset(rule.any),
            any_plain=all(t in plain for t in rule.any),
            by_language={lang: (frozenset(ids), all(t in plain for t in ids))
                         for lang, ids in rule.by_language.items()},
        )


@dataclass
class Verdict:
    rule: str
    matched: bool
    language: str | None
    reasons: list[str] = field(default_factory=list)   # why it did not match
    hits: list[Hit] = field(default_factory=list)      # the evidence


class RuleSet:
    """The configured rules, compiled once. Raises RulesError listing every fault."""

    def __init__(self, rules: Sequence[RuleSpec]):
        self.terms: list[Term] = []
        self._ids: dict[str, int] = {}
        problems: list[Problem] = []
        compiled = [self._compile(i, rule, problems) for i, rule in enumerate(rules)]
        if problems:
            raise RulesError(problems)
        self.rules: tuple[CompiledRule, ...] = tuple(compiled)
        plain = frozenset(i for i, t in enumerate(self.terms) if not t.is_regex and not t.is_sequence)
        self._quick = {rule.name: _Quick.of(rule, plain) for rule in self.rules}
        self._by_term: dict[int, list[int]] = defaultdict(list)   # plain term -> rules it can open
        self._always: list[int] = []                               # rules no plain term gates
        for index, rule in enumerate(self.rules):
            gates = rule.any + tuple(t for ids in rule.by_language.values() for t in ids)
            if gates and all(t in plain for t in gates):
                for term_id in dict.fromkeys(gates):
                    self._by_term[term_id].append(index)
            else:
                self._always.append(index)
        self._automata = self._build_automata()
        self.prefilter = Prefilter.of(self.rules, self.terms, self._ids)

    # compiling ---------------------------------------------------------------

    def _term(self, raw: str) -> int:
        key = raw.strip()
        if key not in self._ids:
            self._register(key, parse_term(key))
        return self._ids[key]

    def _register(self, key: str, term: Term) -> None:
        if key in self._ids:
            return
        self._ids[key] = len(self.terms)
        self.terms.append(term)
        for part in term.parts:       # the words of a phrase with wildcards are terms of their own
            if part.text != ANY_WORD:
                self._register(part.text, part)

    def _terms(self, index: int, key: str, items: Iterable[str], problems: list[Problem]) -> tuple[int, ...]:
        ids = []
        for n, raw in enumerate(items):
            try:
                ids.append(self._term(raw))
            except TermError as exc:
                problems.append((index, f"{key}[{n}]", str(exc)))
        return tuple(dict.fromkeys(ids))

    def _compile(self, index: int, rule: RuleSpec, problems: list[Problem]) -> CompiledRule:
        query = None
        if rule.query:
            try:
                query = parse_query(rule.query)
                for atom, _ in atoms(query):
                    self._register(atom.term.text, atom.term)
            except QueryError as exc:
                problems.append((index, "query", str(exc)))
        compiled = CompiledRule(
            name=rule.name,
            languages=frozenset(rule.languages),
            channels=rule.channels,
            any=self._terms(index, "any", rule.any, problems),
            by_language={lang: self._terms(index, f"terms.{lang}", items, problems)
                         for lang, items in rule.terms.items()},
            all=self._terms(index, "all", rule.all, problems),
            none=self._terms(index, "none", rule.none, problems),
            query=query,
        )
        return compiled

    def _build_automata(self) -> dict[str | None, Scanner]:
        everywhere: set[int] = set()
        per_language: dict[str, set[int]] = defaultdict(set)
        for rule in self.rules:
            everywhere.update(rule.any + rule.all + rule.none)
            if rule.query is not None:
                everywhere.update(self._ids[a.term.text] for a, _ in atoms(rule.query))
            for lang, ids in rule.by_language.items():
                per_language[lang].update(ids)
        literal = self._literal(everywhere)
        automata: dict[str | None, Scanner] = {None: Scanner((t, self.terms[t]) for t in literal)}
        for lang, wanted in per_language.items():   # each language's own terms only; the rest are in None's
            automata[lang] = Scanner((t, self.terms[t]) for t in self._literal(wanted) - literal)
        return automata

    def _literal(self, ids: Iterable[int]) -> set[int]:
        """The terms an automaton looks for: phrases with wildcards stand for their words."""
        found: set[int] = set()
        for term_id in ids:
            term = self.terms[term_id]
            if term.is_sequence:
                found |= self._literal(self._ids[p.text] for p in term.parts if p.text != ANY_WORD)
            else:
                found.add(term_id)
        return found

    # matching ----------------------------------------------------------------

    def match(self, article: Article) -> list[Match]:
        doc = _Document(self, article)
        present = doc.present()
        # only rules that one of the terms found could satisfy, and those no term decides alone
        candidates = set(self._always)
        for term_id in present:
            candidates.update(self._by_term.get(term_id, ()))
        verdicts = (self._evaluate(rule, doc) for rule in (self.rules[i] for i in sorted(candidates))
                    if not self._ruled_out(rule, doc.language, present))
        return [Match(v.rule, tuple(v.hits)) for v in verdicts if v.matched]

    def _ruled_out(self, rule: CompiledRule, language: str | None, present: frozenset[int]) -> bool:
        """A cheap no from set operations alone (plain terms found or not); never a wrong no."""
        if rule.languages and language not in rule.languages:
            return True
        quick = self._quick[rule.name]
        if not quick.none.isdisjoint(present) or not quick.all_plain <= present:
            return True
        if quick.has_any:
            local = quick.by_language.get(language or "")
            if quick.any_plain and (local is None or local[1]) and quick.any.isdisjoint(present) and (
                    local is None or local[0].isdisjoint(present)):
                return True
        return False

    def explain(self, article: Article) -> list[Verdict]:
        doc = _Document(self, article)
        return [self._evaluate(rule, doc) for rule in self.rules]

    def channels_for(self, matches: Iterable[Match]) -> tuple[str, ...]:
        by_name = {rule.name: rule for rule in self.rules}
        return tuple(dict.fromkeys(ch for m in matches for ch in by_name[m.rule].channels))

    def could_match(self, text: str) -> bool:
        """False only when no rule can match a text of which ``text`` is a superset (a whole page)."""
        return self.prefilter.could_match(text)

    def _evaluate(self, rule: CompiledRule, doc: "_Document") -> Verdict:
        verdict = Verdict(rule.name, False, doc.language)
        if rule.languages and doc.language not in rule.languages:
            wanted = ", ".join(sorted(rule.languages))
            verdict.reasons.append(f"languages: the article is in {doc.language or 'an unknown language'}; "
                                   f"the rule wants {wanted}")
            return verdict
        for tid in rule.none:
            if doc.found(tid):
                verdict.reasons.append(f"none: {self.terms[tid].text!r} occurs: {doc.snippet(doc.found(tid)[0])}")
        evidence: list[tuple[int, Occurrence]] = []
        extra = 0
        for tid in rule.all:
            if doc.found(tid):
                evidence.append((tid, doc.found(tid)[0]))
            else:
                verdict.reasons.append(f"all: {self.terms[tid].text!r} does not occur")
        if rule.any or rule.by_language:
            local = rule.by_language.get(doc.language or "", ())
            candidates = tuple(dict.fromkeys(rule.any + local))
            found = [tid for tid in candidates if doc.found(tid)]
            evidence = [(tid, doc.found(tid)[0]) for tid in found] + evidence
            extra = len(found) - 1   # one of them is enough: the others are the first to go past the cap
            if not candidates:
                verdict.reasons.append(f"terms: the rule lists none for {doc.language or 'an unknown language'}")
            elif not found:
                listed = f"{len(rule.any)} for every language" + (f", {len(local)} for {doc.language}" if local else "")
                verdict.reasons.append(f"any: none of its terms occurs ({listed})")
        if rule.query is not None:
            held = query_evidence(rule.query, doc, self._ids)
            if held is not None:
                evidence += held
            else:
                failures = why_not(rule.query, doc, self._ids)
                if len(failures) == 1:
                    verdict.reasons.append(f"query: {_failure(*failures[0])}")
                else:
                    verdict.reasons.append(f"query: none of its {len(failures)} alternatives holds:")
                    verdict.reasons += [f"  {_failure(clause, why)}" for clause, why in failures]
        if not verdict.reasons:
            verdict.matched = True
            verdict.hits = self._hits(evidence, doc, spare=range(1, 1 + max(extra, 0)))
        return verdict

    def _hits(self, evidence: list[tuple[int, Occurrence]], doc: "_Document", spare: range) -> list[Hit]:
        """Each word found once ("China" found by `China` and by `*china` is one line), a few lines at
        most; past EVIDENCE_MAX the ``spare`` ones (more `any` terms than needed) go first."""
        kept, seen = [], set()
        for index, (_, occurrence) in enumerate(evidence):
            word = doc.fields[occurrence.field].original[occurrence.start:occurrence.end].casefold()
            if word not in seen:
                seen.add(word)
                kept.append((index in spare, index))
        chosen = sorted(index for _, index in sorted(kept)[:EVIDENCE_MAX])
        return [doc.hit(self.terms[evidence[i][0]].text, evidence[i][1]) for i in chosen]


def _failure(clause: str, why: str) -> str:
    return why if why.startswith(f'"{clause}"') or why.startswith(clause) else f"{clause}: {why}"


class _Document:
    """An article as the rules see it: both fields folded, each term's occurrences found once."""

    def __init__(self, ruleset: RuleSet, article: Article):
        self.terms = ruleset.terms
        self._ids = ruleset._ids
        self.language = article.language
        self.fields = {"title": Folded.of(article.title), "text": Folded.of(article.text)}
        self._found: dict[int, list[Occurrence]] = defaultdict(list)
        self._searched: set[int] = set()
        self._words: dict[str, list[int]] = {}
        scanners = [s for s in (ruleset._automata[None], ruleset._automata.get(article.language)) if s]
        terms = self.terms
        for name, doc in self.fields.items():
            for term_id, index, start, end, checked in (hit for s in scanners for hit in s.hits(doc)):
                term = terms[term_id]
                if checked or term.check(term.variants[index], doc, start, end):
                    if term.left_open or term.right_open:
                        start, end = _whole_words(doc.folded, start, end, term)
                    self._found[term_id].append(Occurrence(name, *doc.span(start, end)))

    def present(self) -> frozenset[int]:
        """The plain terms found (regex and wildcard phrases are looked for only when asked)."""
        return frozenset(self._found)

    def found(self, term_id: int, field: str | None = None) -> list[Occurrence]:
        term = self.terms[term_id]
        if term.is_regex and term_id not in self._searched:
            self._searched.add(term_id)
            for name, doc in self.fields.items():
                self._found[term_id] += [Occurrence(name, s, e) for s, e in term.search(doc.original)]
        elif term.is_sequence and term_id not in self._searched:
            self._searched.add(term_id)
            self._found[term_id] = self._in_sequence([self._ids.get(part.text) for part in term.parts])
        occurrences = self._found.get(term_id, [])
        return occurrences if field is None else [o for o in occurrences if o.field == field]

    def _in_sequence(self, part_ids: list[int | None]) -> list[Occurrence]:
        """Where the words of a phrase occur one right after the other (None: any one word)."""
        if part_ids[0] is None:   # a phrase never starts with a * word (monitor.rules.terms)
            return []
        chains = list(self.found(part_ids[0]))
        skip = 0
        for part_id in part_ids[1:]:
            if part_id is None:
                skip += 1
                continue
            following = self.found(part_id)
            chains = [Occurrence(chain.field, chain.start, nxt.end) for chain in chains for nxt in following
                      if nxt.field == chain.field and nxt.start >= chain.end
                      and self.words(nxt)[0] == self.words(chain)[1] + 1 + skip]
            skip = 0
        return chains

    def words(self, occurrence: Occurrence) -> tuple[int, int]:
        """The first and last word of an occurrence, counted in its field."""
        if occurrence.field not in self._words:
            self._words[occurrence.field] = [m.start() for m in _WORDS.finditer(self.fields[occurrence.field].original)]
        starts = self._words[occurrence.field]
        return (max(bisect.bisect_right(starts, occurrence.start) - 1, 0),
                max(bisect.bisect_left(starts, occurrence.end) - 1, 0))

    def snippet(self, occurrence: Occurrence) -> str:
        return snippet(self.fields[occurrence.field].original, occurrence.start, occurrence.end)[0]

    def hit(self, term: str, occurrence: Occurrence) -> Hit:
        text, start, end = snippet(self.fields[occurrence.field].original, occurrence.start, occurrence.end)
        return Hit(term, text, occurrence.field, (start, end))


_WORD_REST = re.compile(r"[^\W_]*")


def _whole_words(text: str, start: int, end: int, term: Term) -> tuple[int, int]:
    """A wildcard term's occurrence stretched to the whole word: *kontrollen -> Exportkontrollen."""
    if term.left_open:
        while start > 0 and is_wordish(text[start - 1]):
            start -= 1
    if term.right_open and end < len(text) and is_wordish(text[end]):
        rest = _WORD_REST.match(text, end)   # it matches everywhere, if only the empty string
        end = rest.end() if rest else end
    return start, end


def snippet(text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> tuple[str, int, int]:
    """The hit with about ``context`` characters either side, cut at spaces; and where the hit is in it."""
    left = max(0, start - context)
    right = min(len(text), end + context)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    before = " ".join(text[left:start].split())
    middle = " ".join(text[start:end].split())
    after = " ".join(text[end:right].split())
    prefix = ("…" if left > 0 else "") + before + (" " if before and text[start - 1].isspace() else "")
    suffix = (" " if after and text[end].isspace() else "") + after + ("…" if right < len(text) else "")
    return prefix + middle + suffix, len(prefix), len(prefix) + len(middle)
