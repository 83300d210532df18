"""A reloaded page resumes on a new websocket while its old one is still being closed: whatever
order the two handlers' steps take in Redis, the session ends up connected, with no grace period
running out on it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.authz import message_permissions
from signaling.clock import SystemClock
from signaling.hub import Hub, HubSettings
from signaling.identity import DemoAccount, Identity, StaticDirectory
from signaling.messages import Hello, Resume, Role, ServerMessage, Welcome
from signaling.state import Sink
from signaling.state.redis import RedisState

pytestmark = pytest.mark.timeout(60)

LAWYER = DemoAccount(Identity(Role.LAWYER, "lawyer-1", "王律师"), "token-1")
# Each round is one interleaving of the two handlers (Redis round trips decide the order).
ROUNDS = 25


class Socket:
    """The hub's view of a websocket; what it is told is kept."""

    def __init__(self, name: str) -> None:
        self.connection_id = name
        self.finished = asyncio.Event()
        self.replies: list[ServerMessage] = []
        self._sink: Sink = self._deliver

    def reply(self, message: ServerMessage) -> None:
        self.replies.append(message)

    @property
    def sink(self) -> Sink:
        return self._sink

    async def _deliver(self, seq: int, text: str) -> None:
        return None

    async def close(self, code: int, reason: str) -> None:
        self.finished.set()

    def close_after_flush(self, code: int, reason: str) -> None:
        self.finished.set()


async def test_a_resume_racing_the_old_sockets_close_leaves_the_session_connected(
    redis_url: str,
) -> None:
    state = RedisState.from_url(redis_url, prefix=f"race:{uuid.uuid4().hex}:")
    hub = Hub(
        state,
        SystemClock(),
        StaticDirectory((LAWYER,)),
        HubSettings(),
        message_permissions(),
    )
    try:
        old = Socket("w_old")
        session = await hub.hello(
            old, Hello(role=Role.LAWYER, identity="lawyer-1", token=LAWYER.token)
        )
        welcome = old.replies[-1]
        assert isinstance(welcome, Welcome)
        for n in range(ROUNDS):
            new = Socket(f"w_{n}")
            await asyncio.gather(
                hub.disconnected(old, session.session_id),
                hub.resume(new, Resume(resume_token=welcome.resume_token, last_seq=0)),
            )
            await hub.drain()
            current = await state.get_session(session.session_id)
            assert current is not None and current.connected, f"round {n}: {current}"
            assert await state.next_timer_due() is None, f"round {n}: a grace period runs"
            old = new
    finally:
        await hub.drain()
        await state.close()
