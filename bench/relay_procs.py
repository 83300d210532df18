"""The relay benchmark's child processes (servers, Redis, load generators) and what it reads
about them and the machine from /proc: RSS, CPU, how busy everything else is."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

READY_TIMEOUT: Final = 60.0
# A generator command covers set-up (pairing 500 rooms through Lawroom takes a minute or two)
# or one measured step; anything longer is a hang.
COMMAND_TIMEOUT: Final = 600.0
STOP_TIMEOUT: Final = 15.0
LOG_LINES_KEPT: Final = 200
PR_SET_PDEATHSIG: Final = 1
# Children run from the repository's root: `python -m` then imports this checkout's packages
# (the editable install does not map every one of them).
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # After the command name: utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine so far, all cores (from /proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


async def quiet_moment(threshold: float, limit: float) -> tuple[float, float]:
    """Wait, at most `limit` seconds, for a second in which the whole machine is busy for at
    most `threshold` of a core (between steps the benchmark's own processes idle). Returns
    (seconds waited, the busy share of a core in the last second)."""
    started = time.perf_counter()
    while True:
        before = machine_cpu_seconds()[0]
        await asyncio.sleep(1.0)  # a sampling interval, not synchronisation
        busy = machine_cpu_seconds()[0] - before
        waited = time.perf_counter() - started
        if busy <= threshold or waited >= limit:
            return waited, busy


def _die_with_parent() -> None:
    # Runs in the child before exec: if the benchmark is killed outright (no finally runs),
    # the kernel still stops its servers and generators.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(eq=False)
class Child:
    name: str
    proc: asyncio.subprocess.Process
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES_KEPT))
    whole_log: list[str] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Log lines watched for besides the ready line: text -> set once a line contains it.
    marks: dict[str, asyncio.Event] = field(default_factory=dict)
    drains: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = LOG_LINES_KEPT) -> str:
        return "".join(list(self.log)[-lines:])

    async def any_mark(self, timeout: float) -> str | None:
        """Wait for the first of the watched texts to appear; which one (None: none in time)."""
        waiters = {asyncio.create_task(e.wait()): text for text, e in self.marks.items()}
        done, pending = await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        return next((waiters[t] for t in done), None)


class Children:
    """Every process the benchmark starts; `stop_all` ends those still running, newest first."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self._children: list[Child] = []
        # Where each child's whole output is written when it stops (--logs).
        self._log_dir = log_dir

    async def start(
        self,
        name: str,
        argv: Sequence[str],
        ready_text: str | None,
        *,
        commands: bool = False,
        watch: Sequence[str] = (),
    ) -> Child:
        """Start `argv`; with `ready_text`, return once its output shows it. `commands`: the
        child talks JSON lines on stdin/stdout (a generator); its stderr is the log. `watch`:
        texts whose first appearance in the log sets `child.marks[text]`."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if commands else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if commands else asyncio.subprocess.STDOUT,
            # Its own session: a Ctrl-C reaches only the benchmark, which then stops its
            # children in order (generators before servers) instead of all dying at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,
            cwd=REPO_ROOT,
            limit=2**26,  # a generator's reply carries every latency sample on one line
        )
        child = Child(name, proc, whole_log=[] if self._log_dir is not None else None)
        child.marks = {text: asyncio.Event() for text in watch}
        self._children.append(child)
        # Read the log all along: an unread pipe would fill and stall the child.
        log_pipe = proc.stderr if commands else proc.stdout
        assert log_pipe is not None
        child.drains.append(asyncio.create_task(self._drain(child, log_pipe, ready_text)))
        if ready_text is not None:
            waiter = asyncio.create_task(child.ready.wait())
            exited = asyncio.create_task(proc.wait())
            done, _ = await asyncio.wait(
                {waiter, exited}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            exited.cancel()
            if waiter not in done:
                raise RuntimeError(f"{name} did not start:\n{child.tail()}")
        return child

    async def _drain(self, child: Child, pipe: asyncio.StreamReader, ready: str | None) -> None:
        while line := await pipe.readline():
            text = line.decode(errors="replace")
            child.log.append(text)
            if child.whole_log is not None:
                child.whole_log.append(text)
            if ready is not None and ready in text:
                child.ready.set()
            for mark, seen in child.marks.items():
                if mark in text:
                    seen.set()

    async def stop(self, child: Child) -> None:
        if child.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.terminate()
            try:
                await asyncio.wait_for(child.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()
                await child.proc.wait()
        # The pipes reach EOF once the child has gone; then the whole log has been read.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*child.drains), STOP_TIMEOUT)
        for task in child.drains:
            task.cancel()
        if child in self._children:
            self._children.remove(child)
        if self._log_dir is not None and child.whole_log is not None:
            path = self._log_dir / f"{child.name}-{child.pid}.log"
            await asyncio.to_thread(path.write_text, "".join(child.whole_log))

    async def stop_all(self) -> None:
        for child in reversed(list(self._children)):
            await self.stop(child)


class Generator:
    """A load generator process (`bench.relay_load`) and its command channel."""

    def __init__(self, child: Child) -> None:
        self.child = child

    async def command(self, **command: Any) -> dict[str, Any]:
        proc = self.child.proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(command) + "\n").encode())
        await proc.stdin.drain()
        async with asyncio.timeout(COMMAND_TIMEOUT):
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.child.name} exited:\n{self.child.tail()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def quit(self) -> None:
        """Close its websockets and exit (so the servers then stop with nothing open)."""
        proc = self.child.proc
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.write(b'{"cmd": "quit"}\n')
                await proc.stdin.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
