"""A cancellation that a library lost, found again.

On Python 3.11, `asyncio.wait_for` returns normally when its task is cancelled just as the
awaited operation completes (CPython gh-86296, fixed in 3.12): the CancelledError is lost.
redis-py sends every command through `wait_for` whenever a socket timeout is set (since 8.0 the
default is 5 s), so a task cancelled during a Redis write carries on as if nothing happened. A
loop that runs until cancelled then never ends, and whoever awaits it (server shutdown, a lock's
release) waits forever. The task still counts the request (`Task.cancelling()`), so such a loop
checks it at every turn.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if this task was cancelled and the error went missing on the way.

    Code that catches a CancelledError on purpose calls `uncancel()`, so a non-zero count here
    means a request nobody honoured (an expired `asyncio.timeout` around the caller turns this
    into its TimeoutError, as it would the original).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
