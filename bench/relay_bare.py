"""The bare relay of the relay benchmark: an aiohttp websocket server that forwards each text
frame to the other member of its room, untouched, with nothing else (no parsing, sign-in,
validation, sequence numbers or replay). It is the yardstick `bench.relay` holds Lawroom to.

One process keeps both members of a room in a dict. With `--redis`, two processes share the
rooms: a frame whose recipient is not local is PUBLISHed, one command per frame, to the channel
of the process holding the recipient (looked up once per room in Redis and cached), and each
process's one pub/sub reader hands what it receives to its local websockets.

    python -m bench.relay_bare --port 8301 [--redis redis://127.0.0.1:6379/0 --name a]

Clients connect to `/ws?room=ROOM&side=village` (or `side=professional`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub

from signaling.messages import MAX_FRAME_BYTES
from signaling.state.redis import MAX_CONNECTIONS, POOL_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

SIDES = ("village", "professional")
OTHER_SIDE = {"village": "professional", "professional": "village"}
# Printed once the socket listens; `bench.relay` waits for it.
READY_LINE = "bare relay listening"
KEY_PREFIX = "bare:"


@dataclass(eq=False)
class Redistribution:
    """The Redis half: this process's channel, the pool commands go through, the reader."""

    redis: Redis
    pubsub: PubSub
    channel: str
    # (room, side) -> the channel of the process holding that websocket.
    where: dict[tuple[str, str], str] = field(default_factory=dict)

    def location_key(self, room: str, side: str) -> str:
        return f"{KEY_PREFIX}loc:{room}:{side}"

    async def register(self, room: str, side: str) -> None:
        await self.redis.set(self.location_key(room, side), self.channel)

    async def forward(self, room: str, side: str, text: str) -> None:
        channel = self.where.get((room, side))
        if channel is None:
            found = await self.redis.get(self.location_key(room, side))
            if found is None:
                return  # the recipient has not connected yet: dropped, as a bare relay would
            channel = self.where[(room, side)] = str(found)
        # The room and side ahead of the frame, so the reader needs no JSON to route it.
        await self.redis.publish(channel, f"{room}|{side}|{text}")


@dataclass(eq=False)
class Relay:
    sockets: dict[tuple[str, str], web.WebSocketResponse] = field(default_factory=dict)
    redis: Redistribution | None = None


RELAY_KEY = web.AppKey("relay", Relay)


async def websocket(request: web.Request) -> web.StreamResponse:
    room, side = request.query.get("room", ""), request.query.get("side", "")
    if not room or side not in SIDES:
        raise web.HTTPBadRequest(text="connect to /ws?room=ROOM&side=village|professional")
    relay = request.app[RELAY_KEY]
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    relay.sockets[(room, side)] = ws
    if relay.redis is not None:
        await relay.redis.register(room, side)
    to = (room, OTHER_SIDE[side])
    try:
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            peer = relay.sockets.get(to)
            if peer is not None:
                # The recipient may be closing; its own handler cleans up.
                with contextlib.suppress(ConnectionError):
                    await peer.send_str(frame.data)
            elif relay.redis is not None:
                await relay.redis.forward(*to, frame.data)
    finally:
        if relay.sockets.get((room, side)) is ws:
            del relay.sockets[(room, side)]
    return ws


async def read_pubsub(relay: Relay, pubsub: PubSub) -> None:
    """Hand published frames to local websockets. One failing socket must not stop the
    reader: it is the only path into this process for every remote sender."""
    while True:
        message = await pubsub.get_message(timeout=None)
        if message is None or message["type"] != "message":
            continue
        room, side, text = message["data"].split("|", 2)
        ws = relay.sockets.get((room, side))
        if ws is None:
            continue
        try:
            await ws.send_str(text)
        except Exception:
            log.exception("room=%s side=%s: send failed", room, side)


def redis_context(url: str, name: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """cleanup_ctx: the pool, the subscription (confirmed before the socket listens), the
    reader task."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        # A blocking pool of Lawroom's size: redis-py's default asyncio pool raises past its
        # cap under a burst (WEBRTC_NOTES.md), and the same cap keeps the comparison fair.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        client = Redis.from_pool(pool)
        pubsub = client.pubsub()
        channel = f"{KEY_PREFIX}instance:{name}"
        await pubsub.subscribe(channel)
        async with asyncio.timeout(5):
            while True:
                message = await pubsub.get_message(timeout=5)
                if message is not None and message["type"] == "subscribe":
                    break
        relay = app[RELAY_KEY]
        relay.redis = Redistribution(client, pubsub, channel)
        reader = asyncio.create_task(read_pubsub(relay, pubsub), name="bare-reader")
        yield
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
        await client.aclose()

    return ctx


async def close_sockets(app: web.Application) -> None:
    for ws in list(app[RELAY_KEY].sockets.values()):
        await ws.close()


def init_app(redis_url: str, name: str) -> web.Application:
    app = web.Application()
    app[RELAY_KEY] = Relay()
    app.router.add_get("/ws", websocket)
    if redis_url:
        app.cleanup_ctx.append(redis_context(redis_url, name))
    app.on_shutdown.append(close_sockets)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.relay_bare", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis", default="", help="Redis URL: relay between processes through it")
    p.add_argument("--name", default="a", help="this process's channel name (with --redis)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    web.run_app(
        init_app(args.redis, args.name),
        host="127.0.0.1",
        port=args.port,
        print=lambda _: print(f"{READY_LINE} on 127.0.0.1:{args.port}", flush=True),
        access_log=None,
        shutdown_timeout=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
