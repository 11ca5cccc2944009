"""Compose alerts: what matched -> one Alert per channel that wants it. Feed notices go to every channel.

Where alerts are composed is where digests and story grouping would gather them before they are written.
"""

from __future__ import annotations

from datetime import datetime

from monitor.feed import Feed
from monitor.models import Alert, Entry
from monitor.notify import Notifier
from monitor.relevance.judge import Judge
from monitor.render import alert_text, feed_down_text, feed_up_text
from monitor.stages.judge import Judged


class Composer:
    def __init__(self, judge: Judge, notifier: Notifier):
        self.judge = judge
        self.notifier = notifier

    def alerts(self, entry: Entry, judged: Judged, published: datetime) -> list[Alert]:
        """The article's alert, for the channels of the rules it matched (every channel for a rule
        that names none); none when it matched nothing."""
        if not judged.matches:
            return []
        title, body = alert_text(title=entry.title, url=entry.url, feed=entry.feed, article=judged.article,
                                 published=published, matches=judged.matches)
        alerts = []
        for channel in self.judge.channels_for(judged.matches) or self.notifier.channels:
            targets = self.notifier.targets_for(channel)
            if targets:
                alerts.append(Alert(channel, title, body, targets))
        return alerts

    def feed_down(self, feed: Feed, *, failures: int, error: str, retry_at: datetime) -> list[Alert]:
        title, body = feed_down_text(feed=feed.name, url=feed.url, failures=failures, error=error, retry_at=retry_at)
        return self._to_everyone(title, body)

    def feed_up(self, feed: Feed, now: datetime) -> list[Alert]:
        title, body = feed_up_text(feed=feed.name, url=feed.url, now=now)
        return self._to_everyone(title, body)

    def _to_everyone(self, title: str, body: str) -> list[Alert]:
        return [Alert(channel, title, body, targets) for channel, targets in self.notifier.every_target().items()
                if targets]
