"""The query language: boolean search strings as media-monitoring analysts write them. Pure.

    (Huawei OR ZTE) AND (ban OR sanction*) AND NOT "smartphone review"
    title:H20 AND Nvidia
    "export controls" NEAR/5 (chip* OR semiconductor*)

Operators are written in capitals; in lower case they are ordinary words.
From the tightest binding to the loosest:

    ( ... )        grouping
    title: text:   the term or group must occur in the title / the main text
    NEAR/n         both sides within n words of each other (terms, phrases,
                   OR-groups of them, or another NEAR)
    NOT            the following must not occur
    AND            both sides; two terms side by side mean AND too
    OR             either side

So ``a OR b AND NOT c`` is ``a OR (b AND (NOT c))``. Terms use the term syntax
of monitor.rules.terms: "quoted phrases", trailing or leading *, {Case},
/regex/. A syntax error names its position (counting from 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from monitor.errors import QueryError, TermError
from monitor.rules.terms import Term, parse_term


@dataclass(frozen=True)
class Atom:
    term: Term
    field: str | None = None   # "title", "text" or None for both


@dataclass(frozen=True)
class Not:
    node: "Node"


@dataclass(frozen=True)
class And:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Near:
    left: "Node"
    right: "Node"
    distance: int


Node = Union[Atom, Not, And, Or, Near]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) |
        (?P<near>NEAR/(?P<n>\d+))(?=[\s(]|$) |
        (?P<op>AND|OR|NOT)(?=[\s(]|$) |
        (?P<field>(?:title|text):) |
        (?P<phrase>"[^"]*"?) |
        (?P<regex>/(?:\\.|[^/\\])*/?) |
        (?P<case>\{[^}]*\}?) |
        (?P<word>[^\s()"{}]+)
    )""",
    re.X,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int   # 1-based


def _tokens(query: str) -> list[_Token]:
    tokens, index = [], 0
    while index < len(query):
        if query[index:].strip() == "":
            break
        found = _TOKEN.match(query, index)
        if not found or found.end() == index:
            raise QueryError(f"unexpected {query[index]!r}", index + 1)
        group = found.lastgroup
        if group is None:   # every alternative of _TOKEN is a named group: cannot happen
            raise QueryError(f"unexpected {query[index]!r}", index + 1)
        kind = group if group != "n" else "near"
        text = found.group(kind)
        start = found.start(kind) + 1
        if kind == "phrase" and (len(text) < 2 or not text.endswith('"')):
            raise QueryError("unclosed quote", start)
        if kind == "regex" and (len(text) < 2 or not text.endswith("/")):
            raise QueryError("unclosed regular expression", start)
        if kind == "case" and not text.endswith("}"):
            raise QueryError("unclosed {", start)
        tokens.append(_Token(kind, text, start))
        index = found.end()
    return tokens


class _Parser:
    def __init__(self, query: str):
        self.tokens = _tokens(query)
        self.i = 0
        self.end = len(query) + 1

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("the query is empty", 1)
        node = self.or_()
        token = self.peek()
        if token is not None:
            raise QueryError(f"unexpected {token.text!r}", token.position)
        return node

    def or_(self) -> Node:
        nodes = [self.and_()]
        while (token := self.peek()) and token.kind == "op" and token.text == "OR":
            self.take()
            nodes.append(self.and_())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self) -> Node:
        nodes = [self.not_()]
        while (token := self.peek()) and not (token.kind == "close" or (token.kind == "op" and token.text == "OR")):
            if token.kind == "op" and token.text == "AND":
                self.take()
            nodes.append(self.not_())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def not_(self) -> Node:
        token = self.peek()
        if token and token.kind == "op" and token.text == "NOT":
            self.take()
            return Not(self.not_())
        return self.near()

    def near(self) -> Node:
        node = self.primary()
        while (token := self.peek()) and token.kind == "near":
            self.take()
            distance = int(token.text.split("/", 1)[1])
            right = self.primary()
            for side, where in ((node, token.position), (right, token.position)):
                if not _spans(side):
                    raise QueryError("NEAR needs terms, phrases or OR-groups of them on both sides", where)
            node = Near(node, right, distance)
        return node

    def primary(self, field: str | None = None) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends too early", self.end)
        self.take()
        if token.kind == "field":
            if field is not None:
                raise QueryError("one field prefix is enough", token.position)
            nxt = self.peek()
            if nxt is None or nxt.position != token.position + len(token.text):
                raise QueryError(f"{token.text} must be followed directly by a term or a group", token.position)
            return self.primary(field=token.text[:-1])
        if token.kind == "open":
            node = self.or_()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise QueryError("missing )", closing.position if closing else self.end)
            self.take()
            return _with_field(node, field) if field else node
        if token.kind in ("close", "op", "near"):
            raise QueryError(f"unexpected {token.text!r}", token.position)
        try:
            return Atom(parse_term(token.text), field)
        except TermError as exc:
            raise QueryError(str(exc), token.position) from None


def _spans(node: Node) -> bool:
    """Whether a node stands for places in the text (so NEAR can measure between them)."""
    if isinstance(node, (Atom, Near)):
        return True
    return isinstance(node, Or) and all(_spans(n) for n in node.nodes)


def _with_field(node: Node, field: str) -> Node:
    if isinstance(node, Atom):
        return Atom(node.term, node.field or field)
    if isinstance(node, Not):
        return Not(_with_field(node.node, field))
    if isinstance(node, Near):
        return Near(_with_field(node.left, field), _with_field(node.right, field), node.distance)
    return type(node)(tuple(_with_field(n, field) for n in node.nodes))


_LOOSE_OPERATOR = re.compile(r"(?:and|or|not|near(?:/\d+)?)", re.I)


def loose_operators(query: str) -> list[tuple[str, int]]:
    """Words that look like operators but are not in capitals (``huawei and ban``), with their
    positions: they are looked for as words, which is seldom what the writer meant. Quoted
    ("and") they are taken as meant. A query that does not parse gives none (its error says more)."""
    try:
        tokens = _tokens(query)
    except QueryError:
        return []
    if len(tokens) < 2:
        return []
    return [(t.text, t.position) for t in tokens if t.kind == "word" and _LOOSE_OPERATOR.fullmatch(t.text)]


def parse_query(query: str) -> Node:
    return _Parser(query).parse()


def atoms(node: Node, positive: bool = True) -> list[tuple[Atom, bool]]:
    """Every atom of a query, with whether it counts for (True) or against (False) a match."""
    if isinstance(node, Atom):
        return [(node, positive)]
    if isinstance(node, Not):
        return atoms(node.node, not positive)
    if isinstance(node, Near):
        return atoms(node.left, positive) + atoms(node.right, positive)
    return [pair for child in node.nodes for pair in atoms(child, positive)]
