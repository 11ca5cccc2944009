"""Worker processes for the CPU-bound steps (main-text extraction, language detection).

Each worker is a process of its own, so the steps use every core, and a step
that runs away (a page built to take minutes to parse) can be stopped: past
its deadline the worker is killed and replaced, and the caller gets
StepTimeout and falls back. Workers are replaced after ``max_tasks`` tasks
too, which keeps memory flat over days.

A task is a module-level function ``fn(state, *args)``; ``state`` is what the
pool's ``setup`` function returned in that worker (a language detector, say).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

from monitor.errors import MonitorError
from monitor.logs import kv

log = logging.getLogger("monitor.workers")


class WorkerError(MonitorError):
    """A step failed in its worker: it raised, or its worker died."""


class StepTimeout(WorkerError):
    """A step went over its deadline; its worker was killed."""


_PIPE_BUFFER = 32 * 1024   # what a write to a worker's pipe surely takes without blocking


def default_size() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not on Linux
        return max(1, os.cpu_count() or 1)


def release_memory() -> Callable[[], None]:
    """A function that hands freed heap memory back to the system (glibc's malloc_trim).

    Pages of a megabyte or more go through a worker as large strings; freed, they stay in
    the process's heap unless trimmed, and its resident size creeps up. Elsewhere: a no-op."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0) and None


def _serve(conn: Connection, setup: Callable[[], Any] | None) -> None:
    """The worker's loop: run tasks until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the parent, which stops us
    state = setup() if setup else None
    trim = release_memory()
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, args = message
        try:
            reply = ("ok", fn(state, *args))
        except MonitorError as exc:   # one of ours (a FeedError, say): the caller gets it as it is
            reply = ("raise", exc)
        except Exception as exc:  # the step's fault, reported to the caller as WorkerError
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except Exception as exc:  # a result or an exception that does not pickle
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        del message, args, reply
        trim()


@dataclass(eq=False)   # workers are compared (and hashed) by identity
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    tasks: int = 0

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class CpuPool:
    """Use as ``async with CpuPool(size, setup) as pool: await pool.run(fn, *args, timeout=...)``.

    Workers start when there is work for them (a pass that only gets 304s starts none), up to
    ``size``, and are replaced when they time out, crash, or have done ``max_tasks`` tasks."""

    def __init__(self, size: int, setup: Callable[[], Any] | None = None, *, max_tasks: int = 1000,
                 start_timeout: float = 60.0):
        self.size = size
        self.setup = setup
        self.max_tasks = max_tasks
        self.start_timeout = start_timeout
        self._context = multiprocessing.get_context("spawn")   # no fork of a process with threads
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._starting: set[asyncio.Task] = set()
        self._live = 0        # workers running or starting
        self._failures = 0    # starts that failed in a row

    async def __aenter__(self) -> "CpuPool":
        return self   # workers start when there is work for them: a pass of 304s starts none

    async def __aexit__(self, *exc_info) -> None:
        for task in self._starting:
            task.cancel()
        for worker in list(self._all):
            try:
                worker.conn.send(None)
            except OSError:
                pass
        await asyncio.to_thread(self._join_all)

    def _join_all(self) -> None:
        for worker in list(self._all):
            worker.process.join(timeout=2)
            worker.kill()
        self._all.clear()

    async def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.setup), daemon=True, name="monitor-worker")
        # in a thread: start() writes the pickled setup into a pipe the new process reads only once
        # its imports are done, and the event loop must not wait for that
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent)
        self._all.add(worker)
        try:
            status, _ = await self._receive(worker, self.start_timeout)
        except BaseException:
            self._all.discard(worker)
            worker.kill()
            raise
        if status != "ready":
            raise WorkerError(f"worker did not start: {status}")
        return worker

    async def _receive(self, worker: _Worker, timeout: float) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = worker.conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, timeout)
        finally:
            loop.remove_reader(fd)
        try:
            return worker.conn.recv()
        except (EOFError, OSError):
            raise WorkerError("worker process died") from None

    async def run(self, fn: Callable, *args: Any, timeout: float) -> Any:
        """Run ``fn(state, *args)`` in a worker; WorkerError or StepTimeout when it cannot finish."""
        while True:
            if self._idle.empty() and self._live < self.size:
                self._add_worker()
            if self._live == 0 and self._failures:
                raise WorkerError("no worker process could be started")
            try:
                worker = await asyncio.wait_for(self._idle.get(), timeout=1.0)
                break
            except TimeoutError:
                continue
        healthy = False
        try:
            try:
                await self._send(worker, (fn, args))
                status, value = await self._receive(worker, timeout)
            except TimeoutError:
                raise StepTimeout(f"{fn.__name__} took longer than {timeout:g}s; its worker was stopped") from None
            except OSError:
                raise WorkerError("worker process died") from None
            healthy = True
            worker.tasks += 1
            if status == "raise":
                raise value
            if status != "ok":
                raise WorkerError(f"{fn.__name__} failed: {value}")
            return value
        finally:
            if healthy and worker.tasks < self.max_tasks:
                self._idle.put_nowait(worker)
            else:
                self._replace(worker, healthy)

    @staticmethod
    async def _send(worker: _Worker, message: tuple) -> None:
        data = ForkingPickler.dumps(message)
        if len(data) < _PIPE_BUFFER:
            worker.conn.send_bytes(data)   # fits in the pipe: returns at once
        else:   # a page, say: the write waits for the worker to read it, and the event loop must not
            await asyncio.to_thread(worker.conn.send_bytes, data)

    def _replace(self, worker: _Worker, healthy: bool) -> None:
        if not healthy:
            log.warning(kv("worker_replaced", pid=worker.process.pid, reason="timeout or crash"))
        self._all.discard(worker)
        worker.kill()
        self._live -= 1
        self._add_worker()

    def _add_worker(self) -> None:
        """Start a worker in the background; it joins the idle queue once it is ready."""
        self._live += 1
        task = asyncio.get_running_loop().create_task(self._start())
        self._starting.add(task)

        def started(done: asyncio.Task) -> None:
            self._starting.discard(done)
            if not done.cancelled() and done.exception() is None:
                self._failures = 0
                self._idle.put_nowait(done.result())
                return
            self._live -= 1
            if not done.cancelled():
                log.error(kv("worker_start_failed", error=str(done.exception())))
                self._failures += 1

        task.add_done_callback(started)
