"""The worker pool, with real worker processes: every task gets its answer, whatever
its neighbours do (run past their deadline, kill their worker, get abandoned)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time

import pytest

from monitor.errors import FeedError, StepTimeout, WorkerError
from monitor.workers import CpuPool


def pid_of(state, n):
    return n, os.getpid()


def sleep_then(state, seconds, value):
    time.sleep(seconds)
    return value


def die(state):
    os._exit(3)


def fail(state, ours):
    if ours:
        raise FeedError("feed broken")
    raise ValueError("bad value")


def test_more_tasks_than_workers_all_get_their_own_answers_and_workers_are_renewed():
    async def go():
        async with CpuPool(2, max_tasks=5) as pool:
            return await asyncio.gather(*(pool.run(pid_of, n, timeout=30) for n in range(40)))

    results = asyncio.run(go())
    assert [n for n, _ in results] == list(range(40))
    assert len({pid for _, pid in results}) >= 8     # 40 tasks, 5 per worker


def test_a_task_past_its_deadline_fails_alone_and_its_worker_is_replaced():
    async def go():
        async with CpuPool(1) as pool:
            _, first = await pool.run(pid_of, 0, timeout=30)
            slow = asyncio.ensure_future(pool.run(sleep_then, 600, "late", timeout=0.5))
            queued = [asyncio.ensure_future(pool.run(pid_of, n, timeout=30)) for n in range(1, 4)]
            with pytest.raises(StepTimeout, match="longer than 0.5s"):
                await slow
            return first, await asyncio.gather(*queued)

    first, results = asyncio.run(go())
    assert [n for n, _ in results] == [1, 2, 3]          # waited behind the slow one, then ran
    assert first not in {pid for _, pid in results}      # on its successor: the sleeper was stopped


def test_a_worker_that_dies_fails_its_task_only():
    async def go():
        async with CpuPool(1) as pool:
            with pytest.raises(WorkerError, match="died"):
                await pool.run(die, timeout=30)
            return await pool.run(pid_of, 7, timeout=30)

    assert asyncio.run(go())[0] == 7


def test_errors_come_back_as_ours_or_as_worker_errors():
    async def go():
        async with CpuPool(1) as pool:
            with pytest.raises(FeedError, match="feed broken"):
                await pool.run(fail, True, timeout=30)
            with pytest.raises(WorkerError, match="ValueError: bad value"):
                await pool.run(fail, False, timeout=30)
            with pytest.raises(WorkerError, match="pickle"):
                await pool.run(pid_of, lambda: None, timeout=30)   # arguments that cannot be sent
            return await pool.run(pid_of, 1, timeout=30)

    assert asyncio.run(go())[0] == 1


def test_an_abandoned_task_does_not_hold_up_the_pool():
    async def go():
        async with CpuPool(1) as pool:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.run(sleep_then, 1, "unwanted", timeout=30), 0.2)
            return await pool.run(sleep_then, 0, "wanted", timeout=30)

    assert asyncio.run(go()) == "wanted"


def test_a_pool_with_no_work_starts_no_process():
    async def go():
        async with CpuPool(2) as pool:
            await asyncio.sleep(0.2)
            idle = multiprocessing.active_children()
            await pool.run(pid_of, 1, timeout=30)
            return idle, multiprocessing.active_children()

    idle, busy = asyncio.run(go())
    assert idle == [] and len(busy) == 1


def test_closing_the_pool_answers_the_task_still_running():
    async def go():
        async with CpuPool(1) as pool:
            first = asyncio.ensure_future(pool.run(pid_of, 1, timeout=30))
            await first
            running = asyncio.ensure_future(pool.run(sleep_then, 600, "never", timeout=30))
            await asyncio.sleep(0.3)
        with pytest.raises(WorkerError, match="closed"):
            await running

    asyncio.run(go())
