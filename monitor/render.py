"""Alerts as people read them: a title and a plain-text body. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from monitor.models import Article, Match


def alert_text(
    *, title: str, url: str | None, feed: str, article: Article, published: datetime, matches: Sequence[Match]
) -> tuple[str, str]:
    """Return (title, body) for one article and the rules it matched."""
    rules = [m.rule for m in matches]
    heading = f"[{', '.join(rules)}] {title or '(untitled)'}"
    lines = [title or "(untitled)"]
    if url:
        lines.append(url)
    lines += [
        "",
        f"Feed: {feed}",
        f"Language: {article.language or 'unknown'}",
        f"Published: {published.strftime('%Y-%m-%d %H:%M UTC')}",
        f"Rules: {', '.join(rules)}",
        "",
        "Why it matched:",
    ]
    for match in matches:
        for hit in match.hits:
            lines.append(f'- {match.rule}: "{hit.term}" in: {hit.snippet}')
    return heading, "\n".join(lines)


def console_block(title: str, body: str) -> str:
    """An alert printed to a terminal when no channel is configured."""
    bar = "=" * 72
    return f"{bar}\n{title}\n{'-' * 72}\n{body}\n{bar}\n"
