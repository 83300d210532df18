"""Queue statistics at /api/stats: live per queue, and the day's figures from the records."""

from __future__ import annotations

import pytest

from tests.conftest import RunningServer
from tests.web.conftest import MakeClient
from tests.wire import Wire

pytestmark = pytest.mark.timeout(60)


async def test_live_queues_and_the_days_figures(lawroom: RunningServer, web: MakeClient) -> None:
    # One answered after 30 s, one still waiting 90 s in another queue.
    lawyer = await Wire.signed_in(lawroom, "lawyer-1")
    answered = await Wire.signed_in(lawroom, "village-1")
    await answered.send({"type": "request_consultation", "topic": "labour", "language": "zh"})
    cid = (await answered.next_of("waiting"))["consultation_id"]
    lawroom.clock.advance(30)
    await lawyer.send({"type": "set_duty", "on_duty": True})
    await lawyer.next_of("consultation_offer")
    await lawyer.send({"type": "accept", "consultation_id": cid})
    await answered.next_of("room_joined")
    waiting = await Wire.signed_in(lawroom, "village-2")
    await waiting.send({"type": "request_consultation", "topic": "traffic", "language": "mn"})
    await waiting.next_of("waiting")
    lawroom.clock.advance(90)

    client = web(lawroom)
    assert (await client.get("/api/stats")).status == 401  # supervisors only
    assert (await client.sign_in("supervisor")).status == 303
    reply = await client.get("/api/stats?day=2026-01-01")
    assert reply.status == 200
    stats = reply.json()
    [queue] = stats["queues"]
    assert (queue["topic"], queue["language"], queue["waiting"]) == ("traffic", "mn", 1)
    assert (queue["longest_wait_seconds"], queue["longest_wait"]) == (90, "1 分 30 秒")
    day = stats["day"]
    assert (day["requested"], day["answered"], day["average_wait_seconds"]) == (2, 1, 30)
    assert day["service_level"] == 1.0  # answered within 60 s
    assert (await client.get("/api/stats?day=yesterday")).status == 400
    await client.close()
    for w in (lawyer, answered, waiting):
        await w.close()
