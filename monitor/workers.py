"""Worker processes for the CPU-bound steps (feed parsing, reading pages: the quick text, extraction).

Each worker is a process of its own, so the steps use every core, and a step
that runs away (a page built to take minutes to parse) can be stopped: past
its deadline the worker is killed and replaced, and the caller gets
StepTimeout and falls back. Workers are replaced after ``max_tasks`` tasks
too, which keeps memory flat over days.

A task is a module-level function ``fn(state, *args)``; ``state`` is what the
pool's ``setup`` function returned in that worker (the rules' prefilter: see
monitor.tasks). Language detection and the sentence encoder do not run here:
they are loaded once, in the main process, and run in its threads.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, TypeVar

from monitor import events as ev
from monitor.errors import MonitorError, StepTimeout, WorkerError
from monitor.logs import kv

log = logging.getLogger("monitor.workers")
T = TypeVar("T")


_TRIM_AFTER = 256 * 1024   # a task given this much hands freed memory back at once; others every 16 tasks


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
    done = 0
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        message = ForkingPickler.loads(data)
        if message is None:
            return
        size, done = len(data), done + 1
        del data
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
        if size >= _TRIM_AFTER or done % 16 == 0:   # a trim walks the heap: ~0.3 ms
            trim()


@dataclass(eq=False)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float
    future: asyncio.Future[tuple[str, Any]]   # the worker's reply: ("ok", value), ("raise", error), ("error", why)


@dataclass(eq=False)   # workers are compared (and hashed) by identity
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    tasks: int = 0
    job: _Job | None = None                          # the task it is running
    deadline: asyncio.TimerHandle | None = None      # when that task is overdue

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class CpuPool:
    """Use as ``async with CpuPool(size, setup) as pool: await pool.run(fn, *args, timeout=...)``.

    Workers start when there is work for them (a pass that only gets 304s starts none), up to
    ``size``, and are replaced when they time out, crash, or have done ``max_tasks`` tasks.

    Tasks wait in one queue. A worker's reply is read by a callback of the event loop, which
    hands the worker its next task there and then: passed on through the coroutines waiting
    for a worker, it would sit idle a few milliseconds per task, a third of its time when most
    tasks take five."""

    def __init__(self, size: int, setup: Callable[[], Any] | None = None, *, max_tasks: int = 1000,
                 start_timeout: float = 60.0, events: ev.Events | None = None):
        self.size = size
        self.events = events or ev.logging_only()
        self.setup = setup
        self.max_tasks = max_tasks
        self.start_timeout = start_timeout
        self._context = multiprocessing.get_context("spawn")   # no fork of a process with threads
        self._jobs: deque[_Job] = deque()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting: set[asyncio.Task[_Worker]] = set()
        self._live = 0        # workers running or starting

    async def __aenter__(self) -> "CpuPool":
        return self   # workers start when there is work for them: a pass of 304s starts none

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._starting:
            task.cancel()
        for worker in list(self._all):
            job = worker.job
            if job is not None:
                self._stop_waiting(worker)
                _settle(job, WorkerError("the worker pool was closed"))
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for job in self._jobs:
            _settle(job, WorkerError("the worker pool was closed"))
        self._jobs.clear()
        await asyncio.to_thread(self._join_all)

    def _join_all(self) -> None:
        for worker in list(self._all):
            worker.process.join(timeout=2)
            worker.kill()
        self._all.clear()

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run ``fn(state, *args)`` in a worker; WorkerError or StepTimeout when it cannot finish.
        ``timeout`` counts from when a worker starts on it."""
        job = _Job(fn, args, timeout, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._dispatch()
        status, value = await job.future   # cancelled with us: never sent, or its reply is dropped
        if status == "raise":
            raise value
        if status != "ok":
            raise WorkerError(f"{fn.__name__} failed: {value}")
        result: T = value   # what fn returned, pickled across
        return result

    def _dispatch(self) -> None:
        """Hand waiting tasks to idle workers; start workers while tasks outnumber those starting."""
        loop = asyncio.get_running_loop()
        while self._jobs and self._idle:
            job = self._jobs.popleft()
            if job.future.done():   # its caller gave up
                continue
            try:
                data = ForkingPickler.dumps((job.fn, job.args))
            except Exception as exc:  # arguments that do not pickle: the caller's fault, not the worker's
                _settle(job, WorkerError(f"{job.fn.__name__}: {type(exc).__name__}: {exc}"))
                continue
            worker = self._idle.pop()
            try:
                worker.conn.send_bytes(data)   # an idle worker is waiting in recv: it reads at once
            except OSError:
                self._jobs.appendleft(job)     # never started: the next worker takes it
                self._retire(worker, "died while idle")
                continue
            worker.job = job
            worker.deadline = loop.call_later(job.timeout, self._overdue, worker, job)
            loop.add_reader(worker.conn.fileno(), self._replied, worker, job)
        while self._live < self.size and len(self._jobs) > len(self._starting):
            self._add_worker()

    def _replied(self, worker: _Worker, job: _Job) -> None:
        self._stop_waiting(worker)
        try:
            reply = worker.conn.recv()
        except (EOFError, OSError):
            _settle(job, WorkerError("worker process died"))
            self._retire(worker, "crashed")
        except Exception as exc:  # a reply that does not unpickle
            _settle(job, WorkerError(f"{job.fn.__name__}: unreadable result: {type(exc).__name__}: {exc}"))
            self._idle.append(worker)
        else:
            worker.tasks += 1
            _settle(job, reply)
            if worker.tasks < self.max_tasks:
                self._idle.append(worker)
            else:
                self._retire(worker)
        self._dispatch()

    def _overdue(self, worker: _Worker, job: _Job) -> None:
        self._stop_waiting(worker)
        _settle(job, StepTimeout(
            f"{job.fn.__name__} took longer than {job.timeout:g}s; its worker was stopped"))
        self._retire(worker, "timeout")
        self._dispatch()

    def _stop_waiting(self, worker: _Worker) -> None:
        """The worker's task is over (done, overdue or abandoned): stop waiting for its reply."""
        asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        if worker.deadline is not None:
            worker.deadline.cancel()
        worker.job, worker.deadline = None, None

    def _retire(self, worker: _Worker, fault: str | None = None) -> None:
        """Stop a worker; the next task that finds no idle one starts another."""
        if fault:
            self.events.emit(ev.WorkerReplaced(worker.process.pid, fault))
        self._all.discard(worker)
        worker.kill()
        self._live -= 1

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
        ready: asyncio.Future[None] = loop.create_future()
        fd = worker.conn.fileno()
        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(ready, timeout)
        finally:
            loop.remove_reader(fd)
        try:
            reply: tuple[str, Any] = worker.conn.recv()
        except (EOFError, OSError):
            raise WorkerError("worker process died") from None
        return reply

    def _add_worker(self) -> None:
        """Start a worker in the background; it takes a task once it is ready."""
        self._live += 1
        task = asyncio.get_running_loop().create_task(self._start())
        self._starting.add(task)

        def started(done: asyncio.Task[_Worker]) -> None:
            self._starting.discard(done)
            if not done.cancelled() and done.exception() is None:
                self._idle.append(done.result())
                self._dispatch()
                return
            self._live -= 1
            if done.cancelled():
                return
            log.error(kv("worker_start_failed", error=str(done.exception())))
            if self._live == 0:   # none running, none on the way: the waiting tasks cannot be done
                error = WorkerError(f"no worker process could be started: {done.exception()}")
                while self._jobs:
                    _settle(self._jobs.popleft(), error)

        task.add_done_callback(started)


def _settle(job: _Job, outcome: tuple[str, Any] | BaseException) -> None:
    """Hand the caller the worker's reply, or the error that ended the task."""
    if job.future.done():   # its caller gave up
        return
    if isinstance(outcome, BaseException):
        job.future.set_exception(outcome)
    else:
        job.future.set_result(outcome)
