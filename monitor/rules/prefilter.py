"""What a page must contain for any rule to match it: the rules, relaxed. Pure.

Each rule is relaxed into *requirements*: alternatives, each a list of
clauses, each clause a set of terms of which one must occur. Proximity,
order, ``none``, languages and the title/text split are ignored: the
relaxation can only say yes more often than the rule, never less. A page
(the quick text of all of it) that meets no rule's requirements needs no
extraction: no rule can match what trafilatura would take from it.

    any = [a, b], all = [c]          ->  [[{a, b}, {c}]]
    (Huawei OR ZTE) NEAR/20 (ban OR sanctions)
                                     ->  [[{Huawei, ZTE}, {ban, sanctions}]]
    "kontrol* eksport*"              ->  [[{kontrol*}, {eksport*}]]  (every word of the phrase)
    a OR (b AND c)                   ->  [[{a}], [{b}, {c}]]
    NOT a                            ->  no requirement: every page passes
"""

from __future__ import annotations

from itertools import product
from typing import Sequence

from monitor.rules.compiled import CompiledRule
from monitor.rules.normalize import Folded
from monitor.rules.query import And, Atom, Node, Not, Or
from monitor.rules.scan import Scanner
from monitor.rules.terms import ANY_WORD, Term

Clause = frozenset[int]             # term ids: one must occur
Requirement = tuple[Clause, ...]    # clauses: each must hold
MAX_ALTERNATIVES = 64


class Prefilter:
    """Small and picklable: this is what the worker processes get."""

    def __init__(self, terms: Sequence[Term], alternatives: list[Requirement] | None):
        self.open = alternatives is None   # some rule can match without any term: every page passes
        self._alternatives = alternatives or []
        used = sorted({t for alternative in self._alternatives for clause in alternative for t in clause})
        self._scanner = Scanner((t, terms[t]) for t in used if not terms[t].is_regex)
        self._patterns = [t for t in used if terms[t].is_regex]
        # only terms the scan cannot settle alone (accents, case, Chinese...) are kept whole
        self._terms = {t: terms[t] for t in used if terms[t].is_regex or not _settled(terms[t])}

    @classmethod
    def of(cls, rules: Sequence[CompiledRule], terms: Sequence[Term], ids: dict[str, int]) -> "Prefilter":
        alternatives: list[Requirement] = []
        for rule in rules:
            relaxed = _rule(rule, terms, ids)
            if relaxed is None:
                return cls(terms, None)
            alternatives += relaxed
        return cls(terms, alternatives)

    def could_match(self, text: str) -> bool:
        if self.open:
            return True
        doc = Folded.of(text)
        found = set()
        for term_id, index, start, end, sure in self._scanner.hits(doc):
            if term_id in found:
                continue
            if sure:
                found.add(term_id)
                continue
            term = self._terms[term_id]
            if term.check(term.variants[index], doc, start, end):
                found.add(term_id)
        searched = False
        for alternative in self._alternatives:
            if not searched and any(t in self._patterns for clause in alternative for t in clause):
                found |= {t for t in self._patterns if self._terms[t].search(doc.original)}
                searched = True
            if all(not clause.isdisjoint(found) for clause in alternative):
                return True
        return False


def _settled(term: Term) -> bool:
    """Whether every hit of the term's keys is the term (see Scanner): then it need not be checked."""
    return all(not v.accents and not v.exact and " " not in v.key and v.key.isascii() for v in term.variants)


def _rule(rule: CompiledRule, terms: Sequence[Term], ids: dict[str, int]) -> list[Requirement] | None:
    parts: list[list[Requirement]] = []
    if rule.any or rule.by_language:
        gates = set(rule.any) | {t for group in rule.by_language.values() for t in group}
        parts.append(_either([_term(t, terms, ids) for t in gates]))
    parts += [_term(t, terms, ids) for t in rule.all]
    if rule.query is not None:
        query = _node(rule.query, terms, ids)
        if query is not None:
            parts.append(query)
    return _both(parts) if parts else None


def _term(term_id: int, terms: Sequence[Term], ids: dict[str, int]) -> list[Requirement]:
    term = terms[term_id]
    if term.is_sequence:   # every word of the phrase must be there
        return [tuple(Clause({ids[p.text]}) for p in term.parts if p.text != ANY_WORD)]
    return [(Clause({term_id}),)]


def _node(node: Node, terms: Sequence[Term], ids: dict[str, int]) -> list[Requirement] | None:
    if isinstance(node, Atom):
        return _term(ids[node.term.text], terms, ids)
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        alternatives = [_node(n, terms, ids) for n in node.nodes]
        held = [a for a in alternatives if a is not None]
        return _either(held) if len(held) == len(alternatives) else None   # one branch open: all pages pass
    parts = [_node(n, terms, ids) for n in (node.nodes if isinstance(node, And) else (node.left, node.right))]
    required = [p for p in parts if p is not None]   # a NOT inside an AND requires nothing
    return _both(required) if required else None


def _either(children: list[list[Requirement]]) -> list[Requirement]:
    """OR: single-clause alternatives merge into one clause; the rest stay alternatives."""
    merged: set[int] = set()
    rest: list[Requirement] = []
    for child in children:
        for alternative in child:
            if len(alternative) == 1:
                merged |= alternative[0]
            else:
                rest.append(alternative)
    return ([(Clause(merged),)] if merged else []) + rest


def _both(children: list[list[Requirement]]) -> list[Requirement]:
    """AND: every combination of the children's alternatives, their clauses together; past
    MAX_ALTERNATIVES, the children with one alternative only (a weaker, still safe relaxation)."""
    count = 1
    for child in children:
        count *= len(child)
    if count > MAX_ALTERNATIVES:
        single = [child for child in children if len(child) == 1]
        children = single or [min(children, key=len)]
    return [tuple(clause for alternative in combo for clause in alternative) for combo in product(*children)]
