"""The values that flow through the pipeline, from feed entry to delivery.

Plain dataclasses and enums: the worker processes import this module, and pydantic (the config
schema, monitor.feed) would cost each of them some 15 MB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FeedStatus(StrEnum):
    """How a poll of a feed went. The database keeps the HTTP status of a poll that worked, and
    FAILED's value for one that did not."""

    FETCHED = "fetched"        # a body came back (a 2xx)
    UNCHANGED = "unchanged"    # 304 Not Modified
    FAILED = "error"


class ArticleStatus(StrEnum):
    """What became of an entry: the value kept in articles.status."""

    FIRST_LOOK = "first_look"  # held by a feed at its first poll: recorded as seen, not alerted
    TOO_OLD = "too_old"        # published before max_age
    DUPLICATE = "duplicate"    # the same article as one another feed brought in this pass
    NO_MATCH = "no_match"
    MATCHED = "matched"


class DeliveryStatus(StrEnum):
    """Where a delivery stands: the value kept in deliveries.status."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"              # out of attempts or too old: a dead letter, until `monitor retry`


@dataclass(frozen=True)
class Entry:
    """One item of a feed, as the feed describes it."""

    feed: str
    key: str                  # identity within the feed: GUID, else link, else content hash
    url: str | None           # the article link, normalised; None when the item has none
    title: str
    summary: str              # the feed's own text for the item (content, else summary), plain text
    published: datetime | None


@dataclass(frozen=True)
class Article:
    """What the rules look at."""

    title: str
    text: str
    language: str | None      # bare ISO 639-1 code, None when unknown
    language_confidence: float


@dataclass(frozen=True)
class Hit:
    """One matched term, with a snippet of the text around it."""

    term: str
    snippet: str
    field: str = "text"                  # "title" or "text"
    mark: tuple[int, int] | None = None  # where the term is in the snippet


@dataclass(frozen=True)
class Nearest:
    """The sentence of an article closest to a topic, and the description or example it is closest to."""

    sentence: str
    anchor: str
    similarity: float


@dataclass(frozen=True)
class Relevance:
    """A topic's verdict on an article: its score against the threshold, and why."""

    topic: str
    score: float
    threshold: float
    model: bool                     # scored by a trained model (else by similarity to the descriptions)
    nearest: Nearest | None = None

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True)
class Match:
    """A rule that matched an article, and the evidence: the terms that decided, and the topic's verdict."""

    rule: str
    hits: tuple[Hit, ...]
    relevance: Relevance | None = None


@dataclass(frozen=True)
class Alert:
    """One message for one channel. ``targets`` are the keys of the channel's apprise URLs."""

    channel: str
    title: str
    body: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Delivery:
    """One alert on its way to one target, as claimed from the outbox."""

    id: int
    channel: str
    target: str
    title: str
    body: str
    attempts: int             # this attempt's number, counting from 1
    created: float            # when the alert was written (Unix seconds)
