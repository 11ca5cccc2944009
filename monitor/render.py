"""Alerts and notices as people read them: a one-line title and a plain-text body. Pure functions.

Feed text is data, never markup or commands: the body is sent as plain text
(apprise escapes it for HTML and Markdown services), mass mentions such as
``@everyone`` or Slack's ``<!channel>`` are defused with an invisible space,
control characters are dropped, and the title is one line (no CR or LF can
reach an email subject). Nothing here is ever a template: feed text is only
ever a value.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Sequence

from monitor.models import Article, Match

ZWSP = "\u200b"
_MENTIONS = re.compile(r"@(?=(?:everyone|here|channel|room|all|group)\b)", re.I)
_SLACK_SPECIAL = re.compile(r"<(?=[!@#])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
MAX_TITLE = 250


def defang(text: str) -> str:
    """Feed text made safe to post in a chat: no mass mentions, no control characters."""
    text = _CONTROL.sub(" ", text)
    text = _SLACK_SPECIAL.sub("<" + ZWSP, text)
    return _MENTIONS.sub("@" + ZWSP, text)


# Title characters that HTML or Markdown would read as markup, and look-alikes that they do not.
# apprise escapes the body for each service, but not the title; titles keep their look, not their power.
_MARKUP = str.maketrans({"<": "‹", ">": "›", "*": "∗", "_": "ˍ", "`": "ˋ", "[": "［", "]": "］", "|": "│",
                         "~": "∼", "#": "＃"})
_ENTITY = re.compile(r"&(?=#?\w+;)")


def one_line(text: str, limit: int = MAX_TITLE) -> str:
    line = " ".join(defang(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def title_line(text: str) -> str:
    """An alert's title: one line, and inert as markup in every service apprise speaks to."""
    return _ENTITY.sub("&" + ZWSP, one_line(text).translate(_MARKUP))


def alert_text(
    *, title: str, url: str | None, feed: str, article: Article, published: datetime, matches: Sequence[Match]
) -> tuple[str, str]:
    """Return (title, body) for one article and the rules it matched."""
    rules = [m.rule for m in matches]
    headline = one_line(title) or "(untitled)"
    lines = [headline]
    if url:
        lines.append(defang(url))
    lines += [
        "",
        f"Feed: {feed}",
        f"Language: {article.language or 'unknown'}",
        f"Published: {published.strftime('%Y-%m-%d %H:%M UTC')}",
        f"Rules: {', '.join(rules)}",
        "",
        "Why it matched:",
    ]
    lines += relevance_lines(matches)
    for match in matches:
        for hit in match.hits:
            lines.append(f'- {match.rule}: "{one_line(hit.term)}" in: {one_line(hit.snippet, 400)}')
    return title_line(f"{', '.join(rules)}: {headline}"), "\n".join(lines)


def relevance_lines(matches: Sequence[Match]) -> list[str]:
    """Each topic that had a say, once: its score against the threshold, and the sentence nearest to it."""
    lines = []
    seen = set()
    for match in matches:
        relevance = match.relevance
        if relevance is None or relevance.topic in seen:
            continue
        seen.add(relevance.topic)
        rules = ", ".join(m.rule for m in matches if m.relevance and m.relevance.topic == relevance.topic)
        how = "model" if relevance.model else "similarity to its descriptions"
        verdict = ">=" if relevance.passed else "<"
        lines.append(f"- topic {relevance.topic} ({rules}): score {relevance.score:.2f} {verdict} threshold "
                     f"{relevance.threshold:.2f} ({how})")
        if relevance.nearest is not None:
            near = relevance.nearest
            lines.append(f'  nearest: "{one_line(near.sentence, 300)}" ~ "{one_line(near.anchor, 200)}" '
                         f"(similarity {near.similarity:.2f})")
    return lines


def feed_down_text(*, feed: str, url: str, failures: int, error: str, retry_at: datetime) -> tuple[str, str]:
    title = title_line(f"monitor: feed {feed} is failing")
    body = "\n".join([
        f"The feed {feed} has failed {failures} times in a row.",
        f"URL: {defang(url)}",
        f"Last error: {one_line(error, 400)}",
        "",
        f"monitor keeps trying it (next attempt around {retry_at.strftime('%Y-%m-%d %H:%M UTC')})",
        "and will tell you once when it works again.",
    ])
    return title, body


def feed_up_text(*, feed: str, url: str, now: datetime) -> tuple[str, str]:
    title = title_line(f"monitor: feed {feed} works again")
    body = f"The feed {feed} was fetched again at {now.strftime('%Y-%m-%d %H:%M UTC')}.\nURL: {defang(url)}"
    return title, body


def console_block(title: str, body: str) -> str:
    """An alert printed to a terminal when no channel is configured."""
    bar = "=" * 72
    return f"{bar}\n{title}\n{'-' * 72}\n{body}\n{bar}\n"
