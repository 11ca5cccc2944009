"""key=value logs on stderr. Values are quoted when they hold spaces; secrets are never passed in."""

from __future__ import annotations

import logging
import sys
import time


def kv(event: str, **fields: object) -> str:
    parts = [f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if not text or any(ch in text for ch in ' ="\n\t'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class _Formatter(logging.Formatter):
    converter = staticmethod(time.gmtime)   # UTC stamps

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ")
        line = f"ts={stamp} level={record.levelname.lower()} logger={record.name} {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += " " + kv("traceback", text=self.formatException(record.exc_info)).removeprefix("event=traceback ")
        return line


def configure(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.setLevel(level)   # the level is the handler's: a library's logger may hear more than is shown
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # apprise hands each call's warnings back with its result (the reason a delivery failed): they
    # must be logged to be captured, whatever -q says; the handler above keeps them off stderr
    logging.getLogger("apprise").setLevel(logging.WARNING)
    # libraries speak only when something is wrong; apprise's debug output can carry tokens
    for name in ("trafilatura", "htmldate", "courlan", "justext", "apscheduler", "aiohttp", "asyncio",
                 "urllib3", "requests", "charset_normalizer", "chardet"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)   # "too short" pages are our fallback, not errors
