"""One websocket: Origin check, sign-in phase, rate limit, validation, and one writer task.

Every problem with a message is answered with an `error` reply and changes nothing; only a
frame above the transport limit (1009), a slow reader (1013) or a missed hello (1008) closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from signaling.errors import ErrorCode, ProtocolError, error_for
from signaling.hub import Hub, handle
from signaling.identity import Identity
from signaling.messages import (
    MAX_FRAME_BYTES,
    Error,
    Hello,
    Ping,
    Pong,
    Resume,
    ServerMessage,
    dump,
    message_ref,
    parse_client,
)
from signaling.ratelimit import TokenBucket
from signaling.state.base import SessionRecord, Sink

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    hello_timeout: float = 10.0
    heartbeat: float = 20.0
    send_queue: int = 256
    rate_per_second: float = 20.0
    rate_burst: int = 40
    # Origins a browser may connect from besides the server's own; "*" allows any.
    allowed_origins: tuple[str, ...] = ()
    # Tests of the pages: a message that fails the schema closes the socket (4002), so a page
    # that drifts from the protocol fails loudly; the violation is kept in `Hub.violations`.
    strict: bool = False


# Codes meaning "this message does not validate against the schema".
SCHEMA_ERRORS = frozenset(
    {
        ErrorCode.INVALID_JSON,
        ErrorCode.INVALID_FORMAT,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.MESSAGE_TOO_LARGE,
    }
)


@dataclass(frozen=True, slots=True)
class _CloseAfterFlush:
    code: int
    reason: str


# Who the websocket's upgrade request says is signed in (the page's session cookie), if anyone.
RequestIdentity = Callable[[web.Request], Awaitable[Identity | None]]


class Connection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        hub: Hub,
        settings: ConnectionSettings,
        signed_in: Identity | None = None,
    ) -> None:
        self._signed_in_as = signed_in
        self.connection_id = "w_" + secrets.token_urlsafe(8)
        self._ws = ws
        self._hub = hub
        self._settings = settings
        self._queue: asyncio.Queue[str | _CloseAfterFlush | None] = asyncio.Queue(
            settings.send_queue
        )
        self._bucket = TokenBucket(hub.clock, settings.rate_per_second, settings.rate_burst)
        self._signed_in = asyncio.Event()
        # Set once the handler has finished, its bookkeeping handed to the hub.
        self.finished = asyncio.Event()
        self.session: SessionRecord | None = None
        self._sink: Sink = self._deliver

    @property
    def sink(self) -> Sink:
        return self._sink

    def reply(self, message: ServerMessage) -> None:
        self._enqueue(dump(message))

    async def _deliver(self, seq: int, text: str) -> None:
        self._enqueue(text)

    def _enqueue(self, text: str) -> None:
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            # A reader this far behind would stall everyone's delivery: cut it loose; it can
            # resume and have its messages replayed.
            log.warning("conn=%s send queue full; closing", self.connection_id)
            asyncio.get_running_loop().create_task(
                self.close(WSCloseCode.TRY_AGAIN_LATER, "too slow")
            )

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code=code, message=reason.encode())

    def close_after_flush(self, code: int, reason: str) -> None:
        """Close once everything queued so far (an error saying why) has been sent."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_CloseAfterFlush(code, reason))

    async def _writer(self) -> None:
        while (item := await self._queue.get()) is not None:
            if self._ws.closed:
                return
            if isinstance(item, _CloseAfterFlush):
                await self.close(item.code, item.reason)
                return
            try:
                await self._ws.send_str(item)
            except ConnectionError:
                return

    async def _hello_deadline(self) -> None:
        deadline = self._hub.clock.now() + self._settings.hello_timeout
        await self._hub.clock.sleep_until(deadline, self._signed_in)
        if not self._signed_in.is_set():
            self.reply(Error(code=ErrorCode.HELLO_TIMEOUT, message="no hello in time"))
            self.close_after_flush(WSCloseCode.POLICY_VIOLATION, "no hello in time")

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        watchdog = asyncio.create_task(self._hello_deadline())
        log.info("conn=%s open", self.connection_id)
        try:
            async for frame in self._ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_text(frame.data)
                elif frame.type is WSMsgType.BINARY:
                    self.reply(
                        Error(code=ErrorCode.INVALID_FORMAT, message="send JSON text frames")
                    )
        finally:
            watchdog.cancel()
            writer.cancel()
            if self.session is not None:
                # aiohttp may cancel this handler when the peer goes; the hub's bookkeeping
                # (telling the other side, the grace timer, the record) must finish regardless.
                self._hub.spawn(self._hub.disconnected(self, self.session.session_id))
            self.finished.set()
            log.info("conn=%s closed (code %s)", self.connection_id, self._ws.close_code)

    async def _on_text(self, raw: str) -> None:
        ref: int | None = None
        try:
            if not self._bucket.take():
                raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages; slow down")
            ref = message_ref(raw)
            msg = parse_client(raw)
            ref = msg.id
            if isinstance(msg, Ping):
                self.reply(Pong(ref=msg.id))
            elif isinstance(msg, Hello | Resume):
                if self.session is not None:
                    raise ProtocolError(ErrorCode.ALREADY_AUTHENTICATED, "already signed in")
                if isinstance(msg, Hello):
                    self.session = await self._hub.hello(self, msg, self._signed_in_as)
                else:
                    self.session = await self._hub.resume(self, msg)
                self._signed_in.set()
            elif self.session is None:
                raise ProtocolError(
                    ErrorCode.NOT_AUTHENTICATED, f"sign in (hello) before {msg.type}"
                )
            else:
                await handle(self._hub, self, self.session, msg)
        except Exception as exc:
            code, text = error_for(exc)
            if code is ErrorCode.INTERNAL_ERROR:
                log.exception("conn=%s failed on a message", self.connection_id)
            else:
                log.info("conn=%s refused: %s %s", self.connection_id, code, text)
            self.reply(Error(code=code, message=text, ref=ref))
            if code in SCHEMA_ERRORS:
                self._hub.violations.append(f"{self.connection_id} {code}: {text}")
                if self._settings.strict:
                    self.close_after_flush(4002, "message does not follow the protocol schema")


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin: it must be this server (or a configured origin). Non-browser
    clients send none and are authenticated by their hello alone."""
    origin = request.headers.get("Origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    return (
        parts.netloc == request.host
        and parts.scheme in ("http", "https")
        and (parts.scheme == ("https" if request.scheme == "https" else "http"))
    )


async def websocket_handler(
    request: web.Request,
    hub: Hub,
    settings: ConnectionSettings,
    request_identity: RequestIdentity | None = None,
) -> web.StreamResponse:
    if not origin_allowed(request, settings.allowed_origins):
        log.warning("refused websocket from origin %s", request.headers.get("Origin"))
        raise web.HTTPForbidden(text="origin not allowed")
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=settings.heartbeat)
    await ws.prepare(request)
    signed_in = await request_identity(request) if request_identity else None
    conn = Connection(ws, hub, settings, signed_in)
    await conn.run()
    return ws
