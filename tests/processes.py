"""`lawroom serve` as a real process, for tests of what only a process shows (signals, crashes,
several instances)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    proc: asyncio.subprocess.Process
    port: int
    log: list[str] = field(default_factory=list)
    _drain: asyncio.Task[None] | None = None
    # Set on every line read into `log`.
    _logged: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def until_logged(self, *texts: str, timeout: float = 30) -> str:
        """Wait until a log line containing one of `texts` has been read; return that line."""
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for line in self.log[seen:]:
                    if any(text in line for text in texts):
                        return line
                seen = len(self.log)
                if self._drain is not None and self._drain.done():
                    raise RuntimeError(f"lawroom serve ended before logging any of {texts}")
                self._logged.clear()
                await self._logged.wait()

    async def stop(self, timeout: float = 20) -> int:
        if self.proc.returncode is None:
            self.proc.terminate()
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._drain is not None:
            await self._drain
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._drain is not None:
            await self._drain


async def serve(data_dir: Path, *args: str, port: int | None = None) -> Served:
    """Start `lawroom serve --demo` and return once it listens. Its log is read all along (an
    unread pipe would fill and stall the server)."""
    port = port or free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--demo",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *args,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "LAWROOM_LOG_LEVEL": "INFO"},
    )
    served = Served(proc, port)
    ready = asyncio.Event()

    async def drain() -> None:
        assert proc.stderr is not None
        try:
            while line := await proc.stderr.readline():
                text = line.decode(errors="replace")
                served.log.append(text)
                served._logged.set()
                if "Lawroom on" in text:
                    ready.set()
        finally:
            served._logged.set()  # a waiter sees that the log has ended

    served._drain = asyncio.create_task(drain())
    try:
        async with asyncio.timeout(30):
            await ready.wait()
    except TimeoutError:
        await served.kill()
        raise RuntimeError("lawroom serve did not start:\n" + "".join(served.log)) from None
    return served
