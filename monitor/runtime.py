"""The runtime assembled: the stages of the pipeline around the store, the HTTP client, the worker
pool and the notifier, and the Sender that delivers what the pipeline writes to the outbox.

The caller owns those parts (opens and closes them); ``assemble`` only wires them together, so a
test can assemble a runtime around a store in a temporary folder and the local test site.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

from monitor.config import Settings
from monitor.delivery import Sender
from monitor.events import Events, logging_only
from monitor.faults import NO_CRASH, CrashPoints
from monitor.fetch import HttpClient
from monitor.notify import Notifier
from monitor.pipeline import Pipeline, Stages
from monitor.relevance.assess import Assessor
from monitor.stages.compose import Composer
from monitor.stages.judge import ArticleJudge
from monitor.stages.poll import FeedPoller
from monitor.stages.read import Languages, Reader
from monitor.stages.record import Recorder
from monitor.store import Store
from monitor.workers import CpuPool


@dataclass(frozen=True)
class Runtime:
    pipeline: Pipeline
    sender: Sender
    notifier: Notifier
    events: Events


def owner_id() -> str:
    """Who claims deliveries: this host and process, and a nonce (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def assemble(settings: Settings, store: Store, client: HttpClient, notifier: Notifier, cpu: CpuPool, *,
             assessor: Assessor | None = None, crash: CrashPoints = NO_CRASH, events: Events | None = None,
             failures_reported: bool = False) -> Runtime:
    """``assessor``: the judge with the sentence encoder, when topics are used (monitor.cli.common._assessor).
    ``events``: where every part tells what happens (the log alone, unless the status page listens too).
    ``failures_reported``: the command reports failed feeds itself, once (`check`), so a failure is logged
    at info, not as a warning."""
    assessor = assessor or Assessor(settings.judge)
    events = events or logging_only()
    composer = Composer(assessor.judge, notifier)
    stages = Stages(
        poller=FeedPoller(store, client, cpu, composer, extract_timeout=settings.extract_timeout,
                          backoff_max=settings.backoff_max, notice_after=settings.notice_after, events=events,
                          failure_level=logging.INFO if failures_reported else logging.WARNING),
        reader=Reader(client, cpu, extract_timeout=settings.extract_timeout, events=events),
        judge=ArticleJudge(assessor, Languages(), events),
        composer=composer,
        recorder=Recorder(store, crash, events),
    )
    sender = Sender(store, notifier, owner_id(), attempts=settings.delivery_attempts,
                    max_age=settings.delivery_max_age, crash=crash, events=events)
    return Runtime(Pipeline(settings, store, stages, events), sender, notifier, events)
