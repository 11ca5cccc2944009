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

from monitor.rules.engine import RuleSet, Verdict, snippet
from monitor.rules.spec import Mode, RuleSpec

__all__ = ["Mode", "RuleSet", "RuleSpec", "Verdict", "snippet"]
