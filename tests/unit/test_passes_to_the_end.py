"""``syncd.sync.passes.to_the_end``: the clean-up of a pass runs to its end whatever cancels
the pass meanwhile."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from syncd.sync.passes import to_the_end


def test_work_queued_behind_a_busy_worker_still_runs_when_cancelled_twice() -> None:
    """The case of a stop during the first passes: the clean-up was queued (the one worker
    busy), then the pass was cancelled twice. ``asyncio.to_thread`` would drop the queued
    work; ``to_the_end`` runs it, waits for it, and only then raises CancelledError."""
    ran: list[str] = []
    release = threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        busy = loop.run_in_executor(None, release.wait, 30)  # the only worker, held
        task = asyncio.ensure_future(to_the_end(lambda: ran.append("closed")))
        try:
            await asyncio.sleep(0)  # the clean-up is queued
            task.cancel()
            await asyncio.sleep(0)
            task.cancel()
            await asyncio.sleep(0)
            assert not task.done()  # waits for the work it queued
        finally:
            release.set()
        await busy
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ran == ["closed"]

    asyncio.run(main())


def test_the_result_when_not_cancelled() -> None:
    assert asyncio.run(to_the_end(lambda: 42)) == 42
