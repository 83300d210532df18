"""Sending a server message to a session, wherever its websocket is, with a replayable seq."""

from __future__ import annotations

from signaling.messages import ServerMessage, dump
from signaling.state.base import SharedState


async def send(state: SharedState, session_id: str, message: ServerMessage) -> None:
    await state.deliver(session_id, lambda seq: dump(message.model_copy(update={"seq": seq})))
