"""A query over one article: whether it holds, what made it hold, and what did not. Pure.

The evidence of a query is what made it true, not every term of it that
occurs: for ``(Huawei AND Handel) OR (Nvidia AND chip*)`` on a page about
Nvidia chips it is "Nvidia" and "chip*", never "Huawei" from the branch that
failed; for ``a NEAR/5 b`` it is the one pair of places that are near. When
a query does not hold, ``why_not`` names the clauses that failed and why
(``Nvidia AND chip*: "Nvidia" does not occur``).

``doc`` is the engine's _Document: ``found(term_id, field)`` and ``words(occurrence)``.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from monitor.rules.query import And, Atom, Near, Node, Not, Or


class Occurrence(NamedTuple):
    field: str   # "title" or "text"
    start: int   # in that field as written (NFKC)
    end: int


class Document(Protocol):
    """An article as the rules see it (monitor.rules.engine): where each term occurs."""

    def found(self, term_id: int, field: str | None = None) -> list[Occurrence]: ...

    def words(self, occurrence: Occurrence) -> tuple[int, int]: ...


Evidence = list[tuple[int, Occurrence]]   # (term id, the occurrence that counts)
Place = tuple[tuple[tuple[int, Occurrence], ...], Occurrence]   # the terms at a place, and its span


def truth(node: Node, doc: Document, ids: dict[str, int]) -> bool:
    if isinstance(node, Atom):
        return bool(doc.found(ids[node.term.text], node.field))
    if isinstance(node, Not):
        return not truth(node.node, doc, ids)
    if isinstance(node, And):
        return all(truth(n, doc, ids) for n in node.nodes)
    if isinstance(node, Or):
        return any(truth(n, doc, ids) for n in node.nodes)
    return bool(_located(node, doc, ids))


def evidence(node: Node, doc: Document, ids: dict[str, int]) -> Evidence | None:
    """The terms (and where) that make ``node`` true; None when it is false. NOT gives none."""
    if isinstance(node, Atom):
        found = doc.found(ids[node.term.text], node.field)
        return [(ids[node.term.text], found[0])] if found else None
    if isinstance(node, Not):
        return None if truth(node.node, doc, ids) else []
    if isinstance(node, And):
        parts = []
        for child in node.nodes:
            part = evidence(child, doc, ids)
            if part is None:
                return None
            parts += part
        return parts
    if isinstance(node, Or):   # the first branch that holds, and only that one
        return next((part for child in node.nodes if (part := evidence(child, doc, ids)) is not None), None)
    located = _located(node, doc, ids)
    return list(located[0][0]) if located else None


def _located(node: Node, doc: Document, ids: dict[str, int]) -> list[Place]:
    """Places where a term, an OR-group or a NEAR holds: (the terms there, the span)."""
    if isinstance(node, Atom):
        term_id = ids[node.term.text]
        return [(((term_id, o),), o) for o in doc.found(term_id, node.field)]
    if isinstance(node, Or):
        return [place for n in node.nodes for place in _located(n, doc, ids)]
    assert isinstance(node, Near)
    near: list[Place] = []
    for left_terms, left in _located(node.left, doc, ids):
        first = doc.words(left)
        for right_terms, right in _located(node.right, doc, ids):
            if right.field != left.field:
                continue
            second = doc.words(right)
            between = max(second[0] - first[1], first[0] - second[1]) - 1
            if between <= node.distance:
                span = Occurrence(left.field, min(left.start, right.start), max(left.end, right.end))
                near.append((left_terms + right_terms, span))
    return near


def show(node: Node, top: bool = True) -> str:
    """A node written back as query text."""
    if isinstance(node, Atom):
        return f"{node.field}:{node.term.text}" if node.field else node.term.text
    if isinstance(node, Not):
        return f"NOT {show(node.node, False)}"
    if isinstance(node, Near):
        return f"{show(node.left, False)} NEAR/{node.distance} {show(node.right, False)}"
    text = f" {type(node).__name__.upper()} ".join(show(n, False) for n in node.nodes)
    return text if top else f"({text})"


def why_not(node: Node, doc: Document, ids: dict[str, int]) -> list[tuple[str, str]]:
    """For a false ``node``: (clause, why it fails), for each alternative that was tried."""
    if isinstance(node, Atom):
        return [(show(node), _absent([node]))]
    if isinstance(node, Not):
        return [(show(node), f"{_quoted(node.node)} occurs")]
    if isinstance(node, Or):
        if all(isinstance(n, Atom) for n in node.nodes):
            return [(show(node), "none of these occurs")]
        return [failure for child in node.nodes for failure in why_not(child, doc, ids)]
    if isinstance(node, Near):
        for side in (node.left, node.right):
            if not _located(side, doc, ids):
                return [(show(node), f"{_quoted(side)} does not occur" if isinstance(side, Atom)
                         else f"{show(side)}: none of these occurs")]
        return [(show(node), f"both sides occur, but never within {node.distance} words of each other")]
    false = [child for child in node.nodes if not truth(child, doc, ids)]
    simple = [child for child in false if isinstance(child, (Atom, Not))]
    if not simple:   # the clause that fails is inside: name that one
        return why_not(false[0], doc, ids)
    reasons = []
    missing = [child for child in simple if isinstance(child, Atom)]
    if missing:
        reasons.append(_absent(missing))
    reasons += [f"{_quoted(child.node)} occurs" for child in simple if isinstance(child, Not)]
    return [(show(node), "; ".join(reasons))]


def _quoted(node: Node) -> str:
    if not isinstance(node, Atom):
        return show(node)
    text = node.term.text if node.term.text.startswith('"') else f'"{node.term.text}"'
    return f"{text} (in the {'title' if node.field == 'title' else 'main text'})" if node.field else text


def _absent(atoms: list[Atom]) -> str:
    names = [_quoted(atom) for atom in atoms]
    if len(names) == 1:
        return f"{names[0]} does not occur"
    return f"{', '.join(names[:-1])} and {names[-1]} do not occur"
