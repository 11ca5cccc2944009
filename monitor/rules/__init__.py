"""Rules: which articles are about the user's topics. Pure: no I/O, no clock.

A rule matches an article when all of these hold:

* ``languages``, if given, include the article's language (an article whose
  language is unknown never passes a rule that lists languages);
* at least one term of ``any`` or of ``terms.<language>`` for the article's
  language occurs (if the rule has any such terms);
* every term of ``all`` occurs;
* no term of ``none`` occurs;
* ``query``, if given, holds.

Terms are looked for in the title and the main text; see monitor.rules.terms
for their syntax and monitor.rules.query for the query language.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.rules.engine import RuleSet, Verdict, snippet
    from monitor.rules.spec import Mode, RuleSpec

__all__ = ["Mode", "RuleSet", "RuleSpec", "Verdict", "snippet"]

# Imported when first asked for, not with the package: the worker processes need only the
# prefilter, and the rule spec would bring pydantic (some 15 MB) into each of them.
_WHERE = {"RuleSet": "engine", "Verdict": "engine", "snippet": "engine", "Mode": "spec", "RuleSpec": "spec"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"monitor.rules.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'monitor.rules' has no attribute {name!r}")
