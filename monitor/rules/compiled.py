"""A rule compiled: its terms as ids into the RuleSet's term list. Pure.

Its own module, so that the engine, which makes these, and the prefilter, which relaxes
them, both read it without reading each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.rules.query import Node


@dataclass(frozen=True)
class CompiledRule:
    name: str
    languages: frozenset[str]
    channels: tuple[str, ...]
    any: tuple[int, ...]
    by_language: dict[str, tuple[int, ...]]
    all: tuple[int, ...]
    none: tuple[int, ...]
    query: Node | None
