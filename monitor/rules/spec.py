"""A rule as the user writes it (a ``[[rules]]`` table), checked but not compiled. Pure.

monitor.config reads these from the file; monitor.rules.engine compiles them into a RuleSet.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from monitor.fields import Language, Languages, Name, Names, Section, Terms


class Mode(StrEnum):
    """How a rule decides: its terms, its topic's score, either one, or both."""

    KEYWORDS = "keywords"
    TOPIC = "topic"
    EITHER = "either"
    BOTH = "both"


_TERM_KEYS = ("any", "all", "terms", "query")


class RuleSpec(Section):
    name: Name
    any: Terms = ()
    all: Terms = ()
    none: Terms = ()
    terms: dict[Language, Terms] = {}          # language -> terms for it
    query: Annotated[str, Field(min_length=1)] | None = None
    languages: Languages = ()
    channels: Names = ()                       # empty: every channel (monitor.config fills them in)
    topic: Name | None = None
    # the file writes a string; without one, the rule's own keys decide (see _default_mode)
    mode: Annotated[Mode, Field(strict=False)] = Mode.KEYWORDS

    def __init__(self, name: Any = None, /, **data: Any) -> None:
        """``RuleSpec("name", any=(...))``: the name may come first, unnamed."""
        super().__init__(**({} if name is None else {"name": name}), **data)

    @model_validator(mode="before")
    @classmethod
    def _default_mode(cls, data: Any) -> Any:
        """A rule without a mode: its terms alone, its topic alone, or either when it has both."""
        if isinstance(data, dict) and data.get("mode") is None:
            has_terms = any(data.get(key) for key in _TERM_KEYS)
            mode: Literal["keywords", "topic", "either"] = (
                "keywords" if not data.get("topic") else "either" if has_terms else "topic")
            return {**data, "mode": mode}
        return data

    @property
    def has_terms(self) -> bool:
        return bool(self.any or self.all or self.terms or self.query)
