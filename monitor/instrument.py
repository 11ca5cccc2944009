"""Stage timings, taken around the pipeline's collaborators rather than inside its code.

Each wrapper stands in for the object it wraps (every other attribute is the
wrapped object's own) and emits a ``StageTimed`` event for the one call that
is a stage: the HTTP client's ``get`` (fetch), the worker pool's ``run``
(parse or read, by task), the rules' ``match`` and the notifier's ``send``.
"""

from __future__ import annotations

from typing import Any

from monitor import tasks
from monitor.events import Events, Stage

_TASK_STAGES = {tasks.parse: Stage.PARSE, tasks.read_page: Stage.READ}


class _Wrapper:
    def __init__(self, inner: Any, events: Events):
        self._inner = inner
        self._events = events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedClient(_Wrapper):
    async def get(self, *args, **kwargs):
        with self._events.timed(Stage.FETCH):
            return await self._inner.get(*args, **kwargs)


class TimedPool(_Wrapper):
    async def run(self, fn, *args, **kwargs):
        stage = _TASK_STAGES.get(fn)
        if stage is None:
            return await self._inner.run(fn, *args, **kwargs)
        with self._events.timed(stage):
            return await self._inner.run(fn, *args, **kwargs)


class TimedRules(_Wrapper):
    def match(self, *args, **kwargs):
        with self._events.timed(Stage.MATCH):
            return self._inner.match(*args, **kwargs)


class TimedNotifier(_Wrapper):
    async def send(self, *args, **kwargs):
        with self._events.timed(Stage.DELIVER):
            return await self._inner.send(*args, **kwargs)
