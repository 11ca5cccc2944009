"""The error tree. Every error monitor raises on purpose is a MonitorError.

    MonitorError
    ├── ConfigError            the config file is missing, unreadable or invalid
    ├── FetchError             an HTTP request did not give us a usable body
    │   ├── BlockedAddress     the address policy refused the URL (scheme, private address)
    │   ├── HTTPStatusError    the server answered with a status we do not accept
    │   ├── ResponseTooLarge   the body went over the size cap
    │   ├── FetchTimeout       the request went over its total deadline
    │   ├── TooManyRedirects   the redirect chain was too long
    │   └── ConnectionFailed   DNS, TCP, TLS or a broken transfer
    ├── FeedError              a body that should be a feed is not one
    ├── StoreError             the database cannot be opened or used
    ├── TermError              a rule's term cannot be used
    ├── QueryError             a rule's query cannot be parsed
    ├── RulesError             the rules cannot be compiled: every TermError and QueryError, by rule and key
    ├── WorkerError            a step failed in its worker process, or the process died
    │   └── StepTimeout        a step went over its deadline; its worker was killed
    ├── ModelError             a relevance model file cannot be used   (monitor.relevance.model)
    ├── EncoderError           the sentence encoder cannot be loaded or failed   (monitor.relevance.encoder)
    ├── LabelsError            a file of labelled articles cannot be read   (monitor.relevance.training)
    └── RelevanceError         a relevance command names no usable topic   (monitor.relevance.tools)

The relevance errors live beside the code that raises them; the rest are here.
Third-party exceptions (aiohttp, sqlite3, feedparser, tomllib) are translated
into this tree at the one module that talks to each library; the CLI turns
the tree into messages and exit codes. Messages never contain secrets.
The config's field checks (monitor.fields) raise ValueError, as pydantic
expects: monitor.config gathers them into its ConfigError, and the CLI turns
a bad ``--since`` into a usage error.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """The config is invalid. ``problems`` lists every fault found, each naming its key."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        lines = [f"{self.path}: {problem}" for problem in self.problems]
        return "\n".join(lines)


class FetchError(MonitorError):
    """An HTTP request failed. ``url`` is the URL that was asked for."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"{reason} ({url})")


class BlockedAddress(FetchError):
    """The address policy refused the URL or one of its redirects."""


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, reason: str = "", *, retry_after: str | None = None):
        self.status = status
        self.retry_after = retry_after   # the Retry-After header, as sent
        text = f"HTTP {status}" + (f" {reason}" if reason else "")
        super().__init__(url, text)


class ResponseTooLarge(FetchError):
    pass


class FetchTimeout(FetchError):
    pass


class TooManyRedirects(FetchError):
    pass


class ConnectionFailed(FetchError):
    pass


class FeedError(MonitorError):
    """The body is not an RSS, Atom or RDF feed."""


class StoreError(MonitorError):
    """The database cannot be opened, migrated or written."""


class TermError(MonitorError):
    """A term that cannot be used; the message says why."""


class QueryError(MonitorError):
    """A query that cannot be parsed; ``position`` is where (1-based)."""

    def __init__(self, message: str, position: int):
        self.position = position
        super().__init__(f"{message} at position {position}")


class RulesError(MonitorError):
    """Faults in the rules, each ``(rule index, key, message)``: every term and query that failed."""

    def __init__(self, problems: list[tuple[int, str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"rules[{i}].{key}: {message}" for i, key, message in problems))


class WorkerError(MonitorError):
    """A step failed in its worker: it raised, or its worker died."""


class StepTimeout(WorkerError):
    """A step went over its deadline; its worker was killed."""
