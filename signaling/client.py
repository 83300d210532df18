"""The client side of the protocol, for the Python clients: sign-in, inbox, resume.

Imports only the protocol module, so a terminal client does not drag in the server. Messages
sent while the websocket is down wait and go out after the resume; the server replays what this
client missed (it tracks the last `seq` it saw).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import aiohttp

from signaling.errors import ErrorCode
from signaling.messages import (
    MAX_FRAME_BYTES,
    Error,
    Hello,
    Resume,
    Resumed,
    Role,
    ServerMessage,
    Welcome,
    dump,
    parse_server,
)

log = logging.getLogger(__name__)

OutgoingMessage = Hello | Resume | object


class SignalingError(Exception):
    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


class SignalingClient:
    def __init__(
        self,
        url: str,
        role: Role,
        identity: str,
        token: str,
        *,
        auto_resume: bool = True,
    ) -> None:
        self.url = url
        self.role = role
        self.identity = identity
        self._token = token
        self.auto_resume = auto_resume
        self.inbox: asyncio.Queue[ServerMessage] = asyncio.Queue()
        self.welcome: Welcome | None = None
        self.last_seq = 0
        self.connected = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: list[str] = []
        self._closing = False
        self._next_id = 0
        self._resume_waiter: asyncio.Future[Resumed] | None = None

    async def connect(self) -> Welcome:
        """Open the websocket and sign in."""
        await self._open()
        await self._send_now(dump(Hello(role=self.role, identity=self.identity, token=self._token)))
        first = await self._first_reply()
        if not isinstance(first, Welcome):
            raise RuntimeError(f"expected welcome, got {first.type}")
        self.welcome = first
        self._start()
        return first

    async def resume(self) -> Resumed:
        """Reconnect with the resume token; the server replays what was missed."""
        if self.welcome is None:
            raise RuntimeError("resume needs a session: connect first")
        waiter: asyncio.Future[Resumed] = asyncio.get_running_loop().create_future()
        self._resume_waiter = waiter
        await self._open()
        await self._send_now(
            dump(Resume(resume_token=self.welcome.resume_token, last_seq=self.last_seq))
        )
        self._start()
        try:
            resumed = await asyncio.wait_for(waiter, 10)
        finally:
            self._resume_waiter = None
        for text in self._pending:
            await self._send_now(text)
        self._pending.clear()
        return resumed

    async def _open(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.url, max_msg_size=MAX_FRAME_BYTES, heartbeat=20)

    async def _first_reply(self) -> ServerMessage:
        assert self._ws is not None
        frame = await self._ws.receive(timeout=10)
        if frame.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"server closed during sign-in: {frame.type} {frame.data}")
        msg = parse_server(frame.data)
        if isinstance(msg, Error):
            raise SignalingError(msg)
        return msg

    def _start(self) -> None:
        self.connected.set()
        self._reader = asyncio.create_task(self._read(), name=f"signaling-{self.identity}")

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        async for frame in ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            msg = parse_server(frame.data)
            waiter = self._resume_waiter
            if waiter is not None and not waiter.done():
                # Replayed messages come first, then `resumed` (or an error refusing it).
                if isinstance(msg, Resumed):
                    waiter.set_result(msg)
                elif isinstance(msg, Error) and msg.code is ErrorCode.RESUME_FAILED:
                    waiter.set_exception(SignalingError(msg))
            if msg.seq is not None:
                if msg.seq <= self.last_seq:
                    continue  # a replay of something already seen
                self.last_seq = msg.seq
            await self.inbox.put(msg)
        self.connected.clear()
        if not self._closing and self.auto_resume and ws is self._ws:
            log.warning("signaling connection lost; resuming")
            await self._resume_with_backoff()

    async def _resume_with_backoff(self) -> None:
        delay = 0.2
        grace = self.welcome.grace_seconds if self.welcome else 30.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while not self._closing and loop.time() < deadline:
            try:
                await self.resume()
                return
            except (aiohttp.ClientError, ConnectionError, OSError, TimeoutError):
                await asyncio.sleep(delay)  # backoff before the next reconnect attempt
                delay = min(delay * 2, 5.0)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def send(self, message: object) -> None:
        """Send now, or after the resume if the websocket is down."""
        text = dump(message)  # type: ignore[arg-type]
        if not self.connected.is_set():
            self._pending.append(text)
            return
        await self._send_now(text)

    async def send_raw(self, text: str) -> None:
        """Exactly these bytes (for tests of what the server does with bad input)."""
        await self._send_now(text)

    async def _send_now(self, text: str) -> None:
        assert self._ws is not None
        await self._ws.send_str(text)

    async def recv(self, *types: str, timeout: float = 10.0) -> ServerMessage:
        """The next message (of one of `types`, skipping others)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.inbox.get()
                if not types or msg.type in types:
                    return msg

    async def drop(self) -> None:
        """Close the websocket without ending the session, as a network loss would."""
        auto, self.auto_resume = self.auto_resume, False
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self.auto_resume = auto

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._http is not None:
            await self._http.close()


def is_error(msg: ServerMessage, codes: Iterable[ErrorCode] = ()) -> bool:
    return isinstance(msg, Error) and (not codes or msg.code in set(codes))
