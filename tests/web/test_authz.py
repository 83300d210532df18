"""The authorization table is complete and every cell of it is enforced: each route for each kind
of requester, each message type for each role, and the finer rules the handlers keep (only
your own consultations)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from server.app import init_app
from server.authz import ANYONE, TABLE, Who, message_permissions, route_key
from server.db import accounts
from server.settings import load
from signaling.messages import CLIENT_TYPES, Role
from tests.conftest import RunningServer
from tests.web.conftest import MakeClient, Reply, WebClient, db_of, in_call
from tests.wire import Wire

CID = "c_nope"
PATH_VALUES = {"{consultation_id}": CID, "{username}": "nobody", "{identity}": "nobody"}

# One valid message of each type (what it is about does not exist: only who may send it counts).
SAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "role": "village", "identity": "village-2", "token": "wrong"},
    "resume": {"type": "resume", "resume_token": "nothing-to-resume", "last_seq": 0},
    "ping": {"type": "ping"},
    "request_consultation": {"type": "request_consultation", "topic": "labour", "language": "zh"},
    "cancel_request": {"type": "cancel_request", "consultation_id": CID},
    "leave_callback": {"type": "leave_callback", "consultation_id": CID},
    "set_duty": {"type": "set_duty", "on_duty": False},
    "accept": {"type": "accept", "consultation_id": CID},
    "decline": {"type": "decline", "consultation_id": CID},
    "hang_up": {"type": "hang_up", "consultation_id": CID},
    "sdp": {"type": "sdp", "consultation_id": CID, "sdp_type": "offer", "sdp": "v=0"},
    "ice_candidate": {"type": "ice_candidate", "consultation_id": CID, "candidate": ""},
    "save_notes": {"type": "save_notes", "consultation_id": CID, "revision": 1, "text": "x"},
    "set_outcome": {"type": "set_outcome", "consultation_id": CID, "outcome": "other"},
    "rate": {"type": "rate", "consultation_id": CID, "rating": 5},
}
ROLE_OF = {Who.VILLAGE: "village-1", Who.LAWYER: "lawyer-1", Who.MEDIATOR: "mediator-1"}


def _routes(tmp_path: Path) -> set[str]:
    # Built, not started: the router is complete once the factory returns.
    app = init_app(replace(load({}, env={}), demo=True, data_dir=tmp_path))
    return {
        route_key(r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None
    }


@pytest.mark.timeout(30)
def test_every_route_and_message_type_has_a_row(tmp_path: Path) -> None:
    routes = _routes(tmp_path)
    messages = {f"ws {t}" for t in CLIENT_TYPES}
    assert sorted(routes - TABLE.keys()) == [], "routes without a row in server/authz.py TABLE"
    assert sorted(messages - TABLE.keys()) == [], "message types without a row"
    assert sorted(TABLE.keys() - routes - messages) == [], "rows for routes or types that are gone"
    assert set(SAMPLES) == set(CLIENT_TYPES), "a new message type needs a sample here"
    # The hub gets exactly the message rows, as roles.
    assert set(message_permissions()) == set(CLIENT_TYPES)
    assert message_permissions()["accept"] == {Role.LAWYER, Role.MEDIATOR}
    assert message_permissions()["rate"] == {Role.VILLAGE}


def _path(key: str) -> tuple[str, str]:
    method, path = key.split(" ", 1)
    for name, value in PATH_VALUES.items():
        path = path.replace(name, value)
    if path == "/static":
        path = "/static/style.css"
    return method, path


def _denied(reply: Reply) -> str | None:
    """How the request was refused by the table, if it was."""
    if reply.status == 303 and reply.location.startswith("/login?next="):
        return "sign_in"
    if reply.status == 401 and reply.text.startswith("{"):
        return "sign_in" if reply.json().get("code") == "not_authenticated" else None
    if reply.status == 403 and reply.text.startswith("{"):
        return "forbidden" if reply.json().get("code") == "forbidden" else None
    if reply.status == 403 and "没有权限" in reply.text:
        return "forbidden"
    return None


async def _ask(client: WebClient, who: Who, key: str, csrf: str) -> Reply:
    method, path = _path(key)
    if method == "GET":
        return await client.get(path)
    if path.startswith("/api/"):
        return await client.post_json(path, {}, csrf=csrf)
    return await client.post(path, {}, csrf=csrf)


@pytest.mark.timeout(90)
async def test_every_http_cell_is_enforced(
    start_server: Any, web: MakeClient, tmp_path: Path
) -> None:
    server: RunningServer = await start_server()
    clients: dict[Who, WebClient] = {}
    for who in Who:
        if who is Who.VILLAGE:
            # A terminal on HTTP: its device token in the Authorization header (no cookie).
            client = web(server, {"Authorization": "Bearer village-1:demo-village-1"})
        else:
            client = web(server)
            if who is not Who.ANONYMOUS:
                username = ROLE_OF.get(who, "supervisor")
                assert (await client.sign_in(username)).status == 303
        clients[who] = client
    csrf = {who: "" if who is Who.VILLAGE else await c.csrf() for who, c in clients.items()}
    routes = sorted(k for k in TABLE if not k.startswith("ws ") and k in _routes(tmp_path))
    # Signing out last: it ends the session the other requests rely on.
    routes.sort(key=lambda k: k == "POST /logout")
    for key in routes:
        allowed = TABLE[key]
        for who, client in clients.items():
            reply = await _ask(client, who, key, csrf[who])
            denied = _denied(reply)
            where = f"{who} {key}: {reply.status} {reply.location} {reply.text[:120]!r}"
            if who in allowed:
                assert denied is None, where
            elif who is Who.ANONYMOUS:
                assert denied == "sign_in", where
            else:
                assert denied == "forbidden", where
    # Nothing any of that did reached what it named.
    assert await accounts.get_account(db_of(server), "nobody") is None


async def _replies(wire: Wire, message: dict[str, Any], ref: int) -> list[dict[str, Any]]:
    """What answered `message`: a ping right after it marks where the replies end."""
    await wire.send({**message, "id": ref})
    await wire.send({"type": "ping", "id": ref + 1})
    replies: list[dict[str, Any]] = []
    while True:
        got = await wire.next()
        if got.get("type") == "pong" and got.get("ref") == ref + 1:
            return replies
        if got.get("ref") == ref:
            replies.append(got)


async def _reply_to(wire: Wire, message: dict[str, Any], ref: int) -> dict[str, Any] | None:
    """The error about `message`, if any."""
    errors = [r for r in await _replies(wire, message, ref) if r["type"] == "error"]
    return errors[0] if errors else None


@pytest.mark.timeout(60)
async def test_every_message_cell_is_enforced(start_server: Any) -> None:
    server: RunningServer = await start_server()
    # Not signed in: only hello, resume and ping are heard.
    anonymous = await Wire.open(server)
    try:
        for n, (kind, message) in enumerate(SAMPLES.items()):
            error = await _reply_to(anonymous, message, 10 * n)
            code = error["code"] if error else None
            if TABLE[f"ws {kind}"] == ANYONE:
                assert code != "not_authenticated", kind
            else:
                assert code == "not_authenticated", (kind, error)
    finally:
        await anonymous.close()
    for who, identity in ROLE_OF.items():
        wire = await Wire.signed_in(server, identity)
        try:
            for n, (kind, message) in enumerate(SAMPLES.items()):
                error = await _reply_to(wire, message, 10 * n)
                code = error["code"] if error else None
                if who in TABLE[f"ws {kind}"]:
                    assert code != "forbidden", (who, kind, error)
                else:
                    assert code == "forbidden", (who, kind, error)
        finally:
            await wire.close()


@pytest.mark.timeout(60)
async def test_supervisors_do_not_talk_in_calls(start_server: Any, web: MakeClient) -> None:
    """A supervisor's session cookie signs no websocket in, as any role."""
    server: RunningServer = await start_server()
    client = web(server)
    await client.sign_in("supervisor")
    ws = await client.http.ws_connect(server.url)
    try:
        for role in ("lawyer", "mediator", "village"):
            await ws.send_str(json.dumps({"type": "hello", "role": role, "identity": "supervisor"}))
            reply = json.loads((await ws.receive(timeout=5)).data)
            assert reply["code"] == "bad_credentials", reply
    finally:
        await ws.close()


@pytest.mark.timeout(60)
async def test_nobody_joins_or_reads_a_room_they_are_not_in(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    village, lawyer, cid = await in_call(server)
    outsiders = [await Wire.signed_in(server, who) for who in ("lawyer-2", "mediator-1")]
    other_village = await Wire.signed_in(server, "village-2")
    try:
        for wire in outsiders:
            for kind in ("accept", "decline", "hang_up", "sdp", "save_notes", "set_outcome"):
                error = await _reply_to(wire, {**SAMPLES[kind], "consultation_id": cid}, 100)
                assert error is not None and error["code"] in ("not_found", "invalid_state"), (
                    kind,
                    error,
                )
        for kind in ("cancel_request", "hang_up", "sdp", "rate"):
            error = await _reply_to(other_village, {**SAMPLES[kind], "consultation_id": cid}, 200)
            assert error is not None and error["code"] in ("not_found", "forbidden"), (kind, error)
        # The room's own professional writes its record.
        (saved,) = await _replies(lawyer, {**SAMPLES["save_notes"], "consultation_id": cid}, 300)
        assert (saved["type"], saved["what"], saved["status"]) == ("saved", "notes", "saved")

        # Over HTTP: a professional reads only their own notes and their own history.
        clients = {name: web(server) for name in ("lawyer-1", "lawyer-2", "mediator-1")}
        for name, client in clients.items():
            await client.sign_in(name)
        notes_path = f"/api/my/consultations/{cid}/notes"
        mine = await clients["lawyer-1"].get(notes_path)
        assert mine.status == 200 and mine.json()["text"] == "x"
        for name in ("lawyer-2", "mediator-1"):
            theirs = await clients[name].get(notes_path)
            assert theirs.status == 404 and theirs.json()["code"] == "not_found"
            assert cid not in (await clients[name].get("/lawyer/history")).text
            assert (await clients[name].get(f"/supervisor/consultations/{cid}")).status == 403
        assert cid in (await clients["lawyer-1"].get("/lawyer/history")).text
    finally:
        for wire in (village, lawyer, other_village, *outsiders):
            await wire.close()


@pytest.mark.timeout(60)
async def test_only_supervisors_manage_accounts_and_terminals(
    start_server: Any, web: MakeClient
) -> None:
    server: RunningServer = await start_server()
    db = db_of(server)
    terminal = web(server, {"Authorization": "Bearer village-1:demo-village-1"})
    lawyer = web(server)
    await lawyer.sign_in("lawyer-1")
    attempts = [
        ("/supervisor/terminals/village-2/revoke", {}),
        ("/supervisor/accounts/lawyer-2/disable", {}),
        (
            "/supervisor/accounts",
            {
                "username": "mallory",
                "display_name": "M",
                "role": "supervisor",
                "password": "0123456789abc",
            },
        ),
        ("/supervisor/terminals", {"identity": "village-9", "village": "X"}),
    ]
    for path, form in attempts:
        assert (await terminal.post(path, form, csrf="")).status == 403
        assert (await lawyer.post(path, form)).status == 403
    assert (await accounts.get_terminal(db, "village-2")).active  # type: ignore[union-attr]
    assert not (await accounts.get_account(db, "lawyer-2")).disabled  # type: ignore[union-attr]
    assert await accounts.get_account(db, "mallory") is None
    assert await accounts.get_terminal(db, "village-9") is None
    # A bad bearer token is nobody: sent to sign in, not let in.
    stranger = web(server, {"Authorization": "Bearer village-1:wrong"})
    reply = await stranger.get("/supervisor/terminals")
    assert reply.status == 303 and reply.location.startswith("/login?next=")
