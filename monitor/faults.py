"""Crash points for the fault suite.

With ``MONITOR_CRASH_AT=<point>`` in its environment, a monitor process kills
itself with SIGKILL when it reaches that point, as a power cut or the OOM
killer would. The tests then check that a restart loses nothing. Points:
``after_match`` (an entry and its alerts are committed), ``after_claim``
(deliveries are claimed), ``after_send`` (apprise said yes, not yet marked
sent). Without the variable, ``reached`` does nothing.
"""

from __future__ import annotations

import os
import signal
from typing import Mapping


class CrashPoints:
    def __init__(self, environ: Mapping[str, str]):
        self.point = environ.get("MONITOR_CRASH_AT") or None

    def reached(self, point: str) -> None:
        if point == self.point:
            os.kill(os.getpid(), signal.SIGKILL)


NO_CRASH = CrashPoints({})
