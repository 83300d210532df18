"""The `lawroom` command as a newcomer runs it: serve (and stop cleanly), and the demo."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest

from tests.processes import free_port


@pytest.mark.timeout(60)
async def test_serve_answers_and_shuts_down_cleanly(tmp_path: object) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--demo",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "LAWROOM_LOG_LEVEL": "INFO"},
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            while b"Lawroom on" not in await proc.stderr.readline():
                pass
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert (r.status, await r.json()) == (200, {"status": "ok"})
            async with http.get(f"http://127.0.0.1:{port}/protocol/schema.json") as r:
                assert "client_to_server" in await r.json()
            ws = await http.ws_connect(f"ws://127.0.0.1:{port}/ws")
            await ws.send_json(
                {
                    "type": "hello",
                    "role": "lawyer",
                    "identity": "lawyer-1",
                    "token": "demo-lawyer-1",
                }
            )
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
            proc.send_signal(signal.SIGTERM)
            # Clean shutdown closes every websocket with "going away".
            frame = await ws.receive(timeout=10)
            assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1001
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        rest = (await proc.stderr.read()).decode()
        assert "Traceback" not in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.timeout(90)
async def test_demo_runs_a_whole_consultation() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "demo",
        "--seconds",
        "1",
        "--size",
        "320x240",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 80)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()
    for line in ("paired", "first frame at the village", "first frame at the lawyer", "hung up"):
        assert line in text
    assert "waiting -> ringing -> joined -> negotiating -> connected -> ended" in text
    assert "demo passed" in text
