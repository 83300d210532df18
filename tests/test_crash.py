"""Nothing a user entered is lost when the server dies: kill -9 while notes are being typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.db import records
from server.db.engine import open_database
from tests.processes import serve


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = await ws.receive_json(timeout=10)
        if msg["type"] == kind:
            return msg


@pytest.mark.timeout(90)
async def test_kill_9_while_typing_keeps_every_acknowledged_save(tmp_path: Path) -> None:
    server = await serve(tmp_path)
    url = server.url
    texts = {n: "当事人陈述：" + "借款五万元，" * n for n in range(1, 41)}
    try:
        async with aiohttp.ClientSession() as http:
            lawyer = await http.ws_connect(url)
            await lawyer.send_json(
                {
                    "type": "hello",
                    "role": "lawyer",
                    "identity": "lawyer-1",
                    "token": "demo-lawyer-1",
                }
            )
            await lawyer.send_json({"type": "set_duty", "on_duty": True})
            village = await http.ws_connect(url)
            await village.send_json(
                {
                    "type": "hello",
                    "role": "village",
                    "identity": "village-1",
                    "token": "demo-village-1",
                }
            )
            await village.send_json(
                {"type": "request_consultation", "topic": "private_lending", "language": "zh"}
            )
            cid = (await next_of(lawyer, "consultation_offer"))["consultation_id"]
            await lawyer.send_json({"type": "accept", "consultation_id": cid})
            await next_of(lawyer, "room_joined")
            acknowledged = 0
            for n in range(1, 21):
                await lawyer.send_json(
                    {"type": "save_notes", "consultation_id": cid, "revision": n, "text": texts[n]}
                )
                assert (await next_of(lawyer, "saved"))["revision"] == n
                acknowledged = n
            # Still typing: these saves are in flight when the server dies.
            for n in range(21, 41):
                await lawyer.send_json(
                    {"type": "save_notes", "consultation_id": cid, "revision": n, "text": texts[n]}
                )
            await server.kill()  # SIGKILL
    finally:
        await server.kill()

    # After a restart the consultation is closed as interrupted, and the notes are all there.
    server = await serve(tmp_path, port=server.port)
    assert await server.stop() == 0
    db = await open_database("", tmp_path)
    try:
        [notes] = await records.latest_notes(db, cid)
        assert notes.revision >= acknowledged
        assert notes.text == texts[notes.revision]
        summary = (await records.list_consultations(db, records.ConsultationFilter()))[0]
        assert (summary.id, summary.end_reason) == (cid, "server_shutdown")
    finally:
        await db.close()
