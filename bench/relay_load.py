"""The load generator of the relay benchmark, run as its own process by `bench.relay`: it holds
the websockets (both members of every room), sends `ice_candidate` messages and times them.

Driven by JSON lines on stdin, one reply line on stdout per command (nothing else is printed
there; diagnostics go to stderr):

- `connect_bare`: open both websockets of each room on the bare relay.
- `connect_lawroom`: sign in every terminal and lawyer with its token, put the lawyers on duty
  and pair the rooms through the server (request, offer, accept), so that the candidates relayed
  later pass its validation, authorization and room check.
- `closed`: closed loop, `window` messages in flight per direction of each room: every candidate
  received is answered with one in the other direction. Its delivered rate is the maximum.
- `open`: open loop at `rate` messages/s in all, spread evenly over the websockets.
- `quit`: close everything and exit.

A relay that cannot keep up may close websockets (Lawroom cuts loose a recipient whose send
queue is full): those are counted and left out of later sends, so an overload shows in the
figures instead of ending the run.

Each candidate carries its send time (microseconds of the monotonic clock) as its foundation, so
the receiver reads the latency off the message itself, without JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import aiohttp

from bench.relay_procs import cpu_seconds, machine_cpu_seconds
from signaling.messages import (
    MAX_FRAME_BYTES,
    Accept,
    Hello,
    IceCandidate,
    Language,
    RequestConsultation,
    Role,
    SetDuty,
    dump,
    parse_client,
)

# A host candidate as a browser trickles it, in the client's own JSON (no "v": it defaults). The
# send time goes in as the foundation (1-32 ice-chars; digits are valid), so the message stays a
# valid candidate: 187 bytes, the issue's ~170-byte sample plus the time stamp.
HEAD = '{"type":"ice_candidate","consultation_id":"%s","candidate":"candidate:'
TAIL = ' 1 udp 2122260223 127.0.0.1 54321 typ host generation 0","sdp_mid":"0","sdp_mline_index":0}'
STAMP = "candidate:"
# Bounds, so a stuck server fails the run instead of hanging it.
SETUP_TIMEOUT = 300.0
DRAIN_TIMEOUT = 60.0
# After a step, what has not arrived once nothing has arrived for this long is lost (sent to a
# websocket the server has since closed), not late.
DRAIN_QUIET = 2.0
# How many rooms are being paired (or sockets signed in) at once: the server pairs one at a time
# under its dispatch lock anyway; this only keeps requests queued there.
PAIRING_CONCURRENCY = 8
SIGN_IN_ATTEMPTS = 5
CLOSES_LOGGED = 3
# Open loop: how often the sender wakes to send what is due.
TICK_SECONDS = 0.001

T = TypeVar("T")


def now_us() -> int:
    return time.perf_counter_ns() // 1000


@dataclass(eq=False)
class End:
    """One websocket: a member of a room."""

    ws: aiohttp.ClientWebSocketResponse
    role: Literal["village", "professional"]
    head: str = ""
    consultation_id: str = ""
    closed: bool = False
    # Lawroom's control messages during set-up (welcome, offers, room_joined...).
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    def room(self, consultation_id: str) -> None:
        self.consultation_id = consultation_id
        self.head = HEAD % consultation_id
        sample = self.head + str(now_us()) + TAIL
        # The hot path builds the text by hand: make sure it is what the protocol accepts.
        parsed = parse_client(sample)
        assert isinstance(parsed, IceCandidate) and parsed.sdp_mline_index == 0, sample


def log(text: str) -> None:
    """Diagnostics go to stderr: stdout carries only the command replies."""
    print(f"generator: {text}", file=sys.stderr, flush=True)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """What was seen while measuring."""

    sent: int = 0
    received: int = 0
    latencies_us: list[int] = field(default_factory=list)
    send_lags_us: list[int] = field(default_factory=list)


class Load:
    """The websockets, what they send and what they have seen."""

    def __init__(self) -> None:
        self.http = aiohttp.ClientSession(
            # No pool limit: the websockets keep their connections for the whole run.
            connector=aiohttp.TCPConnector(limit=0),
        )
        self.ends: list[End] = []
        self.readers: list[asyncio.Task[None]] = []
        self.mode: Literal["idle", "closed", "open"] = "idle"
        self.window: Window | None = None
        self.sent_total = 0
        self.received_total = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.sign_in_retries = 0
        # Websockets the server closed (we close ours only on `quit`).
        self.closed_by_server = 0

    # -- the hot path ------------------------------------------------------------------------

    async def send(self, end: End) -> None:
        if end.closed:
            return
        try:
            await end.ws.send_str(end.head + str(now_us()) + TAIL)
        except ConnectionError:
            # Closed by the server under us; the reader counts it once the close arrives.
            return
        self.sent_total += 1
        if self.window is not None:
            self.window.sent += 1

    async def read(self, end: End) -> None:
        try:
            await self.read_frames(end)
        finally:
            if not end.closed:
                end.closed = True
                self.closed_by_server += 1
                if self.closed_by_server <= CLOSES_LOGGED:
                    log(f"{end.role} websocket closed by the server (code {end.ws.close_code})")

    async def read_frames(self, end: End) -> None:
        async for frame in end.ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            data: str = frame.data
            i = data.find(STAMP)
            if i < 0:
                self.control(end, data)
                continue
            received_at = now_us()
            self.received_total += 1
            window = self.window
            if window is not None:
                window.received += 1
                start = i + len(STAMP)
                window.latencies_us.append(received_at - int(data[start : data.index(" ", start)]))
            if self.mode == "closed":
                # The answer keeps this direction's window full: in flight stays constant.
                await self.send(end)

    def control(self, end: End, data: str) -> None:
        message = json.loads(data)
        if message.get("type") == "error":
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(data)
        end.inbox.put_nowait(message)

    # -- set-up ------------------------------------------------------------------------------

    async def open_ws(self, url: str, role: Literal["village", "professional"]) -> End:
        ws = await self.http.ws_connect(url, max_msg_size=MAX_FRAME_BYTES)
        end = End(ws, role)
        self.ends.append(end)
        self.readers.append(asyncio.create_task(self.read(end)))
        return end

    async def connect_bare(self, village_url: str, pro_url: str, rooms: Sequence[str]) -> None:
        async def one(room: str) -> None:
            v = await self.open_ws(f"{village_url}?room={room}&side=village", "village")
            p = await self.open_ws(f"{pro_url}?room={room}&side=professional", "professional")
            v.room(room)
            p.room(room)

        await bounded(PAIRING_CONCURRENCY, [one(r) for r in rooms])

    async def connect_lawroom(
        self, village_url: str, pro_url: str, pairs: Sequence[Sequence[str]]
    ) -> None:
        """pairs: (terminal identity, device token, lawyer username, account token)."""

        async def sign_in(url: str, role: Role, identity: str, token: str) -> End:
            end = await self.open_ws(url, "village" if role is Role.VILLAGE else "professional")
            hello = dump(Hello(role=role, identity=identity, token=token))
            attempt = 1
            while True:
                await end.ws.send_str(hello)
                try:
                    await expect(end, "welcome")
                    return end
                except Refused as refused:
                    # A server error (SQLite's "database is locked" under a burst of sign-ins)
                    # changes nothing on the server: it is counted, and the hello repeated.
                    if refused.code != "internal_error" or attempt == SIGN_IN_ATTEMPTS:
                        raise
                self.sign_in_retries += 1
                await asyncio.sleep(0.5 * attempt)  # back off before signing in again
                attempt += 1

        pros = await bounded(
            PAIRING_CONCURRENCY,
            [sign_in(pro_url, Role.LAWYER, p[2], p[3]) for p in pairs],
        )
        for pro in pros:
            await pro.ws.send_str(dump(SetDuty(on_duty=True)))
            await expect(pro, "duty_state")
        villages = await bounded(
            PAIRING_CONCURRENCY,
            [sign_in(village_url, Role.VILLAGE, p[0], p[1]) for p in pairs],
        )
        # Every professional accepts whatever it is offered; which one gets which terminal is
        # the server's choice, and room_joined tells both.
        accepting = [asyncio.create_task(accept_offer(pro)) for pro in pros]

        async def ask(village: End) -> None:
            await village.ws.send_str(
                dump(RequestConsultation(topic="labour", language=Language.ZH))
            )
            joined = await expect(village, "room_joined")
            village.room(joined["consultation_id"])

        try:
            await bounded(PAIRING_CONCURRENCY, [ask(v) for v in villages])
            await asyncio.gather(*accepting)
        finally:
            # After a refusal, the other acceptors would wait out SETUP_TIMEOUT and then each
            # report its own failure: the first one is the story.
            for task in accepting:
                task.cancel()
            await asyncio.gather(*accepting, return_exceptions=True)
        rooms = {v.consultation_id for v in villages}
        assert rooms == {p.consultation_id for p in pros} and len(rooms) == len(pairs), (
            "every terminal and every professional in a room of its own"
        )
        # Keep the list in room order, village then professional, as for the bare relay.
        by_room = {p.consultation_id: p for p in pros}
        self.ends = [e for v in villages for e in (v, by_room[v.consultation_id])]

    # -- measuring ---------------------------------------------------------------------------

    async def closed(self, window: int, warmup: float, seconds: float, pids: list[int]) -> Any:
        self.errors, self.error_samples = 0, []
        self.mode = "closed"
        for _ in range(window):
            for end in self.ends:
                await self.send(end)
        await asyncio.sleep(warmup)  # let the loop settle before counting
        result = await self.measure(seconds, pids)
        self.mode = "idle"
        result["undelivered"] = await self.drain()
        return result

    async def open(self, rate: float, warmup: float, seconds: float, pids: list[int]) -> Any:
        self.errors, self.error_samples = 0, []
        self.mode = "open"
        stop = asyncio.Event()
        sender = asyncio.create_task(self.paced(rate, stop))
        try:
            await asyncio.sleep(warmup)
            result = await self.measure(seconds, pids)
        finally:
            stop.set()
            await sender
        self.mode = "idle"
        result["undelivered"] = await self.drain()
        return result

    async def paced(self, rate: float, stop: asyncio.Event) -> None:
        """Send at `rate` in all, round robin over the websockets, whatever comes back: an
        open loop, so a slow relay is offered the same load and its queue shows in latency."""
        start = time.perf_counter()
        sent, n = 0, len(self.ends)
        turn = 0
        while not stop.is_set():
            due = int((time.perf_counter() - start) * rate)
            if self.closed_by_server >= n:
                return  # nobody left to send through
            while sent < due:
                # The websockets the server closed are skipped: the others carry the whole
                # offered rate.
                end = self.ends[turn % n]
                turn += 1
                if end.closed:
                    continue
                sent += 1
                window = self.window
                if window is not None:
                    # How late this send is against its schedule: the generator's own delay.
                    scheduled_us = (start + sent / rate) * 1e6
                    window.send_lags_us.append(int(time.perf_counter() * 1e6 - scheduled_us))
                await self.send(end)
            await asyncio.sleep(TICK_SECONDS)

    async def measure(self, seconds: float, pids: list[int]) -> dict[str, Any]:
        cpu_before = [cpu_seconds(p) for p in pids]
        own_before = own_cpu_seconds()
        busy_before, stolen_before = machine_cpu_seconds()
        closed_before = self.closed_by_server
        started = time.perf_counter()
        self.window = Window()
        await asyncio.sleep(seconds)
        window, self.window = self.window, None
        elapsed = time.perf_counter() - started
        busy, stolen = machine_cpu_seconds()
        return {
            "seconds": elapsed,
            "sent": window.sent,
            "received": window.received,
            "latencies_us": window.latencies_us,
            "send_lags_us": window.send_lags_us,
            "server_cpu": [
                (cpu_seconds(p) - before) / elapsed
                for p, before in zip(pids, cpu_before, strict=True)
            ],
            "generator_cpu": (own_cpu_seconds() - own_before) / elapsed,
            # Whatever else runs on the machine competes for the same cores: the report shows
            # how much of them it took.
            "machine_cpu": (busy - busy_before) / elapsed,
            "stolen_cpu": (stolen - stolen_before) / elapsed,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "closed_by_server": self.closed_by_server - closed_before,
            "open_sockets": sum(not end.closed for end in self.ends),
            # Sent but not yet received as the window closes: a relay that falls behind its
            # load shows a queue here, even when it delivers nearly all it is offered.
            "backlog": self.sent_total - self.received_total,
        }

    async def drain(self) -> int:
        """Wait for what is in flight; how many never arrived (then written off, so the next
        step starts even)."""
        last_count, last_change = self.received_total, time.perf_counter()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT):
                while self.received_total < self.sent_total:
                    await asyncio.sleep(0.01)  # polling a counter the readers bump
                    if self.received_total != last_count:
                        last_count, last_change = self.received_total, time.perf_counter()
                    elif time.perf_counter() - last_change > DRAIN_QUIET:
                        break
        lost = self.sent_total - self.received_total
        self.sent_total = self.received_total
        return lost

    async def close(self) -> None:
        for end in self.ends:
            end.closed = True  # ours: not counted as closed by the server
            await end.ws.close()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await self.http.close()


class Refused(RuntimeError):
    """The server answered a set-up message with an error."""

    def __init__(self, end: End, message: dict[str, Any]) -> None:
        super().__init__(f"{end.role}: server refused: {message}")
        self.code = str(message.get("code"))


async def expect(end: End, kind: str) -> dict[str, Any]:
    """The next control message of type `kind`, skipping others; an error raises Refused."""
    async with asyncio.timeout(SETUP_TIMEOUT):
        while True:
            message = await end.inbox.get()
            if message.get("type") == kind:
                return message
            if message.get("type") == "error":
                raise Refused(end, message)


async def accept_offer(pro: End) -> None:
    offer = await expect(pro, "consultation_offer")
    await pro.ws.send_str(dump(Accept(consultation_id=offer["consultation_id"])))
    joined = await expect(pro, "room_joined")
    pro.room(joined["consultation_id"])


async def bounded(limit: int, work: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run coroutines with at most `limit` at a time, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Coroutine[Any, Any, T]) -> T:
        async with gate:
            return await coro

    async with asyncio.timeout(SETUP_TIMEOUT):
        return list(await asyncio.gather(*(one(c) for c in work)))


async def serve_commands() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    load = Load()
    try:
        while line := await reader.readline():
            command = json.loads(line)
            kind = command["cmd"]
            reply: dict[str, Any]
            started = time.perf_counter()
            if kind == "connect_bare":
                await load.connect_bare(
                    command["village_url"], command["pro_url"], command["rooms"]
                )
                reply = {"connected": len(load.ends)}
            elif kind == "connect_lawroom":
                await load.connect_lawroom(
                    command["village_url"], command["pro_url"], command["pairs"]
                )
                reply = {"connected": len(load.ends), "sign_in_retries": load.sign_in_retries}
            elif kind == "closed":
                reply = await load.closed(
                    command["window"], command["warmup"], command["seconds"], command["pids"]
                )
            elif kind == "open":
                reply = await load.open(
                    command["rate"], command["warmup"], command["seconds"], command["pids"]
                )
            elif kind == "quit":
                break
            else:
                raise ValueError(f"unknown command {kind!r}")
            reply["took"] = time.perf_counter() - started
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    finally:
        await load.close()


def main() -> int:
    asyncio.run(serve_commands())
    return 0


if __name__ == "__main__":
    sys.exit(main())
